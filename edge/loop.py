"""The camera loop: source -> recognizer -> overlays -> outputs, until the source ends, --max-frames,
q in the window, or SIGINT/SIGTERM. Whatever ends it, the video is finalized, the JSON lines are
flushed, the server is shut down and the camera is released.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import secrets
import threading
import time
from dataclasses import dataclass, replace

import cv2

from edge.config import EdgeConfig
from edge.core.errors import UserError
from edge.core.stop import stop_on_signals, wait_for
from edge.detect import make_detector
from edge.draw import draw_faces
from edge.frame import FrameSource
from edge.live.session import SessionStats
from edge.outputs import Display, JsonlOutput, VideoOutput, frame_record
from edge.recognize import Recognizer, load_classifier
from edge.sources import open_source
from edge.timing import StageTimer
from edge.track import Tracker

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 10.0
#: the live view's timelines and summary are recomputed at most this often
SESSION_VIEW_EVERY_S = 0.25


@dataclass
class RunResult:
    timer: StageTimer
    frames: int = 0
    frames_with_faces: int = 0
    faces: int = 0
    stopped_by: str = "end of source"


class _FpsMeter:
    """Frames per second as an exponential average of frame-to-frame times."""

    def __init__(self):
        self.fps, self._last = 0.0, None

    def tick(self) -> float:
        now = time.perf_counter()
        if self._last is not None and now > self._last:
            inst = 1.0 / (now - self._last)
            self.fps = inst if self.fps == 0 else 0.9 * self.fps + 0.1 * inst
        self._last = now
        return self.fps


def _start_server(config: EdgeConfig, stack: contextlib.ExitStack):
    from edge.live.server import LiveServer

    host, port = config.serve_address
    token = config.token
    if config.listen_network and token is None:
        token = secrets.token_urlsafe(12)
    try:
        server = LiveServer(host, port, token).start()
    except OSError as e:
        hint = ("is another program using the port? Pick another HOST:PORT" if e.errno == errno.EADDRINUSE
                else "is that address one of this machine's (IPv6 enabled for [::1])? Pick another HOST:PORT")
        raise UserError(f"--serve {config.serve}: cannot listen there ({e.strerror or e}); {hint}") from None
    stack.callback(server.close)
    level = logging.WARNING if config.listen_network else logging.INFO
    urls = server.urls
    log.log(level, "live view: %s", urls[0] if len(urls) == 1 else " or ".join(urls))
    return server


@dataclass
class _Outputs:
    """Where frames go: the live view, the video file, the JSON lines, the window (each None when off)."""

    server: object = None
    video: VideoOutput | None = None
    jsonl: JsonlOutput | None = None
    display: Display | None = None

    @classmethod
    def open(cls, config: EdgeConfig, fps: float, stack: contextlib.ExitStack) -> _Outputs:
        """Open every output ``config`` asks for; ``stack`` closes them."""
        out = cls()
        if config.serve:  # first: a port in use fails before any output file is opened
            out.server = _start_server(config, stack)
        if config.out:
            out.video = VideoOutput(config.out, fps)
            stack.callback(out.video.close)
        if config.jsonl:
            out.jsonl = JsonlOutput(config.jsonl)
            stack.push(lambda kind, *_: out.jsonl.close(failed=kind is not None))
        if config.display:
            out.display = Display()
            stack.callback(out.display.close)
        return out

    def take_keys(self) -> list:
        """The keys pressed in the window or the live view since the last call."""
        return (self.display.take_keys() if self.display else []) + (self.server.take_keys() if self.server else [])


def _build_recognizer(config: EdgeConfig, timer: StageTimer, keep_crops: bool):
    """(config naming the detector that runs, the recognizer, the model's spec or None without a model)."""
    classifier, spec = load_classifier(config.model, config.threads) if config.model else (None, None)
    tracker = Tracker(config.smooth_alpha if config.smooth else 1.0, config.iou_threshold, config.max_missed)
    detector = make_detector(config)
    # the saved config names the detector that ran (auto resolves to yunet or haar)
    config = replace(config, detector=detector.name,
                     detector_model=None if detector.model_path is None else str(detector.model_path))
    recognize = Recognizer(detector, classifier, spec, tracker, config.min_face,
                           config.max_faces, timer, config.detect_every, hold=config.max_missed,
                           keep_crops=keep_crops)
    return config, recognize, spec


class _FrameLoop:
    """One pass per frame: read, recognize, update the session, hand to ``on_frame``, draw, publish, write,
    show, count, pace; until the source ends (with --loop a file starts again), --max-frames, or ``stop``."""

    def __init__(self, config: EdgeConfig, source: FrameSource, recognize: Recognizer, out: _Outputs, session, result: RunResult,
                 stop: threading.Event, encode_always: bool, on_frame):
        self.config, self.source, self.recognize, self.out, self.session = config, source, recognize, out, session
        self.result, self.timer, self.stop = result, result.timer, stop
        self.encode_always, self.on_frame = encode_always, on_frame
        self.drawing = bool(out.video or out.server or out.display or encode_always)
        self.jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
        self.session_view, self.next_view = {}, 0.0
        self.pace = 1.0 / source.fps if config.realtime and not source.live and source.fps else None
        self.meter, self.started = _FpsMeter(), time.perf_counter()
        self.next_log = time.monotonic() + PROGRESS_EVERY_S
        #: the last frame shown and its record (kept on screen at the end of a file)
        self.frame = self.record = None
        self.pass_frames = 0  # frames of this pass over a file (--loop)
        #: an image folder's frames are unrelated stills: nothing is tracked or smoothed from one to the next
        self.stills = source.stills

    def run(self) -> None:
        result, timer = self.result, self.timer
        while not self.stop.is_set():
            if self.config.max_frames is not None and result.frames >= self.config.max_frames:
                result.stopped_by = "--max-frames"
                break
            timer.begin()
            frame = self.source.read()
            timer.lap("capture")
            if frame is None and self.config.loop and not self.source.live and self.pass_frames:
                self.source.rewind()
                frame, self.pass_frames, self.started = self.source.read(), 0, time.perf_counter()
            if frame is None:
                break
            self.frame = frame
            self.pass_frames += 1
            self._one_frame(frame)

    def _one_frame(self, frame) -> None:
        out, result = self.out, self.result
        if self.stills:
            self.recognize.forget()
        faces = self.recognize(frame)
        fps = self.meter.tick()
        # the rate drawn on the frames: a file's own (what --out is written at), a camera's measured one
        shown_fps = self.source.fps if not self.source.live and self.source.fps else fps
        record = None if out.server is None and out.jsonl is None else frame_record(result.frames, frame.timestamp,
                                                                                     faces)
        self.record = record
        self._update_session(frame, faces)
        extra = self.on_frame(frame, faces, out.take_keys()) if self.on_frame is not None else None
        if self.drawing:
            draw_faces(frame.image, faces, shown_fps or None)
            self.timer.lap("draw")
        self._publish(frame, record, fps, extra)
        self._write(frame, record)
        self._show(frame)
        result.frames += 1
        result.faces += len(faces)
        result.frames_with_faces += bool(faces)
        self._wait_for_pace()
        self.timer.end_frame()
        self._log_progress(len(faces))

    def _update_session(self, frame, faces) -> None:
        if self.session is None:
            return
        self.session.update(frame.timestamp, faces)
        if self.out.server is not None and time.monotonic() >= self.next_view:
            self.session_view = {"session": self.session.view()}
            self.next_view = time.monotonic() + SESSION_VIEW_EVERY_S

    def _publish(self, frame, record, fps: float, extra) -> None:
        server = self.out.server
        if server is None and not self.encode_always:
            return
        jpeg = None
        if self.encode_always or server.streaming:
            jpeg = cv2.imencode(".jpg", frame.image, self.jpeg_params)[1].tobytes()
            self.timer.lap("encode")
        if server is not None:
            server.publish({**record, "fps": round(fps, 2), **self.session_view, **(extra or {})}, jpeg)

    def _write(self, frame, record) -> None:
        video, jsonl = self.out.video, self.out.jsonl
        if video is None and jsonl is None:
            return
        if video is not None:
            video.write(frame.image)
        if jsonl is not None:
            jsonl.write(record)
        self.timer.lap("write")

    def _show(self, frame) -> None:
        if self.out.display is None:
            return
        if not self.out.display.show(frame.image):
            self.result.stopped_by = "window closed"
            self.stop.set()
        self.timer.lap("display")

    def _wait_for_pace(self) -> None:
        if self.pace is not None:
            self.stop.wait(max(0.0, self.started + self.pass_frames * self.pace - time.perf_counter()))
            self.timer.lap("pace")

    def serve_final_state(self) -> None:
        """At the end of a file, keep the live view showing its last frame and the session until Ctrl-C."""
        server, frame = self.out.server, self.frame
        if self.record is not None:
            view = {"session": self.session.view()} if self.session is not None else {}
            jpeg = cv2.imencode(".jpg", frame.image, self.jpeg_params)[1].tobytes() if frame is not None else None
            server.publish({**server.latest(), **self.record, **view, "ended": True}, jpeg)
        replay = " (--loop replays the file)" if self.on_frame is None else ""  # run has --loop; collect does not
        log.info("end of %s: the live view keeps showing its last frame; Ctrl-C to quit%s", self.source.name, replay)
        wait_for(self.stop)  # wakes up now and then: a signal another thread took still stops it

    def _log_progress(self, faces: int) -> None:
        if time.monotonic() >= self.next_log:
            self.next_log += PROGRESS_EVERY_S
            log.info("frame %d: %.1f fps, %d face(s)", self.result.frames, self.timer.fps, faces)


def _write_summary(config: EdgeConfig, session) -> None:
    if config.summary and session is not None:
        from edge.live.summary_image import write_summary

        log.info("wrote %s", write_summary(config.summary, session.view()))


def run_edge(config: EdgeConfig, *, timer: StageTimer | None = None, source: FrameSource | None = None,
             stop: threading.Event | None = None, encode_always: bool = False, on_frame=None) -> RunResult:
    """Run the loop described by ``config``. ``encode_always`` JPEG-encodes every frame (for benchmarks).

    ``on_frame(frame, faces, keys)`` (``fer-edge collect``) runs after recognition and before drawing, with
    the faces' framed crops and the keys pressed in the window or the live view since the last frame; it may
    draw on ``frame.image``, set ``stop``, and return extra fields for the live view's record.
    """
    stop = stop or threading.Event()
    result = RunResult(timer or StageTimer())
    config, recognize, spec = _build_recognizer(config, result.timer, keep_crops=on_frame is not None)
    source = source or open_source(config.source, config, stop)
    with contextlib.ExitStack() as stack, stop_on_signals(stop, then="finishing the current frame and stopping"):
        stack.callback(source.close)
        source.open()
        if stop.is_set():  # asked to stop while a camera was being retried
            result.stopped_by = "signal"
            return result
        out = _Outputs.open(config, source.fps or config.camera_fps, stack)
        session = (SessionStats(spec.labels, clock=source.clock)
                   if spec is not None and (out.server or config.summary) else None)
        frames = _FrameLoop(config, source, recognize, out, session, result, stop, encode_always, on_frame)
        frames.run()
        if stop.is_set() and result.stopped_by == "end of source":  # the hook's own reason (collect --max), else a signal
            result.stopped_by = getattr(on_frame, "stopped_by", None) or "signal"
        elif out.server is not None and not source.live and result.stopped_by == "end of source":
            frames.serve_final_state()
        _write_summary(config, session)
    config.save_beside_outputs()  # after the outputs are complete: a failed run leaves no config behind
    log.info("stopped (%s) after %d frames", result.stopped_by, result.frames)
    return result
