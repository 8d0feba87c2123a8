"""``fer-edge collect``: face crops framed as the model sees them, written into the image-folder layout,
labelled by --label or keys, filtered (blur, near-duplicates, --every, --max), atomic, and kept on Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from edge_testkit import demo_frames, demo_video, help_options, one_line_error, write_no_face_frames

from edge.collect import CollectOptions, Collector, sharpness, signature
from edge.commands.dispatch import main
from edge.core.preprocess import preprocess
from edge.core.spec import DEFAULT_SPEC
from edge.live.server import LiveServer
from edge.recognize import load_classifier


def _face(crop):
    return SimpleNamespace(crop=crop)


def _frame():
    return SimpleNamespace(image=np.zeros((240, 320, 3), np.uint8))


def _textured(seed, size=96):
    rng = np.random.default_rng(seed)
    return cv2.resize(rng.integers(0, 256, (12, 12), dtype=np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)


def _pngs(folder):
    return sorted(Path(folder).glob("*.png"))


def test_collector_saves_labelled_faces_and_skips_duplicates_and_blur(tmp_path):
    c = Collector(CollectOptions(tmp_path, "happy"), DEFAULT_SPEC)
    a, b = _textured(0), _textured(1)
    noisy = np.clip(a + np.random.default_rng(2).normal(0, 2, a.shape), 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(_textured(3), (0, 0), 6)
    assert sharpness(blurred) < 25 <= sharpness(cv2.resize(a, (48, 48), interpolation=cv2.INTER_AREA))
    for crop in (a, noisy, blurred, b):
        state = c(_frame(), [_face(crop)])["collect"]
    files = _pngs(tmp_path / "happy")
    assert len(files) == 2 and state["counts"]["happy"] == 2 and state["saved"]["happy"] == 2
    assert state["skipped"] == {"near-duplicate": 1, "blurred": 1}
    assert np.array_equal(cv2.imread(str(files[0]), cv2.IMREAD_UNCHANGED), a), "the crop itself, lossless"
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]
    # a second session counts what is there already and never overwrites it
    again = Collector(CollectOptions(tmp_path, "happy", min_change=0), DEFAULT_SPEC)
    again.session = "later"
    again(_frame(), [_face(a)])
    assert again.counts["happy"] == 3 and len(_pngs(tmp_path / "happy")) == 3


def test_signature_ignores_brightness_and_contrast():
    a = _textured(0, 48).astype(np.float32)
    brighter = np.clip(a * 0.8 + 30, 0, 255).astype(np.uint8)
    assert np.abs(signature(a.astype(np.uint8)) - signature(brighter)).mean() < 2
    assert np.abs(signature(a.astype(np.uint8)) - signature(_textured(1, 48))).mean() > 20


def test_keys_choose_the_class_and_pause_and_max_and_every(tmp_path):
    c = Collector(CollectOptions(tmp_path, every=2, max_per_class=2, min_change=0), DEFAULT_SPEC)
    assert c.current is None, "without --label a session starts paused"
    c(_frame(), [_face(_textured(0))])
    assert not tmp_path.exists() or not any(tmp_path.rglob("*.png"))
    label_of = {k: v for k, v in c.keys().items()}
    assert label_of["4"] == "happy" and label_of["7"] == "neutral" and label_of[" "] is None
    for i in range(8):  # every 2nd frame: 4 chances, but at most 2 per class
        c(_frame(), [_face(_textured(10 + i))], ["4"] if i == 0 else [])
    assert len(_pngs(tmp_path / "happy")) == 2 and c.full("happy")
    c(_frame(), [_face(_textured(30))], ["7"])  # one of these two frames is an --every 2 frame
    c(_frame(), [_face(_textured(31))])
    c(_frame(), [_face(_textured(33))], [" "])
    c(_frame(), [_face(_textured(32))], ["x"])  # not a class key: still paused
    assert len(_pngs(tmp_path / "neutral")) == 1 and c.current is None
    assert c.state()["counts"]["neutral"] == 1


def test_fixed_label_stops_at_max_and_ignores_keys(tmp_path):
    stop = SimpleNamespace(set=lambda: setattr(stop, "done", True), done=False)
    c = Collector(CollectOptions(tmp_path, "sad", max_per_class=1), DEFAULT_SPEC, stop)
    c(_frame(), [_face(_textured(0))], [" "])
    assert c.current == "sad" and stop.done and len(_pngs(tmp_path / "sad")) == 1
    assert c.stopped_by == "--max 1 (sad faces saved)"


def test_faces_below_min_face_are_counted_as_too_small(tmp_path):
    c = Collector(CollectOptions(tmp_path, "happy", min_change=0, min_face=64), DEFAULT_SPEC)
    small = SimpleNamespace(crop=_textured(0), box=(0, 0, 20, 20))
    big = SimpleNamespace(crop=_textured(1), box=(0, 0, 80, 80))
    c(_frame(), [small, big])
    assert len(_pngs(tmp_path / "happy")) == 1 and c.state()["skipped"] == {"too small": 1}
    assert c.summary().endswith("skipped: 1 too small (< 64 px, --min-face)")
    keep_all = Collector(CollectOptions(tmp_path / "all", "happy", min_change=0), DEFAULT_SPEC)
    keep_all(_frame(), [small, big])
    assert len(_pngs(tmp_path / "all" / "happy")) == 2, "by default every face the loop classifies is kept"


def test_min_face_help_matches_the_default():
    from edge.commands.dispatch import build_parser

    parser = build_parser()
    args = parser.parse_args(["collect", "--source", "x.mp4", "--out-dir", "mine", "--label", "happy"])
    run_args = parser.parse_args(["run", "--source", "x.mp4"])
    assert args.min_face is None and run_args.min_face is None, "collect keeps the faces run classifies"
    options = help_options("collect")
    min_face = options["--min-face"]
    assert "default: keep every face the detector finds" in min_face and "64 px" not in min_face
    assert options["--out-dir"].startswith("--out-dir DIR ") and "--out" not in options


def _frames_folder(tmp_path, n=3, faces=2):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, (image, _) in enumerate(demo_frames(n, faces=faces)):
        cv2.imwrite(str(folder / f"{i:03d}.png"), image)
    return folder


def test_collect_writes_exactly_the_crops_the_model_classifies(int8_model, yunet_model, tmp_path, capsys):
    """The saved faces, through the one preprocessing function, give the scores the live loop printed."""
    frames = _frames_folder(tmp_path, n=1)
    out, jsonl = tmp_path / "mine", tmp_path / "p.jsonl"
    common = ["--source", str(frames), "--detector-model", str(yunet_model)]
    assert main(["collect", *common, "--model", str(int8_model), "--out-dir", str(out), "--label", "fear",
                 "--max-faces", "2"]) == 0
    assert "saved 2 faces" in capsys.readouterr().out
    assert main(["run", str(int8_model), *common, "--jsonl", str(jsonl), "--no-smooth"]) == 0
    scores = [list(f["scores"].values()) for f in json.loads(jsonl.read_text())["faces"]]
    classifier, spec = load_classifier(int8_model)
    saved = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in _pngs(out / "fear")]
    assert all(s.ndim == 2 and min(s.shape) > 48 for s in saved), "gray, at the frame's resolution"
    got = classifier.predict(np.stack([preprocess(s, spec) for s in saved]))
    for p in got:  # files are in saving order (largest face first), as the JSON faces are
        assert any(np.abs(p - np.array(s)).max() < 1e-3 for s in scores), (p, scores)


def test_collect_on_a_video_and_the_train_loader_reads_it(int8_model, yunet_model, tmp_path, capsys):
    video = tmp_path / "faces.mp4"
    demo_video(video, 30, fps=15, faces="1")
    out = tmp_path / "mine"
    assert main(["collect", "--source", str(video), "--out-dir", str(out), "--label", "surprise", "--every", "3",
                 "--max", "4", "--model", str(int8_model), "--detector-model", str(yunet_model)]) == 0
    printed = capsys.readouterr().out
    assert "saved 4 faces" in printed and "stopped by --max 4 (surprise faces saved)" in printed, printed
    assert len(_pngs(out / "surprise")) == 4
    pytest.importorskip("train.datasets")
    from train.datasets import load_dataset

    ds = load_dataset(str(out), use_cache=False)
    assert sum(len(s.labels) for s in ds.splits.values()) == 4
    assert set(np.concatenate([s.labels for s in ds.splits.values()])) == {DEFAULT_SPEC.labels.index("surprise")}


@pytest.mark.parametrize("argv, message", [
    (["--label", "smug"], "--label 'smug': expected one of angry, disgust"),
    (["--label", "happy", "--every", "0"], "--every 0: expected an integer >= 1"),
    (["--label", "happy", "--max", "0"], "--max 0: expected an integer >= 1"),
    (["--label", "happy", "--min-sharpness", "-1"], "--min-sharpness -1.0: expected a number >= 0"),
    ([], "collect needs --label CLASS, or --display / --serve"),
    (["--label", "happy", "--out-dir", "{file}"], "exists and is not a folder"),
    (["--label", "happy", "--source", "nowhere.mp4"], "--source 'nowhere.mp4': expected picamera2, usb:N"),
])
def test_bad_arguments_are_one_line_errors(int8_model, tmp_path, argv, message, capsys):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    (tmp_path / "file").write_text("x")
    base = ["collect", "--source", str(video), "--out-dir", str(tmp_path / "mine"), "--model", str(int8_model)]
    assert main(base + [a.replace("{file}", str(tmp_path / "file")) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_live_view_keys_reach_the_loop():
    from edge.live.server import KEY_HEADER

    live = LiveServer("127.0.0.1", 0).start()
    try:
        def post(body):
            request = urllib.request.Request(live.url + "key", data=body.encode(), method="POST",
                                             headers={KEY_HEADER: live.key_secret})
            return urllib.request.urlopen(request, timeout=5)

        for key in ("4", "%20"):
            with post(f"k={key}") as r:
                assert r.status == 204
        with pytest.raises(urllib.error.HTTPError, match="400"):
            post("k=ab")
        assert live.take_keys() == ["4", " "] and live.take_keys() == []
    finally:
        live.close()


@pytest.mark.slow
def test_ctrl_c_keeps_what_was_written(int8_model, yunet_model, tmp_path):
    video = tmp_path / "slow.mp4"
    demo_video(video, 80, fps=10, faces="2")
    out = tmp_path / "mine"
    proc = subprocess.Popen([sys.executable, "-m", "edge.commands", "collect", "--source", str(video), "--out-dir", str(out),
                             "--label", "angry", "--realtime", "--min-change", "0", "--model", str(int8_model),
                             "--detector-model", str(yunet_model)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_pngs(out / "angry")) < 3:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    files = _pngs(out / "angry")
    assert 3 <= len(files) < 80 and f"saved {len(files)} faces" in stdout
    assert all(cv2.imread(str(p), cv2.IMREAD_UNCHANGED) is not None for p in files)
    assert not [p for p in out.rglob("*") if ".tmp" in p.name], "no temporary file left behind"


PRESS_KEYS = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const panel = () => document.getElementById("collect");
  for (let i = 0; i < 200 && getComputedStyle(panel()).display === "none"; i++) await sleep(100);
  const before = document.getElementById("collect-current").textContent;
  document.dispatchEvent(new KeyboardEvent("keydown", {key: "4"}));
  const count = () => Number([...document.querySelectorAll("#collect-keys button")]
                             .find(b => b.textContent.startsWith("4 ")).textContent.split(": ").pop());
  for (let i = 0; i < 200 && count() < 2; i++) await sleep(100);
  const during = {current: document.getElementById("collect-current").textContent, count: count()};
  [...document.querySelectorAll("#collect-keys button")].find(b => b.textContent.startsWith("space")).click();
  for (let i = 0; i < 50 && !document.getElementById("collect-current").textContent.startsWith("nothing"); i++)
    await sleep(100);
  return {before, during, after: document.getElementById("collect-current").textContent};
})()"""


