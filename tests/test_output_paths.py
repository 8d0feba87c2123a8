"""Every output path is checked before any work: not an input, not another output, writable, not a folder, not
under a file, never the current folder; a full disk ends with one line and nothing partial under the final name.

Each bad case: the exit code, one line on stderr with no traceback, and the folder exactly as it was."""

import errno
import os
from pathlib import Path

import cv2
import pytest
from edge_testkit import no_face_frame, one_line_error, write_no_face_frames

from edge import outputs
from edge.commands.dispatch import main
from edge.core import atomic
from edge.core.errors import UserError

MICRO = Path(__file__).resolve().parent.parent / "models" / "fer_micro_int8.tflite"


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder`` with its bytes and modification time: what 'nothing changed' means."""
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


def _run(model, source, *extra):
    return main(["run", str(model), "--source", str(source), "--headless", "--max-frames", "2", *extra])


#: export-mobile's checks run before the stage loads: these need its extra installed, but are fast
MOBILE = pytest.mark.requires("tensorflow", "tf_keras", "ai_edge_litert", "flatbuffers")


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


def test_jsonl_pointing_at_a_folder(int8_model, frames, tmp_path, capsys):
    folder = tmp_path / "logs"
    folder.mkdir()
    assert _run(int8_model, frames, "--jsonl", str(folder)) == 2
    one_line_error(capsys, f"--jsonl {folder}: is a folder (expected a file name")
    assert list(folder.iterdir()) == []


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


@MOBILE
@pytest.mark.parametrize("name", ["../../x", "sub/x", "..", "/tmp/x"])
def test_export_mobile_name_must_be_a_plain_file_name(tmp_path, name, capsys):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    assert main(["export-mobile", str(MICRO), "--out-dir", str(work / "out"), "--name", name]) == 2
    one_line_error(capsys, f"--name {name!r}: expected a plain file name")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@MOBILE
def test_export_mobile_out_an_existing_file_even_with_force(tmp_path, capsys):
    target = tmp_path / "app_model"
    target.write_text("mine\n")
    assert main(["export-mobile", str(MICRO), "--out-dir", str(target), "--force"]) == 2
    one_line_error(capsys, f"--out-dir {target}: is a file (expected a folder")
    assert target.read_text() == "mine\n" and [p.name for p in tmp_path.iterdir()] == ["app_model"]


@MOBILE
def test_export_mobile_out_inside_an_unwritable_folder(tmp_path, monkeypatch, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: make the permission check see what a user would
        real_access = os.access
        monkeypatch.setattr("edge.core.paths.os.access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    try:
        assert main(["export-mobile", str(MICRO), "--out-dir", str(locked / "sub" / "app")]) == 2
        one_line_error(capsys, f"--out-dir {locked / 'sub' / 'app'}: cannot write in {locked}")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


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
