"""The picamera2 adapter against picamera2's own code (the PyPI package, ``make picamera2-test-deps``),
over the stand-ins in tests/fake_libcamera for its native parts; the sensor sees a video made here."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from edge_testkit import demo_video

from edge.config import EdgeConfig
from edge.core.errors import UserError
from edge.frame import SourceError
from edge.loop import run_edge
from edge.picam import PicameraSource, import_picamera2
from edge.sources import Reconnecting
from edge.track import iou_matrix

FAKES = Path(__file__).parent / "fake_libcamera"
ROOT = Path(run_edge.__code__.co_filename).parent.parent  # the checkout whose edge package is under test
pytestmark = pytest.mark.timeout(60)  # today's failure mode is a hang: fail instead


def _write_video(path: Path, frames: int = 30) -> list:
    """A dark 640x480 scene with a bright box moving right by 6 px a frame; returns the boxes."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 480))
    boxes = []
    for i in range(frames):
        image = np.full((480, 640, 3), (40, 60, 30), np.uint8)
        x, y = 100 + 6 * i, 150
        image[y:y + 120, x:x + 160] = (90, 230, 250)
        writer.write(image)
        boxes.append((x, y, 160, 120))
    writer.release()
    return boxes


@pytest.fixture(scope="session")
def box_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("picam") / "box.mp4"
    return path, _write_video(path)


@pytest.fixture
def picamera2_importable(monkeypatch):
    """picamera2's own code over the stand-ins for its native parts; skips (fails on CI) without it."""
    monkeypatch.syspath_prepend(str(FAKES))
    try:
        import picamera2  # noqa: F401
    except ImportError as e:
        if os.environ.get("CI"):
            pytest.fail(f"picamera2 is not importable ({e}); CI installs it with 'make picamera2-test-deps'")
        pytest.skip(f"picamera2 not installed ({e}): make picamera2-test-deps")


@pytest.fixture
def camera(picamera2_importable, box_video):
    """``camera(**switches)`` -> the fake sensor (see tests/fake_libcamera/fake_camera.py)."""
    import fake_camera
    from libcamera import _libcamera
    from picamera2 import Picamera2

    def hardware(**switches):
        sensor = fake_camera.reset(**{"video": str(box_video[0]), **switches})
        Picamera2._cm._cms = None  # a fresh boot: picamera2 keeps the manager it made first otherwise
        return sensor

    yield hardware
    assert not _libcamera._HELD, "every camera was released"


def _bright_box(gray: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(gray > 140)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], float)


def _source(**kw):
    return PicameraSource(kw.pop("main", (640, 480)), kw.pop("lores", (320, 240)), timeout=kw.pop("timeout", 1.0), **kw)


# --- normal capture --------------------------------------------------------------------------------

def test_frames_are_main_for_display_and_the_y_plane_for_detection(camera, box_video):
    truth = np.array([(x, y, x + w, y + h) for x, y, w, h in box_video[1]], float)
    camera()
    src = _source()
    src.open()
    try:
        frames = [src.read() for _ in range(4)]
    finally:
        src.close()
    for frame in frames:
        assert frame.image.shape == (480, 640, 3) and frame.gray.shape == (240, 320)
        assert frame.scale == (2.0, 2.0)
        assert frame.gray.base is not None and frame.gray.strides == (320, 1), "a view of the Pi 4 YUV420 array"
        main_box, lores_box = _bright_box(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)), _bright_box(frame.gray)
        x, y = ((main_box[:2] + main_box[2:]) / 2).astype(int)
        assert np.abs(frame.image[y, x].astype(int) - (90, 230, 250)).max() < 25, "main is B,G,R (RGB888)"
        assert np.abs(truth - main_box).max(axis=1).min() <= 2, "main is a frame of the video, uncropped"
        assert np.abs(lores_box * 2.0 - main_box).max() <= 2, "lores and main are the same frame and crop"


def test_on_a_pi5_the_lores_rows_are_padded_to_384_bytes(camera, monkeypatch):
    from picamera2 import Picamera2
    from picamera2.platform import Platform

    monkeypatch.setattr(Picamera2, "platform", Platform.PISP)
    camera(platform="pisp")
    src = _source()
    src.open()
    try:
        frame = src.read()
    finally:
        src.close()
    assert frame.gray.shape == (240, 320) and frame.gray.strides == (384, 1)
    expected = cv2.resize(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY), (320, 240), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(frame.gray.ravel(), expected.ravel())[0, 1] > 0.98, "no padding bytes in the Y plane"


