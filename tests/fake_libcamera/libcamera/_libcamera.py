"""A stand-in for libcamera's compiled Python module (``_libcamera``), behaving as its bindings
(libcamera/src/py/libcamera/py_main.cpp, py_camera_manager.cpp) do where picamera2 relies on them:

- ``CameraManager.singleton()`` lists the attached cameras; completed requests are collected behind
  an ``eventfd`` that picamera2's event thread selects on, and handed out by ``get_ready_requests()``.
- A ``Camera`` must be acquired (one owner at a time), configured, then started. While running, a
  thread completes the oldest queued request once per frame duration (``FrameDurationLimits``),
  writing the sensor's image into every buffer of the request through the buffer's fd (what the ISP
  does into picamera2's DMA buffers). No queued request means the frame is dropped; a link that is
  down means nothing completes, with no error. ``stop()`` cancels what is still queued.
- ``CameraConfiguration.validate()`` adjusts sizes, formats and strides the way the Pi's pipeline does
  (even sizes, rows aligned to 32 bytes on a Pi 4, 64 on a Pi 5; YUV420 chroma rows half the luma
  stride) and reports ``Adjusted``.

C++ errors reach Python as pybind11 turns ``std::system_error`` into ``RuntimeError``.
"""

from __future__ import annotations

import enum
import errno
import mmap
import os
import threading
import time
import types
import weakref

import fake_camera
import numpy as np

from ._geometry import (
    ColorSpace,
    ControlId,
    ControlInfo,
    ControlType,
    Orientation,
    PixelFormat,
    Rectangle,
    Size,
    StreamRole,
    Transform,
)
from ._isp import PROCESSED, frame_size, render, stride

__all__ = ["Camera", "CameraConfiguration", "CameraManager", "ColorSpace", "ControlId", "ControlInfo",
           "ControlType", "FrameBuffer", "FrameMetadata", "Orientation", "PixelFormat", "Rectangle", "Request",
           "SensorConfiguration", "Size", "Stream", "StreamConfiguration", "StreamFormats", "StreamRole",
           "Transform", "controls", "properties", "log_set_level"]


def _system_error(what: str, code: int) -> RuntimeError:
    return RuntimeError(f"{what}: {os.strerror(code)}")


def log_set_level(category, level):
    pass


# --- controls and properties: the ids a Pi camera module (imx219) advertises -----------------------

def _ids(names_types, first_id):
    return {name: ControlId(first_id + i, name, t) for i, (name, t) in enumerate(names_types)}


T = ControlType
_CONTROL_IDS = _ids([("AeEnable", T.Bool), ("ExposureTime", T.Integer32), ("ExposureTimeMode", T.Integer32),
                     ("AnalogueGain", T.Float), ("AnalogueGainMode", T.Integer32), ("AwbEnable", T.Bool),
                     ("Brightness", T.Float), ("Contrast", T.Float), ("FrameDurationLimits", T.Integer64),
                     ("FrameDuration", T.Integer64), ("ScalerCrop", T.Rectangle), ("SensorTimestamp", T.Integer64),
                     ("NoiseReductionMode", T.Integer32)], 1)
controls = types.SimpleNamespace(**_CONTROL_IDS, draft=types.SimpleNamespace(
    NoiseReductionModeEnum=enum.IntEnum("NoiseReductionModeEnum", "Off Fast HighQuality Minimal ZSL", start=0)))
_PROPERTY_IDS = _ids([("Model", T.String), ("Location", T.Integer32), ("Rotation", T.Integer32),
                      ("ColorFilterArrangement", T.Integer32), ("PixelArraySize", T.Size),
                      ("PixelArrayActiveAreas", T.Rectangle), ("UnitCellSize", T.Size)], 100)
properties = types.SimpleNamespace(**_PROPERTY_IDS, draft=types.SimpleNamespace(
    ColorFilterArrangementEnum=enum.IntEnum("ColorFilterArrangementEnum", "RGGB GRBG GBRG BGGR RGB MONO", start=0)))

SENSOR_SIZE = (3280, 2464)
SENSOR_FORMAT = "SRGGB10_CSI2P"
SENSOR_MODES = [(640, 480), (1640, 1232), (1920, 1080), (3280, 2464)]
MIN_FRAME_US = 4808  # 640x480 on an imx219
# --- configurations -----------------------------------------------------------------------------

