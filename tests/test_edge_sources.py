"""Frame sources: video files, image folders, the source parser, and reconnecting with backoff."""

import logging
import threading
import time

import cv2
import numpy as np
import pytest
from edge_testkit import demo_frames, demo_video, one_line_error

from edge.commands.dispatch import main
from edge.config import EdgeConfig
from edge.core.errors import UserError
from edge.frame import FrameSource, SourceError
from edge.sources import ImageFolderSource, Reconnecting, VideoCaptureSource, open_source


def test_video_file_frames_then_end(tmp_path):
    video = tmp_path / "v.mp4"
    demo_video(video, 5)
    src = VideoCaptureSource(str(video), live=False)
    src.open()
    frames = []
    while (frame := src.read()) is not None:
        assert frame.image.shape == (480, 640, 3) and frame.gray.shape == (480, 640)
        np.testing.assert_array_equal(frame.gray, cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY))
        frames.append((frame.image, frame.gray))
    src.close()
    assert len(frames) == 5 and src.fps == 30
    assert frames[0][1] is frames[-1][1], "the gray buffer is reused"


def test_unreadable_video_is_a_user_error(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(UserError, match="not a readable video"):
        VideoCaptureSource(str(bad), live=False).open()


def test_image_folder_skips_unreadable_files(tmp_path, caplog):
    image = demo_frames(2)[0][0]
    cv2.imwrite(str(tmp_path / "a.png"), image)
    cv2.imwrite(str(tmp_path / "c.jpg"), image[:100, :200])
    (tmp_path / "b.png").write_bytes(b"broken")
    (tmp_path / "notes.txt").write_text("ignored")
    src = ImageFolderSource(tmp_path)
    src.open()
    shapes = []
    with caplog.at_level(logging.WARNING):
        while (frame := src.read()) is not None:
            shapes.append(frame.gray.shape)
    assert shapes == [(480, 640), (100, 200)]
    assert "b.png: not a readable image" in caplog.text


def test_empty_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no images"):
        ImageFolderSource(tmp_path).open()


def test_source_parsing(tmp_path, monkeypatch):
    config = EdgeConfig(source="x")
    monkeypatch.setattr("edge.sources.DEVICE_DIR", tmp_path)
    (tmp_path / "video2").touch()  # a camera node for usb:2
    assert isinstance(open_source(str(tmp_path), config).source, ImageFolderSource)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    src = open_source(str(video), config).source
    assert isinstance(src, VideoCaptureSource) and not src.live
    src = open_source("usb:2", config).source
    assert src.live and src.target == 2 and src.name == "usb:2"
    with pytest.raises(UserError, match="usb:N"):
        open_source("usb:front", config)
    with pytest.raises(UserError, match="picamera2, usb:N, a video file or an image folder"):
        open_source(str(tmp_path / "missing.mp4"), config)


class _FlakyCamera(FrameSource):
    """A live source that fails to open ``fail_opens`` times and stalls after ``frames_per_open`` reads."""

    def __init__(self, fail_opens=0, frames_per_open=None):
        self.name, self.live, self.fps, self.clock = "flaky", True, 30.0, "wall"
        self.fail_opens, self.frames_per_open = fail_opens, frames_per_open
        self.opens = self.closes = self.reads = 0

    def open(self):
        self.opens += 1
        if self.opens <= self.fail_opens:
            raise SourceError("did not open")
        self.reads = 0

    def read(self):
        if self.frames_per_open is not None and self.reads >= self.frames_per_open:
            raise SourceError("no frame within 0.1 s")
        self.reads += 1
        return "frame"

    def close(self):
        self.closes += 1


class _RecordingStop(threading.Event):
    def __init__(self, stop_after=None):
        super().__init__()
        self.waits, self.stop_after = [], stop_after

    def wait(self, timeout=None):
        self.waits.append(timeout)
        if self.stop_after is not None and len(self.waits) >= self.stop_after:
            self.set()
        return self.is_set()


def test_open_retries_with_exponential_backoff(caplog):
    cam, stop = _FlakyCamera(fail_opens=3), _RecordingStop()
    with caplog.at_level(logging.WARNING):
        src = Reconnecting(cam, retries=5, backoff=0.5, max_backoff=1.5, stop=stop)
        src.open()
    assert src.read() == "frame"
    assert cam.opens == 4 and stop.waits == [0.5, 1.0, 1.5]
    assert "flaky: retry 1/5 in 0.5 s" in caplog.text


def test_gives_up_after_the_last_retry_with_one_line():
    cam = _FlakyCamera(fail_opens=99)
    with pytest.raises(UserError) as e:
        Reconnecting(cam, retries=2, backoff=0.0, stop=_RecordingStop()).open()
    assert str(e.value) == ("flaky: gave up after 2 retries (did not open); check the camera connection "
                            "and that no other program is using it")
    assert cam.opens == 3


def test_a_stalled_camera_is_reopened_and_frames_continue(caplog):
    cam = _FlakyCamera(frames_per_open=2)
    src = Reconnecting(cam, retries=3, backoff=0.0, stop=_RecordingStop())
    src.open()
    with caplog.at_level(logging.WARNING):
        assert [src.read() for _ in range(5)] == ["frame"] * 5
    assert cam.opens == 3 and cam.closes == 2
    assert "flaky stopped delivering frames (no frame within 0.1 s); reopening" in caplog.text


def test_a_stop_request_ends_the_backoff_wait_and_the_source_ends():
    cam = _FlakyCamera(fail_opens=99)
    src = Reconnecting(cam, retries=10, backoff=5.0, stop=_RecordingStop(stop_after=1))
    src.open()
    assert cam.opens == 1 and src.read() is None and cam.reads == 0


@pytest.mark.timeout(10)  # it used to reopen such a camera forever
def test_a_camera_that_opens_but_never_delivers_spends_the_retries():
    cam, stop = _FlakyCamera(frames_per_open=0), _RecordingStop()
    src = Reconnecting(cam, retries=3, backoff=0.5, max_backoff=1.5, stop=stop)
    src.open()
    with pytest.raises(UserError, match=r"flaky: gave up after 3 retries \(no frame within 0.1 s\)"):
        src.read()
    assert cam.opens == 4 and cam.closes == 4 and stop.waits == [0.5, 1.0, 1.5]


def test_the_retry_budget_is_restored_once_frames_flow_again():
    cam, stop = _FlakyCamera(frames_per_open=1), _RecordingStop()
    src = Reconnecting(cam, retries=1, backoff=0.5, stop=stop)
    src.open()
    assert [src.read() for _ in range(4)] == ["frame"] * 4, "each stall is one retry, then frames again"
    assert cam.opens == 4 and stop.waits == [0.5, 0.5, 0.5]


def test_a_usb_camera_that_does_not_exist_fails_at_once(int8_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("edge.sources.DEVICE_DIR", tmp_path)
    (tmp_path / "video0").touch()
    start = time.monotonic()
    assert main(["run", str(int8_model), "--source", "usb:7", "--headless"]) == 2
    assert time.monotonic() - start < 5  # the reopen retries would take about 16 s
    one_line_error(capsys, f"--source usb:7: no camera {tmp_path / 'video7'}", "found video0")


def test_a_garbage_video_is_one_line_without_ffmpegs_chatter(int8_model, tmp_path, capfd):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0\0\0\x18ftypisom" + np.random.default_rng(0).bytes(5000))
    assert main(["run", str(int8_model), "--source", str(bad), "--headless", "-q"]) == 2
    err = capfd.readouterr().err
    assert "moov atom" not in err and "Traceback" not in err
    assert [line for line in err.splitlines() if "error" in line] == [
        f"fer-edge run: error: {bad}: not a readable video (OpenCV could not open it)"]