@pytest.mark.slow
def test_keys_on_the_live_view_page_label_the_faces(int8_model, yunet_model, tmp_path):
    from live_browser import live_run

    video = tmp_path / "faces.mp4"
    demo_video(video, 150, fps=10, faces="1")
    out = tmp_path / "mine"
    with live_run(tmp_path / "profile", "collect", "--source", video, "--out-dir", out, "--realtime", "--min-change", "0",
                  "--model", int8_model, "--detector-model", yunet_model) as (browser, url, _):
        seen = browser.evaluate(browser.open(url), PRESS_KEYS)
        time.sleep(1.0)
        paused_with = len(_pngs(out / "happy"))
        time.sleep(1.0)
        assert len(_pngs(out / "happy")) == paused_with, "space paused the session"
    assert seen["before"].startswith("nothing") and seen["during"]["current"] == "happy", seen
    assert seen["after"].startswith("nothing"), seen
    assert paused_with >= seen["during"]["count"] >= 2
    assert {p.name for p in out.iterdir()} == {"happy"}


def test_the_display_window_hands_its_keys_to_the_loop(monkeypatch):
    import edge.outputs as outputs

    pressed = iter([ord("4"), 255, ord(" "), ord("q")])
    monkeypatch.setenv("DISPLAY", ":0")
    for name, fake in (("namedWindow", lambda *a: None), ("imshow", lambda *a: None),
                       ("waitKey", lambda delay: next(pressed))):
        monkeypatch.setattr(outputs.cv2, name, fake)
    window = outputs.Display()
    image = np.zeros((8, 8, 3), np.uint8)
    assert window.show(image) and window.show(image) and window.show(image)
    assert window.take_keys() == ["4", " "] and window.take_keys() == []
    assert not window.show(image), "q still quits"