class StreamFormats:
    def __init__(self, formats: dict):
        self._formats = formats

    @property
    def pixel_formats(self):
        return [PixelFormat(name) for name in self._formats]

    def sizes(self, pixel_format):
        return [Size(*s) for s in self._formats.get(str(pixel_format), [])]


class Stream:
    def __init__(self, configuration: StreamConfiguration):
        self.configuration = configuration


class StreamConfiguration:
    def __init__(self, role: StreamRole):
        self.role = role
        raw = role == StreamRole.Raw
        self.pixel_format = PixelFormat(SENSOR_FORMAT if raw else "YUV420")
        self.size = Size(*(SENSOR_SIZE if raw else (1920, 1080)))
        self.stride = self.frame_size = 0
        self.buffer_count = 4
        self.color_space = ColorSpace.Raw() if raw else ColorSpace.Sycc()
        self.formats = StreamFormats({SENSOR_FORMAT: SENSOR_MODES} if raw else {f: [] for f in PROCESSED})
        self.stream = None

    def __str__(self):
        return f"{self.size.width}x{self.size.height}-{self.pixel_format}"


class SensorConfiguration:
    def __init__(self):
        self.bit_depth, self.output_size = 0, Size()


class CameraConfiguration:
    class Status(enum.Enum):
        Valid, Adjusted, Invalid = range(3)

    def __init__(self, configs):
        self._configs = configs
        self.sensor_config = None
        self.orientation = Orientation.Rotate0

    def __iter__(self):
        return iter(self._configs)

    def __len__(self):
        return len(self._configs)

    def at(self, index):
        return self._configs[index]

    @property
    def size(self):
        return len(self._configs)

    @property
    def empty(self):
        return not self._configs

    def validate(self):
        S = CameraConfiguration.Status
        processed = [c for c in self._configs if c.role != StreamRole.Raw]
        if not self._configs or len(processed) > 2 or len(self._configs) - len(processed) > 1:
            return S.Invalid
        adjusted = False
        for c in self._configs:
            before = (str(c.pixel_format), (c.size.width, c.size.height), c.stride, c.frame_size)
            if c.role == StreamRole.Raw:
                want = (self.sensor_config.output_size.width, self.sensor_config.output_size.height) if self.sensor_config else (c.size.width, c.size.height)
                mode = min(SENSOR_MODES, key=lambda m: abs(m[0] - want[0]) + abs(m[1] - want[1]))
                c.pixel_format, c.size = PixelFormat(SENSOR_FORMAT), Size(*mode)
            else:
                if str(c.pixel_format) not in PROCESSED:
                    c.pixel_format = PixelFormat("YUV420")
                w = min(max(c.size.width, 16), SENSOR_SIZE[0]) & ~1
                h = min(max(c.size.height, 16), SENSOR_SIZE[1]) & ~1
                c.size = Size(w, h)
            fmt = str(c.pixel_format)
            c.stride = max(c.stride, stride(fmt, c.size.width))
            c.frame_size = frame_size(fmt, c.size.width, c.size.height, c.stride)
            # picamera2 passes stride 0 and gets it filled in: that is not an adjustment it asked for
            adjusted |= (before[0], before[1]) != (fmt, (c.size.width, c.size.height))
        return S.Adjusted if adjusted else S.Valid


# --- buffers and requests -----------------------------------------------------------------------

class FrameMetadata:
    class Status(enum.Enum):
        Success, Error, Cancelled = range(3)

    class Plane:
        def __init__(self, bytes_used=0):
            self.bytes_used = bytes_used

    def __init__(self, status=None, sequence=0, timestamp=0, planes=()):
        self.status, self.sequence, self.timestamp = status, sequence, timestamp
        self.planes = list(planes)


class FrameBuffer:
    class Plane:
        def __init__(self, fd=-1, offset=0, length=0):
            self.fd, self.offset, self.length = fd, offset, length

    def __init__(self, planes, cookie=0):
        self.planes = list(planes)
        self.cookie = cookie
        self.metadata = FrameMetadata(FrameMetadata.Status.Success, planes=[
            FrameMetadata.Plane(p.length) for p in self.planes])


