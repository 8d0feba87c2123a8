"""The two interfaces the camera loop runs on: every face detector is an ``edge.detect.FaceDetector`` and every
frame source an ``edge.frame.FrameSource``, explicitly (they subclass the protocol), with the protocol's
method signatures and its attributes set on each instance."""

import inspect

import pytest
from edge_testkit import demo_video

from edge.config import EdgeConfig
from edge.detect import FaceDetector, HaarDetector, YuNetDetector, make_detector
from edge.frame import FrameSource
from edge.locator_detector import LocatorDetector
from edge.picam import PicameraSource
from edge.sources import ImageFolderSource, Reconnecting, VideoCaptureSource, open_source


def _members(protocol) -> tuple[list[str], list[str]]:
    """(the attributes, the methods) a protocol declares."""
    methods = [name for name, value in vars(protocol).items() if inspect.isfunction(value) and not name.startswith("_")]
    return list(protocol.__annotations__), methods


def mismatches(cls, protocol) -> list[str]:
    """How ``cls`` departs from ``protocol``: not a subclass, a method missing or with other parameters (names,
    kinds, defaults) than the protocol's."""
    found = [] if protocol in cls.__mro__ else [f"{cls.__name__} does not subclass it"]
    for name in _members(protocol)[1]:
        impl = inspect.getattr_static(cls, name, None)
        if impl is None or impl is vars(protocol)[name]:
            found.append(f"{cls.__name__}.{name} missing")
            continue
        want = [(p.name, p.kind, p.default) for p in inspect.signature(vars(protocol)[name]).parameters.values()]
        got = [(p.name, p.kind, p.default) for p in inspect.signature(impl).parameters.values()]
        if got != want:
            found.append(f"{cls.__name__}.{name}{inspect.signature(impl)}: expected the parameters {want}")
    return found


def unset_attributes(obj, protocol) -> list[str]:
    return [name for name in _members(protocol)[0] if not hasattr(obj, name)]


@pytest.mark.parametrize("cls", [HaarDetector, YuNetDetector, LocatorDetector])
def test_detectors_implement_face_detector(cls):
    assert mismatches(cls, FaceDetector) == []


@pytest.mark.parametrize("cls", [VideoCaptureSource, ImageFolderSource, PicameraSource, Reconnecting])
def test_sources_implement_frame_source(cls):
    assert mismatches(cls, FrameSource) == []


def test_the_signature_check_catches_a_departure():
    class Old:  # what the detectors were: no protocol, min_face without its default
        def detect_faces(self, gray, min_face):
            return None

    class Renamed(FaceDetector):
        def detect_faces(self, image, min_face=None):
            return None

    class Forgot(FaceDetector):
        pass

    assert mismatches(Old, FaceDetector)[0] == "Old does not subclass it"
    assert "expected the parameters" in mismatches(Old, FaceDetector)[1]
    assert "expected the parameters" in mismatches(Renamed, FaceDetector)[0]
    assert mismatches(Forgot, FaceDetector) == ["Forgot.detect_faces missing"]
    assert unset_attributes(Forgot(), FaceDetector) == ["name", "model_path"]


def test_detector_instances_set_the_attributes(yunet_model):
    haar = make_detector(EdgeConfig(source="x", detector="haar"))
    yunet = make_detector(EdgeConfig(source="x", detector="yunet", detector_model=str(yunet_model)))
    for detector in (haar, yunet):
        assert isinstance(detector, FaceDetector) and unset_attributes(detector, FaceDetector) == []
    assert (haar.name, haar.model_path) == ("haar", None)
    assert (yunet.name, yunet.model_path) == ("yunet", yunet_model)


def test_source_instances_set_the_attributes(tmp_path):
    video = tmp_path / "v.mp4"
    demo_video(video, 2)
    config = EdgeConfig(source="x")
    opened = open_source(str(video), config)
    opened.open()
    try:
        sources = [opened, opened.source, ImageFolderSource(tmp_path), PicameraSource(),
                   VideoCaptureSource(0, live=True)]
        for source in sources:
            assert isinstance(source, FrameSource) and unset_attributes(source, FrameSource) == [], source
        assert (opened.clock, opened.live, opened.fps, opened.name) == ("media", False, 30, str(video))
        assert [s.clock for s in sources[2:]] == ["wall"] * 3
    finally:
        opened.close()