def test_small_faces_are_kept_by_default_and_counted_when_min_face_is_raised(int8_model, yunet_model, tmp_path,
                                                                            capsys, caplog):
    """The demo faces are ~60-100 px: the default keeps them (the old 64 px default dropped some silently);
    --min-face 400 skips every one and says so; the old --out spelling still works, with one warning."""
    frames = _frames_folder(tmp_path, n=2, faces=2)
    common = ["collect", "--source", str(frames), "--model", str(int8_model), "--detector-model", str(yunet_model),
              "--label", "sad", "--max-faces", "2", "--min-change", "0"]
    assert main([*common, "--out-dir", str(tmp_path / "all")]) == 0
    assert "saved 4 faces" in capsys.readouterr().out
    assert main([*common, "--out", str(tmp_path / "none"), "--min-face", "400"]) == 0
    printed = capsys.readouterr().out
    assert "saved 0 faces" in printed and "skipped: 4 too small (< 400 px, --min-face)" in printed, printed
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warnings == ["--out is deprecated and will be removed in the next release: use --out-dir"]


@pytest.mark.parametrize("flag", ["--min-sharpness", "--min-change"])
def test_collect_refuses_nan_filters(int8_model, tmp_path, flag, capsys):
    frames = write_no_face_frames(tmp_path / "frames", 1)
    assert main(["collect", "--source", str(frames), "--model", str(int8_model), "--label", "happy",
                 "--out-dir", str(tmp_path / "faces"), flag, "nan"]) == 2
    one_line_error(capsys, f"{flag} nan: expected a number >= 0")
    assert not (tmp_path / "faces").exists()


def test_two_collects_never_replace_each_others_faces(tmp_path):
    options = CollectOptions(tmp_path, "happy")
    first, second = Collector(options, DEFAULT_SPEC), Collector(options, DEFAULT_SPEC)
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