def test_the_configured_sizes_are_used_not_the_requested_ones(camera, caplog):
    camera()
    src = _source(main=(641, 481), lores=(321, 241))  # picamera2 rounds these down to 640x480, 320x240
    with caplog.at_level(logging.WARNING):
        src.open()
    try:
        frame = src.read()
    finally:
        src.close()
    assert "adjusted the streams to main 640x480, lores 320x240" in caplog.text
    assert frame.gray.shape == (240, 320) and frame.image.shape == (480, 640, 3), "no chroma row in the Y plane"
    assert frame.scale == (2.0, 2.0)
    main_box, lores_box = _bright_box(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)), _bright_box(frame.gray)
    assert np.abs(lores_box * 2.0 - main_box).max() <= 2


def test_loop_reports_face_boxes_in_main_coordinates(camera, tmp_path):
    video = tmp_path / "faces.mp4"
    truth = demo_video(video, 40, faces="2")
    camera(video=str(video))
    config = EdgeConfig(source="picamera2", jsonl=str(tmp_path / "p.jsonl"), max_frames=30)
    result = run_edge(config, source=Reconnecting(PicameraSource(config.main_size, config.lores_size), 1, 0.0))
    assert result.frames == 30 and result.stopped_by == "--max-frames"
    records = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    found = 0
    for i, record in enumerate(records):
        if not record["faces"]:
            continue
        boxes = np.array([f["box"] for f in record["faces"]])
        # the i-th frame read is the sensor's i-th or, if the loop fell behind, a later one; a box in
        # lores coordinates (half the size) could never reach IoU 0.5 with any of them
        nearby = np.array([b for j in range(max(0, i - 2), min(len(truth), i + 10)) for b in truth[j]])
        assert iou_matrix(boxes, nearby).max(axis=1).min() > 0.5, f"frame {i}: boxes not in main coordinates"
        found += len(boxes)
    assert found >= 30


# --- failures --------------------------------------------------------------------------------------

def test_no_camera_is_retried_then_one_line_error(camera):
    camera(count=0)
    with pytest.raises(UserError, match=r"^picamera2:0: gave up after 2 retries \(no camera found \(is the ribbon "
                                        r"cable seated"):
        Reconnecting(_source(), retries=2, backoff=0.0).open()


def test_a_busy_camera_says_so(camera):
    camera(busy=True)
    with pytest.raises(SourceError, match="another program"):
        _source().open()


def test_a_camera_that_fails_to_start_is_released_for_the_retry(camera, monkeypatch):
    from libcamera import _libcamera

    camera()

    def start(self, controls={}):  # noqa: B006 (libcamera's own binding has this signature)
        raise RuntimeError("Failed to start camera: Input/output error")  # as pybind11 raises libcamera's error

    monkeypatch.setattr(_libcamera.Camera, "start", start)
    with pytest.raises(SourceError, match=r"camera did not start \(Failed to start camera: Input/output error\)"):
        _source().open()


def test_a_refused_configuration_is_a_user_error_and_releases_the_camera(camera):
    camera()
    with pytest.raises(UserError, match="--main 320x240 --lores 640x480: the camera refused this configuration "
                                        r"\(lores stream dimensions may not exceed main stream\)"):
        _source(main=(320, 240), lores=(640, 480)).open()


def test_a_slow_camera_is_not_a_dropout(camera, caplog):
    sensor = camera(frame_s=0.3)
    src = Reconnecting(_source(timeout=1.0), retries=1, backoff=0.0)
    src.open()
    with caplog.at_level(logging.WARNING):
        try:
            times = [src.read().timestamp for _ in range(4)]
        finally:
            src.close()
    assert sensor.starts == 1 and "stopped delivering" not in caplog.text
    assert times[-1] - times[0] > 0.6, "frames came at the slow camera's pace"


