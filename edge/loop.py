"""The camera loop: source -> recognizer -> overlays -> outputs, until the source ends, --max-frames,
q in the window, or SIGINT/SIGTERM. Whatever ends it, the video is finalized, the JSON lines are
flushed, the server is shut down and the camera is released.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass, replace

import cv2

from edge.config import EdgeConfig
from edge.detect import make_detector
from edge.draw import draw_faces
from edge.errors import UserError
from edge.outputs import Display, JsonlOutput, VideoOutput, frame_record
from edge.recognize import Recognizer, load_classifier
from edge.session import SessionStats
from edge.sources import open_source
from edge.stop import stop_on_signals
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
    from edge.serve import LiveServer

    host, port = config.serve_address
    token = config.token
    if config.listen_network and token is None:
        token = secrets.token_urlsafe(12)
    try:
        server = LiveServer(host, port, token).start()
    except OSError as e:
        raise UserError(f"--serve {config.serve}: cannot listen there ({e.strerror or e}); is another program "
                        "using the port? Pick another HOST:PORT") from None
    stack.callback(server.close)
    level = logging.WARNING if config.listen_network else logging.INFO
    log.log(level, "live view: %s", server.url)
    return server


def _serve_final_state(server, source, frame, record, session, jpeg_params, stop: threading.Event) -> None:
    """At the end of a file, keep the live view showing its last frame and the session until Ctrl-C."""
    if record is not None:
        view = {"session": session.view()} if session is not None else {}
        jpeg = cv2.imencode(".jpg", frame.image, jpeg_params)[1].tobytes() if frame is not None else None
        server.publish({**server.latest(), **record, **view, "ended": True}, jpeg)
    log.info("end of %s: the live view keeps showing its last frame; Ctrl-C to quit (--loop replays the file)",
             source.name)
    stop.wait()


def run_edge(config: EdgeConfig, *, timer: StageTimer | None = None, source=None,
             stop: threading.Event | None = None, encode_always: bool = False, on_frame=None) -> RunResult:
    """Run the loop described by ``config``. ``encode_always`` JPEG-encodes every frame (for benchmarks).

    ``on_frame(frame, faces, keys)`` (``fer-edge collect``) runs after recognition and before drawing, with
    the faces' framed crops and the keys pressed in the window or the live view since the last frame; it may
    draw on ``frame.image``, set ``stop``, and return extra fields for the live view's record.
    """
    timer = timer or StageTimer()
    stop = stop or threading.Event()
    result = RunResult(timer)
    classifier, spec = load_classifier(config.model, config.threads) if config.model else (None, None)
    tracker = Tracker(config.smooth_alpha if config.smooth else 1.0, config.iou_threshold, config.max_missed)
    detector = make_detector(config)
    # the saved config names the detector that ran (auto resolves to yunet or haar)
    config = replace(config, detector=detector.name,
                     detector_model=str(getattr(detector, "model_path", "") or "") or None)
    recognize = Recognizer(detector, classifier, spec, tracker, config.min_face,
                           config.max_faces, timer, config.detect_every, hold=config.max_missed,
                           keep_crops=on_frame is not None)
    source = source or open_source(config.source, config, stop)
    jpeg_params = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
    with contextlib.ExitStack() as stack, stop_on_signals(stop, then="finishing the current frame and stopping"):
        stack.callback(source.close)
        if not source.open():
            result.stopped_by = "signal"
            return result
        video = jsonl = server = display = None
        if config.serve:  # first: a port in use fails before any output file is opened
            server = _start_server(config, stack)
        if config.out:
            video = VideoOutput(config.out, source.fps or config.camera_fps)
            stack.callback(video.close)
        if config.jsonl:
            jsonl = JsonlOutput(config.jsonl)
            stack.callback(jsonl.close)
        if config.display:
            display = Display()
            stack.callback(display.close)
        drawing = bool(video or server or display or encode_always)
        session = (SessionStats(spec.labels, clock=getattr(source, "clock", "wall"))
                   if spec is not None and (server or config.summary) else None)
        session_view, next_view = {}, 0.0
        pace = 1.0 / source.fps if config.realtime and not source.live and source.fps else None
        meter, started, next_log = _FpsMeter(), time.perf_counter(), time.monotonic() + PROGRESS_EVERY_S
        frame = record = None
        pass_frames = 0  # frames of this pass over a file (--loop)
        while not stop.is_set():
            if config.max_frames is not None and result.frames >= config.max_frames:
                result.stopped_by = "--max-frames"
                break
            timer.begin()
            latest, frame = frame, source.read()
            timer.lap("capture")
            if frame is None and config.loop and not source.live and pass_frames:
                source.rewind()
                frame, pass_frames = source.read(), 0
                started = time.perf_counter()
            if frame is None:
                frame = latest
                break
            pass_frames += 1
            faces = recognize(frame)
            # the rate drawn on the frames: a file's own (what --out is written at), a camera's measured one
            fps = meter.tick()
            shown_fps = source.fps if not source.live and source.fps else fps
            record = None if server is None and jsonl is None else frame_record(result.frames, frame.timestamp, faces)
            extra = None
            if session is not None:
                session.update(frame.timestamp, faces)
                if server is not None and time.monotonic() >= next_view:
                    session_view, next_view = {"session": session.view()}, time.monotonic() + SESSION_VIEW_EVERY_S
            if on_frame is not None:
                keys = (display.take_keys() if display else []) + (server.take_keys() if server else [])
                extra = on_frame(frame, faces, keys)
            if drawing:
                draw_faces(frame.image, faces, shown_fps or None)
                timer.lap("draw")
            if server is not None or encode_always:
                jpeg = None
                if encode_always or server.streaming:
                    jpeg = cv2.imencode(".jpg", frame.image, jpeg_params)[1].tobytes()
                    timer.lap("encode")
                if server is not None:
                    server.publish({**record, "fps": round(fps, 2), **session_view, **(extra or {})}, jpeg)
            if video is not None or jsonl is not None:
                if video is not None:
                    video.write(frame.image)
                if jsonl is not None:
                    jsonl.write(record)
                timer.lap("write")
            if display is not None:
                if not display.show(frame.image):
                    result.stopped_by = "window closed"
                    stop.set()
                timer.lap("display")
            result.frames += 1
            result.faces += len(faces)
            result.frames_with_faces += bool(faces)
            if pace is not None:
                stop.wait(max(0.0, started + pass_frames * pace - time.perf_counter()))
                timer.lap("pace")
            timer.end_frame()
            if time.monotonic() >= next_log:
                next_log += PROGRESS_EVERY_S
                log.info("frame %d: %.1f fps, %d face(s)", result.frames, timer.fps, len(faces))
        if stop.is_set() and result.stopped_by == "end of source":
            result.stopped_by = "signal"
        elif server is not None and not source.live and result.stopped_by == "end of source":
            _serve_final_state(server, source, frame, record, session, jpeg_params, stop)
        if config.summary and session is not None:
            from edge.summary_image import write_summary

            log.info("wrote %s", write_summary(config.summary, session.view()))
    config.save_beside_outputs()  # after the outputs are complete: a failed run leaves no config behind
    log.info("stopped (%s) after %d frames", result.stopped_by, result.frames)
    return result