class Request:
    class Status(enum.Enum):
        Pending, Complete, Cancelled = range(3)

    def __init__(self, camera: Camera, cookie: int):
        self._camera, self.cookie = camera, cookie
        self.status = Request.Status.Pending
        self.buffers: dict = {}
        self.metadata: dict = {}
        self.controls: dict = {}
        self.sequence = 0

    def add_buffer(self, stream, buffer):
        if stream in self.buffers or stream not in self._camera._streams:
            raise _system_error("Failed to add buffer", errno.EEXIST if stream in self.buffers else errno.EINVAL)
        self.buffers[stream] = buffer

    def set_control(self, control_id, value):
        self.controls[control_id] = value

    def reuse(self):
        self.status, self.metadata, self.controls = Request.Status.Pending, {}, {}

    @property
    def has_pending_buffers(self):
        return self.status == Request.Status.Pending


# --- the camera manager and the camera ---------------------------------------------------------

_HELD: set = set()  # ids of cameras acquired by some Camera object in this process
_cm_ref = None


class CameraManager:
    version = "v0.5.0+fake"

    @staticmethod
    def singleton():
        global _cm_ref
        cm = _cm_ref() if _cm_ref is not None else None
        if cm is None or cm._sensor is not fake_camera.SENSOR:  # new hardware (fake_camera.reset): a new boot
            cm = CameraManager()
            _cm_ref = weakref.ref(cm)
        return cm

    def __init__(self):
        self.event_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._lock = threading.Lock()
        self._completed: list = []
        self._sensor = fake_camera.SENSOR
        self._cameras = [Camera(self, i) for i in range(self._sensor.switches.count)]

    def __del__(self):
        try:
            os.close(self.event_fd)
        except OSError:
            pass

    @property
    def cameras(self):
        return list(self._cameras)

    def get(self, camera_id):
        return next(c for c in self._cameras if c.id == camera_id)

    def get_ready_requests(self):
        try:
            os.eventfd_read(self.event_fd)
        except BlockingIOError:
            return []
        with self._lock:
            ready, self._completed = self._completed, []
        return ready

    def _complete(self, request):
        with self._lock:
            self._completed.append(request)
        os.eventfd_write(self.event_fd, 1)


