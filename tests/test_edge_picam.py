"""The picamera2 adapter, through a stand-in with picamera2's names and behaviour (no camera here)."""

import json
import logging
import sys

import numpy as np
import pytest

from edge.config import EdgeConfig
from edge.errors import UserError
from edge.loop import run_edge
from edge.picam import PicameraSource, import_picamera2
from edge.sources import Reconnecting, SourceError
from edge.track import iou_matrix
from edge_testkit import FakePicamera2, demo_frames


# --- the stand-in behaves like picamera2 where the adapter depends on it ------------------------

def test_stand_in_configurations_are_dicts_and_configure_validates():
    cam = FakePicamera2.scripted()()
    config = cam.create_video_configuration(lores={"size": (320, 240)})
    assert config["main"] == {"format": "XBGR8888", "size": (1280, 720)} and config["buffer_count"] == 6
    assert config["lores"]["format"] == "YUV420"
    assert cam.create_preview_configuration()["main"]["size"] == (640, 480)
    with pytest.raises(RuntimeError, match="even"):
        cam.configure(cam.create_video_configuration(main={"size": (641, 480)}))
    with pytest.raises(RuntimeError, match="may not exceed main"):
        cam.configure(cam.create_video_configuration(main={"size": (320, 240)}, lores={"size": (640, 480)}))
    cam.configure(config)
    cam.start()
    with pytest.raises(RuntimeError, match="stopped before configuring"):
        cam.configure(config)


@pytest.mark.parametrize("pi5, stride", [(True, 384), (False, 320)])
def test_stand_in_yuv420_keeps_row_padding(pi5, stride):
    cam = FakePicamera2.scripted(pi5=pi5)()
    cam.configure(cam.create_video_configuration(main={"size": (640, 480), "format": "RGB888"},
                                                 lores={"size": (320, 240)}))
    cam.start()
    assert cam.capture_array("lores", wait=1.0).shape == (360, stride)
    assert cam.capture_array("main", wait=1.0).shape == (480, 640, 3)


# --- the adapter ---------------------------------------------------------------------------------

def _source(fake, **kw):
    return PicameraSource((640, 480), (320, 240), timeout=kw.pop("timeout", 1.0), factory=fake, **kw)


def test_frames_are_main_for_display_and_the_y_plane_for_detection():
    fake = FakePicamera2.scripted()
    src = _source(fake)
    src.open()
    frame = src.read()
    cam = fake.instances[0]
    assert cam.started and cam.config["main"] == {"format": "RGB888", "size": (640, 480)}
    assert cam.config["lores"] == {"format": "YUV420", "size": (320, 240)}
    assert cam.config["controls"]["FrameRate"] == 30.0
    assert frame.image.shape == (480, 640, 3) and frame.gray.shape == (240, 320)
    assert frame.scale == (2.0, 2.0)
    assert frame.gray.base is not None and frame.gray.strides == (384, 1), "a view, no copy"
    expected = cam._make_array("lores", fake.frames[0] if fake.frames else demo_frames(8)[0][0])[:240, :320]
    np.testing.assert_array_equal(frame.gray, expected)
    src.close()
    assert cam.closed and not cam.started


def test_a_refused_configuration_is_a_user_error():
    src = PicameraSource((320, 240), (640, 480), factory=FakePicamera2.scripted())
    with pytest.raises(UserError, match="--main 320x240 --lores 640x480: the camera refused"):
        src.open()


def test_no_camera_is_retried_then_one_line_error():
    fake = FakePicamera2.scripted(cameras=0)
    with pytest.raises(UserError, match=r"picamera2:0: gave up after 2 retries \(no camera found"):
        Reconnecting(_source(fake), retries=2, backoff=0.0).open()


def test_a_busy_camera_says_so():
    with pytest.raises(SourceError, match="another program"):
        _source(FakePicamera2.scripted(busy=True)).open()


def test_a_dropout_times_out_and_the_camera_is_reopened(caplog):
    fake = FakePicamera2.scripted(stall_after=2)
    src = Reconnecting(_source(fake, timeout=0.05), retries=2, backoff=0.0)
    src.open()
    with caplog.at_level(logging.WARNING):
        frames = [src.read() for _ in range(5)]
    assert all(f.gray.shape == (240, 320) for f in frames)
    assert len(fake.instances) == 3
    assert fake.instances[0].closed and fake.instances[1].closed and fake.instances[2].started
    assert "stopped delivering frames (no frame within 0.05 s); reopening" in caplog.text


def test_missing_picamera2_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(UserError, match="sudo apt install python3-picamera2 and create the venv with "
                                         "--system-site-packages"):
        import_picamera2()


def test_loop_on_the_stand_in_reports_boxes_in_main_coordinates(int8_model, tmp_path):
    frames = demo_frames(6, seed=1, faces=2)
    fake = FakePicamera2.scripted(frames=tuple(f for f, _ in frames))
    config = EdgeConfig(source="picamera2", model=str(int8_model), jsonl=str(tmp_path / "p.jsonl"),
                        max_frames=len(frames))
    source = Reconnecting(PicameraSource(config.main_size, config.lores_size, factory=fake), 1, 0.0)
    result = run_edge(config, source=source)
    assert result.frames == len(frames) and result.stopped_by == "--max-frames"
    records = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    for record, (_, truth) in zip(records, frames):
        boxes = np.array([f["box"] for f in record["faces"]])
        assert len(boxes) >= 1
        assert iou_matrix(boxes, np.array(truth)).max(axis=1).min() > 0.5
    assert fake.instances[0].closed, "camera released at the end"