def test_a_dropout_is_detected_and_the_camera_reopened_until_it_delivers_again(camera, caplog):
    sensor = camera(stall_after=5, outage_s=0.6)
    src = Reconnecting(_source(timeout=0.3), retries=4, backoff=0.1)
    src.open()
    frames, openings = [], []
    with caplog.at_level(logging.INFO):
        try:
            for _ in range(12):
                frames.append(src.read())
                openings.append(sensor.starts)
        finally:
            src.close()
    assert all(f is not None and f.gray.shape == (240, 320) for f in frames)
    assert len(set(openings)) >= 3, "frames from the first opening and after two dropouts"
    assert "picamera2:0 stopped delivering frames (no frame within 0.3 s); reopening" in caplog.text
    assert "delivering again after" in caplog.text


def test_a_camera_that_never_comes_back_ends_after_the_retries(camera):
    sensor = camera(stall_after=3)  # the link drops after 3 frames, for good; the camera still opens
    src = Reconnecting(_source(timeout=0.2), retries=2, backoff=0.05)
    src.open()
    frames, started = [], time.monotonic()
    with pytest.raises(UserError, match=r"^picamera2:0: gave up after 2 retries \(no frame within 0.2 s\); check "
                                        "the camera connection"):
        try:
            while True:
                frames.append(src.read())
        finally:
            src.close()
    assert 1 <= len(frames) <= 3 and sensor.starts == 3, "opened once, then reopened exactly --retries times"
    assert time.monotonic() - started < 10


def test_missing_picamera2_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(UserError, match="sudo apt install python3-picamera2 and create the venv with "
                                         "--system-site-packages"):
        import_picamera2()


# --- the command, interrupted ---------------------------------------------------------------------

def _start_run(tmp_path, video, *args, **switches):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKES), str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "FAKE_CAMERA_VIDEO": str(video), **{f"FAKE_CAMERA_{k.upper()}": str(v) for k, v in switches.items()}}
    err = open(tmp_path / "stderr.txt", "w")
    cmd = [sys.executable, "-m", "edge.commands", "run", "--source", "picamera2", "--headless",
           "--out", str(tmp_path / "out.mp4"), "--jsonl", str(tmp_path / "p.jsonl"), *args]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True, cwd=tmp_path)


def _finish(proc, seconds: float) -> str:
    """The process's stdout once it has exited; killed (and the test failed) if it takes longer."""
    try:
        return proc.communicate(timeout=seconds)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"still running {seconds:g} s later (killed): {proc.args}")


def _wait_for(predicate, seconds=45.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _video_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


@pytest.mark.parametrize("dropout", [False, True], ids=["streaming", "during-a-dropout"])
def test_ctrl_c_stops_fer_edge_run_and_writes_a_playable_video(picamera2_importable, box_video, tmp_path, dropout):
    switches = {"stall_after": 15} if dropout else {}
    proc = _start_run(tmp_path, box_video[0], "--camera-timeout", "0.5", "--retries", "100", **switches)
    try:
        if dropout:  # the camera stalls for good after 15 frames: interrupt while it is being reopened
            ready = _wait_for(lambda: "retry 2/100" in (tmp_path / "stderr.txt").read_text())
        else:
            ready = _wait_for(lambda: _lines(tmp_path / "p.jsonl") >= 10)
        assert ready, (tmp_path / "stderr.txt").read_text()
        proc.send_signal(signal.SIGINT)
    finally:
        stdout = _finish(proc, 10)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode == 0, stderr
    assert "SIGINT received" in stderr and "stopped by signal" in stdout
    frames = _lines(tmp_path / "p.jsonl")
    assert (1 <= frames <= 15) if dropout else frames >= 10  # a busy loop may miss some of the 15 frames
    assert _video_frames(tmp_path / "out.mp4") == frames, "the video is finalized with every frame"


def test_fer_edge_run_gives_up_with_one_line_and_keeps_what_it_wrote(picamera2_importable, box_video, tmp_path):
    proc = _start_run(tmp_path, box_video[0], "--camera-timeout", "0.4", "--retries", "2", stall_after=10)
    _finish(proc, 40)
    stderr = (tmp_path / "stderr.txt").read_text()
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    assert proc.returncode == 2 and errors == [
        "fer-edge run: error: picamera2:0: gave up after 2 retries (no frame within 0.4 s); check the camera "
        "connection and that no other program is using it"], stderr
    assert "retry 2/2" in stderr and "Traceback" not in stderr
    frames = _lines(tmp_path / "p.jsonl")
    assert 1 <= frames <= 10 and _video_frames(tmp_path / "out.mp4") == frames