class Camera:
    def __init__(self, manager: CameraManager, index: int):
        self._manager = manager
        self.id = f"/base/soc/i2c0mux/i2c@{index + 1}/imx219@10"
        self._acquired = self._running = False
        self._config = None
        self._streams: list = []
        self._queue: list = []
        self._lock = threading.Lock()
        self._thread = None
        self._stop = threading.Event()
        self._maps: dict = {}

    def __str__(self):
        return f"<libcamera.Camera '{self.id}'>"

    @property
    def controls(self):
        c = controls
        return {c.AeEnable: ControlInfo(False, True, True), c.ExposureTime: ControlInfo(13, 11766488, 20000),
                c.ExposureTimeMode: ControlInfo(0, 1, 0), c.AnalogueGain: ControlInfo(1.0, 10.666667, 1.0),
                c.AnalogueGainMode: ControlInfo(0, 1, 0), c.AwbEnable: ControlInfo(False, True, True),
                c.Brightness: ControlInfo(-1.0, 1.0, 0.0), c.Contrast: ControlInfo(0.0, 32.0, 1.0),
                c.FrameDurationLimits: ControlInfo(MIN_FRAME_US, 11767556, 33333),
                c.NoiseReductionMode: ControlInfo(0, 4, 0),
                c.ScalerCrop: ControlInfo(Rectangle(0, 0, 64, 64), Rectangle(0, 0, *SENSOR_SIZE),
                                          Rectangle(0, 0, *SENSOR_SIZE))}

    @property
    def properties(self):
        p = properties
        return {p.Model: "imx219", p.Location: 2, p.Rotation: 0, p.ColorFilterArrangement: 0,
                p.PixelArraySize: Size(*SENSOR_SIZE), p.PixelArrayActiveAreas: [Rectangle(0, 0, *SENSOR_SIZE)],
                p.UnitCellSize: Size(1120, 1120)}

    @property
    def streams(self):
        return set(self._streams)

    def acquire(self):
        if fake_camera.SENSOR.switches.busy or self.id in _HELD:
            raise _system_error("Failed to acquire camera", errno.EBUSY)
        _HELD.add(self.id)
        self._acquired = True

    def release(self):
        if self._running:
            raise _system_error("Failed to release camera", errno.EBUSY)
        if self._acquired:
            _HELD.discard(self.id)
            self._acquired = False
        self._unmap()

    def generate_configuration(self, roles):
        return CameraConfiguration([StreamConfiguration(r) for r in roles])

    def configure(self, config):
        if not self._acquired or self._running:
            raise _system_error("Failed to configure camera", errno.EACCES)
        if config.validate() == CameraConfiguration.Status.Invalid:
            raise _system_error("Failed to configure camera", errno.EINVAL)
        self._unmap()
        self._streams = []
        for c in config:
            c.stream = Stream(c)
            self._streams.append(c.stream)
        self._config = config

    def create_request(self, cookie=0):
        return Request(self, cookie)

    def start(self, controls={}):  # noqa: B006 (libcamera's own binding has this signature)
        if not self._acquired or self._config is None or self._running:
            raise _system_error("Failed to start camera", errno.EACCES)
        self._frame_us = self._frame_duration(controls, 33333)
        self._running = True
        self._stop.clear()
        fake_camera.SENSOR.starts += 1
        self._thread = threading.Thread(target=self._stream, name="fake-libcamera", daemon=True)
        self._thread.start()

    def stop(self):
        if not self._running:
            return
        self._stop.set()
        self._thread.join()
        self._running = False
        with self._lock:
            cancelled, self._queue = self._queue, []
        for request in cancelled:
            request.status = Request.Status.Cancelled
            for buffer in request.buffers.values():
                buffer.metadata = FrameMetadata(FrameMetadata.Status.Cancelled, planes=[
                    FrameMetadata.Plane(0) for _ in buffer.planes])
            self._manager._complete(request)

    def queue_request(self, request):
        if not self._running:
            raise _system_error("Failed to queue request", errno.EACCES)
        if request.status != Request.Status.Pending or not request.buffers:
            raise _system_error("Failed to queue request", errno.EINVAL)
        with self._lock:
            self._queue.append(request)

    # --- the sensor and ISP ---

    @staticmethod
    def _frame_duration(ctrls, default_us):
        limits = ctrls.get(controls.FrameDurationLimits)
        us = max(int(limits[0]), MIN_FRAME_US) if limits else default_us
        return max(us, fake_camera.SENSOR.switches.frame_s * 1e6)

    def _stream(self):
        sensor = fake_camera.SENSOR
        sequence = 0
        with sensor.lock:
            linked = sensor.link_up(time.monotonic())
        next_t = time.monotonic() + self._frame_us / 1e6
        while not self._stop.wait(max(0.0, next_t - time.monotonic())):
            now = time.monotonic()
            next_t = max(next_t + self._frame_us / 1e6, now)
            with sensor.lock:
                linked = linked and sensor.link_up(now)
                if not linked:
                    continue  # the CSI-2 receiver sees nothing: no frame, no error
                image = sensor.next_image()
                with self._lock:
                    request = self._queue.pop(0) if self._queue else None
                if request is None:
                    continue  # every buffer is held by the application: the frame is dropped
                self._fill(request, image, sequence, time.monotonic_ns())
                sensor.count_delivered(now)
            sequence += 1
            if controls.FrameDurationLimits in request.controls:
                self._frame_us = self._frame_duration(request.controls, self._frame_us)
            self._manager._complete(request)

    def _fill(self, request, image, sequence, timestamp_ns):
        for stream, buffer in request.buffers.items():
            c = stream.configuration
            plane = buffer.planes[0]
            key = id(buffer)
            if key not in self._maps:
                self._maps[key] = (buffer, mmap.mmap(plane.fd, plane.length, mmap.MAP_SHARED,
                                                     mmap.PROT_READ | mmap.PROT_WRITE, offset=plane.offset))
            out = np.frombuffer(self._maps[key][1], np.uint8, c.frame_size)
            render(image, str(c.pixel_format), (c.size.width, c.size.height), c.stride, out)
            buffer.metadata = FrameMetadata(FrameMetadata.Status.Success, sequence, timestamp_ns,
                                            [FrameMetadata.Plane(plane.length)])
        request.sequence = sequence
        request.status = Request.Status.Complete
        request.metadata = {controls.SensorTimestamp: timestamp_ns, controls.FrameDuration: int(self._frame_us),
                            controls.ExposureTime: min(int(self._frame_us) - 100, 20000),
                            controls.AnalogueGain: 1.0, controls.ScalerCrop: Rectangle(0, 0, *SENSOR_SIZE)}

    def _unmap(self):
        for _, m in self._maps.values():
            m.close()
        self._maps = {}
