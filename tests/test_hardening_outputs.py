"""Issue 30: the live view trusts nothing by default (Host, Origin, Sec-Fetch-Site, a POSTed key with the
page's secret, a real IPv6 listener); every output path is checked before any work (not an input, not another
output, writable, not a folder, not under a file); a full disk ends with one line and nothing partial under the
final name; run names are plain and --force replaces only a run; collected faces never replace each other.

Each bad case: the exit code, one line on stderr with no traceback, and the folder exactly as it was."""

import errno
import http.client
import os
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.core import atomic
from edge import collect, outputs
from edge.commands.dispatch import main
from edge.core.errors import UserError
from edge.live.server import KEY_HEADER, LiveServer
from edge_testkit import no_face_frame, one_line_error, write_no_face_frames


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.fixture
def frames(tmp_path):
    return write_no_face_frames(tmp_path / "frames", 3)


@pytest.fixture
def video(tmp_path):
    path = tmp_path / "in.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (160, 120))
    for i in range(6):
        writer.write(no_face_frame(i, 160, 120))
    writer.release()
    return path


# --- the live view


@pytest.fixture
def live():
    server = LiveServer("127.0.0.1", 0).start()
    yield server
    server.close()


def request(live, method, path, headers=(), body=None):
    host, port = live.address
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_only_the_bound_host_names_are_answered(live):
    port = live.address[1]
    assert request(live, "GET", "/predictions.json", {"Host": "evil.example"})[0] == 403
    assert request(live, "GET", "/snapshot.json", {"Host": "evil.example"})[0] == 403
    assert request(live, "GET", "/predictions.json", {"Host": f"evil.example:{port}"})[0] == 403
    assert request(live, "GET", "/", {"Host": "127.0.0.1:1"})[0] == 403, "another port is another origin"
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
        assert request(live, "GET", "/predictions.json", {"Host": host})[0] == 200, host
        assert request(live, "GET", "/snapshot.json", {"Host": host})[0] == 200, host


def test_a_key_is_a_post_with_the_pages_secret_from_the_page_itself(live):
    port = live.address[1]
    page = request(live, "GET", "/")[1]
    assert live.key_secret.encode() in page and b"@KEY_SECRET@" not in page
    own = {KEY_HEADER: live.key_secret, "Content-Type": "application/x-www-form-urlencoded"}
    refused = [
        ("GET", "/key?k=4", {}),
        ("POST", "/key", {k: v for k, v in own.items() if k != KEY_HEADER}),
        ("POST", "/key", {**own, KEY_HEADER: "guess"}),
        ("POST", "/key", {**own, "Origin": "http://evil.example"}),
        ("POST", "/key", {**own, "Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}),
        ("POST", "/key", {**own, "Sec-Fetch-Site": "cross-site"}),
        ("POST", "/key", {**own, "Sec-Fetch-Site": "same-site"}),
        ("POST", "/key", {**own, "Host": "evil.example"}),
        ("POST", "/key", {**own, "Content-Length": "x3"}),
    ]
    for method, path, headers in refused:
        assert request(live, method, path, headers, b"k=4")[0] in (403, 405, 413), (method, headers)
    assert live.take_keys() == [], "no refused request changed the session"
    assert request(live, "POST", "/key", {**own, "Origin": f"http://127.0.0.1:{port}",
                                          "Sec-Fetch-Site": "same-origin"}, b"k=4")[0] == 204
    assert live.take_keys() == ["4"]


def test_the_network_token_is_still_required_for_a_key():
    live = LiveServer("127.0.0.1", 0, token="s3cret-token").start()
    try:
        headers = {KEY_HEADER: live.key_secret}
        assert request(live, "POST", "/key", headers, b"k=4")[0] == 403
        assert request(live, "POST", "/key?token=s3cret-token", headers, b"k=4")[0] == 204
        assert live.take_keys() == ["4"]
    finally:
        live.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_serve_on_ipv6_loopback_really_listens_there():
    live = LiveServer("[::1]", 0).start()
    try:
        port = live.address[1]
        assert live.url == f"http://[::1]:{port}/"
        conn = http.client.HTTPConnection("::1", port, timeout=5)
        conn.request("GET", "/predictions.json")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        live.close()


def test_serve_on_an_address_that_is_not_here_says_so(int8_model, frames, capsys):
    assert main(["run", str(int8_model), "--source", str(frames), "--serve", "[::2]:0", "--listen-network"]) == 2
    one_line_error(capsys, "--serve [::2]:0: cannot listen there", "Pick another HOST:PORT")


# --- every output checked before any work


def _run(model, source, *extra):
    return main(["run", str(model), "--source", str(source), "--headless", "--max-frames", "2", *extra])


@pytest.mark.parametrize("args, message", [
    (["--out", "{in}"], "--out {in}: is also the input --source"),
    (["--out", "a.mp4", "--jsonl", "a.config.json"], "--out's config a.config.json: is also --jsonl"),
    (["--jsonl", "b.png", "--summary", "b.png"], "--summary b.png: is also --jsonl"),
    (["--out", "same.mp4", "--jsonl", "same.mp4"], "--jsonl same.mp4: is also --out"),
    (["--jsonl", "link.jsonl"], "--jsonl link.jsonl: is also the input --source"),
    (["--jsonl", "{model}"], "is also the model"),
    (["--jsonl", "{spec}"], "is also the model's spec"),
    (["--out", "file.txt/x.mp4"], "file.txt is a file, not a folder"),
    (["--summary", "file.txt/s.png"], "file.txt is a file, not a folder"),
    (["--out", "folder.mp4"], "--out folder.mp4: is a folder"),
    (["--summary", "folder.png"], "--summary folder.png: is a folder"),
    (["--jsonl", "/dev/full"], "--jsonl /dev/full: is not a regular file"),
])
def test_run_refuses_a_bad_output_before_any_work(int8_model, video, tmp_path, monkeypatch, args, message, capsys):
    import shutil

    model = tmp_path / "m" / int8_model.name
    model.parent.mkdir()
    shutil.copy(int8_model, model)
    shutil.copy(int8_model.with_name(int8_model.stem + ".spec.json"), model.with_name(model.stem + ".spec.json"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("keep me\n")
    (tmp_path / "folder.mp4").mkdir()
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "link.jsonl").symlink_to(video)
    fill = {"{in}": str(video), "{model}": str(model), "{spec}": str(model.with_name(model.stem + ".spec.json"))}
    args = [fill.get(a, a) for a in args]
    before = snapshot(tmp_path)
    import edge.loop

    monkeypatch.setattr(edge.loop, "load_classifier", lambda *a: pytest.fail("work started before the check"))
    assert _run(model, video, *args) == 2
    one_line_error(capsys, message.replace("{in}", str(video)))
    assert snapshot(tmp_path) == before


def test_bench_and_evaluate_json_are_checked_before_any_work(int8_model, video, tmp_path, monkeypatch, capsys):
    import edge.loop

    (tmp_path / "file.txt").write_text("x")
    monkeypatch.setattr(edge.loop, "load_classifier", lambda *a: pytest.fail("work started before the check"))
    before = snapshot(tmp_path)
    assert main(["bench", str(video), "--json", str(tmp_path / "file.txt" / "b.json")]) == 2
    one_line_error(capsys, "--json", "file.txt is a file, not a folder")
    assert main(["bench", str(video), "--json", str(video)]) == 2
    one_line_error(capsys, "is also the input --source")
    assert snapshot(tmp_path) == before


@pytest.mark.requires("sklearn")
@pytest.mark.parametrize("target, message", [("spec", "is also the model's spec"), ("folder", "is a folder"),
                                             ("file.txt/x.json", "file.txt is a file, not a folder")])
def test_evaluate_json_is_checked_before_the_evaluation(int8_model, tmp_path, target, message, capsys):
    import train.scoring

    spec = int8_model.with_name(int8_model.stem + ".spec.json")
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "data").mkdir()
    out = spec if target == "spec" else tmp_path / target
    before, spec_before = snapshot(tmp_path), spec.read_bytes()
    assert main(["evaluate", str(int8_model), "--data", str(tmp_path / "data"), "--json", str(out)]) == 2
    one_line_error(capsys, f"--json {out}: " if target != "file.txt/x.json" else "--json", message)
    assert snapshot(tmp_path) == before and spec.read_bytes() == spec_before
    assert train.scoring  # imported only to show the stage is installed


@pytest.mark.requires("sklearn")
def test_evaluate_a_folder_and_its_label_file_is_the_same_data(int8_model, tmp_path, capsys):
    ds = tmp_path / "ds" / "expw"
    ds.mkdir(parents=True)
    (ds / "label.lst").write_text("")
    assert main(["evaluate", str(int8_model), "--data", str(ds), "--data", str(ds / "label.lst")]) == 2
    one_line_error(capsys, "given twice", "count every face twice")


def test_collect_out_under_a_file_or_with_a_class_that_is_a_file(int8_model, video, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "faces").mkdir()
    (tmp_path / "faces" / "happy").write_text("not a folder")
    before = snapshot(tmp_path)
    base = ["collect", "--source", str(video), "--model", str(int8_model), "--label", "happy"]
    assert main(base + ["--out-dir", str(tmp_path / "file.txt" / "sub")]) == 2
    one_line_error(capsys, "file.txt is a file, not a folder")
    assert main(base + ["--out-dir", str(tmp_path / "faces")]) == 2
    one_line_error(capsys, "happy is a file, not a folder")
    assert main(base + ["--out-dir", str(video)]) == 2
    one_line_error(capsys, "exists and is not a folder")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("flag", ["--min-sharpness", "--min-change"])
def test_collect_refuses_nan_filters(int8_model, video, tmp_path, flag, capsys):
    assert main(["collect", "--source", str(video), "--model", str(int8_model), "--label", "happy",
                 "--out-dir", str(tmp_path / "faces"), flag, "nan"]) == 2
    one_line_error(capsys, f"{flag} nan: expected a number >= 0")
    assert not (tmp_path / "faces").exists()


@pytest.mark.parametrize("args, message", [(["--max-frames", "1", "--detect-every", "0"], "--detect-every 0:"),
                                           (["--camera-timeout", "nan"], "--camera-timeout nan:")])
def test_messages_name_the_flags(int8_model, frames, args, message, capsys):
    assert _run(int8_model, frames, *args) == 2
    err = one_line_error(capsys, message)
    assert "detect_every" not in err and "camera timeout" not in err


def test_two_collects_never_replace_each_others_faces(tmp_path):
    from edge.core.spec import DEFAULT_SPEC

    options = collect.CollectOptions(tmp_path, "happy")
    first, second = collect.Collector(options, DEFAULT_SPEC), collect.Collector(options, DEFAULT_SPEC)
    assert first.session != second.session, "two sessions started in the same second get different names"
    second.session = first.session  # the worst case: the same name anyway
    (tmp_path / "happy").mkdir()
    taken = tmp_path / "happy" / f"{first.session}_00000.png"
    taken.write_bytes(b"an earlier face")
    paths = [c._save("happy", f"face {i}".encode()) for i, c in enumerate((first, second, first))]
    assert len(set(paths)) == 3 and taken not in paths
    assert taken.read_bytes() == b"an earlier face"
    assert sorted(p.read_bytes() for p in paths) == [b"face 0", b"face 1", b"face 2"]
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


# --- a full disk


class _FullDiskWriter:
    """What OpenCV's writer does when the disk fills: accepts every frame and leaves an unplayable file."""

    def __init__(self, path, *args):
        self.path = path

    def isOpened(self):  # noqa: N802 (cv2's naming)
        return True

    def write(self, image):
        pass

    def release(self):
        Path(self.path).write_bytes(b"\0" * 65536)


def test_a_full_disk_while_recording_leaves_no_video_and_no_config(int8_model, frames, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(outputs.cv2, "VideoWriter", _FullDiskWriter)
    out = tmp_path / "out" / "v.mp4"
    out.parent.mkdir()
    assert _run(int8_model, frames, "--out", str(out)) == 1
    one_line_error(capsys, f"--out {out}: the video could not be written completely", "disk full")
    assert list(out.parent.iterdir()) == [], "no unplayable video, no temporary file, no config"


def test_a_full_disk_while_writing_json_lines_keeps_only_complete_lines(int8_model, frames, tmp_path, monkeypatch,
                                                                          capsys):
    real_open = open

    class Full:
        def __init__(self, f):
            self.f, self.lines = f, 0

        def write(self, text):
            self.lines += 1
            if self.lines > 1:
                self.f.write(text[:5])
                self.f.flush()
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.f.write(text)

        def __getattr__(self, name):
            return getattr(self.f, name)

    monkeypatch.setattr(outputs, "open", lambda *a, **k: Full(real_open(*a, **k)), raising=False)
    out = tmp_path / "p.jsonl"
    assert _run(int8_model, frames, "--jsonl", str(out)) == 1
    one_line_error(capsys, f"--jsonl {out}: cannot write it (No space left on device)")
    lines = out.read_text().splitlines(keepends=True)
    assert len(lines) == 1 and lines[0].endswith("\n")
    assert not (tmp_path / "p.config.json").exists()


def test_a_full_disk_anywhere_else_is_one_line(int8_model, frames, tmp_path, monkeypatch, capsys):
    real = Path.write_bytes

    def full(self, data):
        if self.name.endswith(".tmp.json"):
            real(self, data[:10])
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    assert _run(int8_model, frames, "--jsonl", str(tmp_path / "p.jsonl")) == 1
    one_line_error(capsys, f"no space left on the device writing {tmp_path / 'p.config.json'} (No space left")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames", "p.jsonl"], "no config, no temporary file"


# --- run names, --force, output folders


@pytest.mark.requires("tensorflow", "tf_keras")
@pytest.mark.parametrize("name", ["../../victim", "/tmp/victim", "..", "a/b"])
def test_a_run_name_is_a_plain_name(tmp_path, name, capsys):
    before = snapshot(tmp_path)
    assert main(["train", "--runs-dir", str(tmp_path / "runs"), "--name", name, "--force", "--epochs", "1"]) == 2
    one_line_error(capsys, f"--name {name!r}: expected a plain name")
    assert snapshot(tmp_path) == before


@pytest.mark.requires("tensorflow", "tf_keras")
def test_force_replaces_only_a_run(tmp_path, capsys):
    thesis = tmp_path / "runs" / "mine" / "thesis.txt"
    thesis.parent.mkdir(parents=True)
    thesis.write_text("years of work\n")
    assert main(["train", "--runs-dir", str(tmp_path / "runs"), "--name", "mine", "--force", "--epochs", "1"]) == 2
    one_line_error(capsys, "is not a run", "--force replaces only a run")
    assert thesis.read_text() == "years of work\n"


@pytest.mark.requires("tensorflow", "tf_keras")
def test_a_failed_run_leaves_no_half_run_folder(tmp_path):
    from train.training_run import _clean_failed

    run = tmp_path / "run"
    (run / "checkpoints" / "ckpt-1_temp").mkdir(parents=True)
    (run / "train_config.json").write_text("{}")
    _clean_failed(run)
    assert not run.exists(), "no epoch completed: nothing to resume"
    (run / "checkpoints" / "ckpt-2_temp").mkdir(parents=True)
    (run / "checkpoints" / "state.json").write_text("{}")
    _clean_failed(run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["state.json"], "resumable; temp dirs gone"


def test_an_output_folder_that_is_the_current_empty_folder_is_filled_in_place(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with atomic.atomic_dir(".") as tmp:
        (tmp / "a.txt").write_text("a")
    assert [p.name for p in here.iterdir()] == ["a.txt"] and Path.cwd() == here


def test_the_current_folder_is_never_replaced(tmp_path, monkeypatch):
    from edge.core.paths import check_outputs

    (tmp_path / "mine.txt").write_text("keep")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="is \\(or holds\\) the current folder"):
        check_outputs(folders={"--out": "."}, replacing=True)
    with pytest.raises(UserError, match="holds the input --model"):
        check_outputs(inputs={"--model": "m/x.tflite"}, folders={"--out": "m"}, replacing=True)
    assert (tmp_path / "mine.txt").read_text() == "keep"


@pytest.mark.requires("flatbuffers", "tflite_micro")
def test_export_firmware_out_under_a_file(int8_model, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    before = snapshot(tmp_path)
    assert main(["export-firmware", str(int8_model), "--out-dir", str(tmp_path / "file.txt" / "sub")]) == 2
    one_line_error(capsys, "file.txt is a file, not a folder")
    assert snapshot(tmp_path) == before


@pytest.mark.requires("flatbuffers", "tflite_micro")
def test_export_firmware_out_dot_in_an_empty_folder_fills_it(int8_model, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export-firmware", str(int8_model), "--out-dir", "."]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "export.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary folder left"
    before = snapshot(tmp_path)
    assert main(["export-firmware", str(int8_model), "--out-dir", ".", "--force"]) == 2
    one_line_error(capsys, "--out-dir .: is (or holds) the current folder")
    assert snapshot(tmp_path) == before


@pytest.mark.requires("tensorflow", "tf_keras", "ai_edge_litert", "flatbuffers")
def test_export_mobile_out_dot_force_never_replaces_the_current_folder(int8_model, tmp_path, monkeypatch, capsys):
    (tmp_path / "mine.txt").write_text("keep")
    monkeypatch.chdir(tmp_path)
    assert main(["export-mobile", str(int8_model), "--out-dir", ".", "--force"]) == 2
    one_line_error(capsys, "--out-dir .: is (or holds) the current folder")
    assert (tmp_path / "mine.txt").read_text() == "keep"


def test_a_garbage_video_is_one_line_without_ffmpegs_chatter(int8_model, tmp_path, capfd):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0\0\0\x18ftypisom" + np.random.default_rng(0).bytes(5000))
    assert _run(int8_model, bad, "-q") == 2
    err = capfd.readouterr().err
    assert "moov atom" not in err and "Traceback" not in err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"fer-edge run: error: {bad}: not a readable video (OpenCV could not open it)"]


@pytest.mark.requires("tensorflow", "flatbuffers")
@pytest.mark.parametrize("size", [100, 1000, 20000])
def test_export_mobile_on_a_truncated_model_says_what_is_wrong(int8_model, size):
    from edge.core.spec import load_spec_for
    from mobile_export.model import for_apps

    with pytest.raises(UserError) as e:
        for_apps(int8_model.read_bytes()[:size], load_spec_for(int8_model), what="cut_int8.tflite")
    message = str(e.value)
    assert message.startswith("cut_int8.tflite: not a readable TFLite model") and "(error)" not in message
    assert "truncated or corrupt" in message and "\n" not in message


@pytest.mark.requires("tensorflow", "tf_keras")
def test_the_expw_margin_message_names_a_flag(tmp_path, capsys):
    assert main(["train", "--runs-dir", str(tmp_path / "runs"), "--expw-margin", "5"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "spec framing margin" not in err
    assert err.splitlines()[-1].endswith("(--framing-margin) must be in -0.25..2, got 5.0")
    assert not (tmp_path / "runs").exists()
