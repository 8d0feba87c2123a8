"""A video recording that survives being killed (SIGKILL, the OOM killer, a power loss) up to its last seconds.

OpenCV's writer puts an MP4's index (``moov``) at the end, when the file is released: a recording killed before
that is unreadable, and OpenCV passes no muxer options, so a fragmented MP4 cannot be asked for. The recording is
therefore written as segments: ``OUT.recording/00000.mp4``, ``00001.mp4``, ... of ``SEGMENT_S`` seconds each, every
one finalized (playable) as soon as it is complete. ``close`` joins them without re-encoding (``edge.mp4join``)
into one file moved onto ``OUT`` and removes the folder. A recording that was killed leaves the folder with its
complete segments: the next recording to the same ``OUT`` (a restarted service, the same command again) first
recovers them, joined, into ``OUT``'s name with ``.interrupted-<time>`` before the suffix, and says so; at most
the segment being written when it was killed (``SEGMENT_S`` seconds) is lost.
The folder is locked while it is recorded into, so a second recording to the same ``OUT`` is refused, and a live
folder is never taken for a leftover. Containers other than MP4/M4V/MOV cannot be joined: they are written as one
segment (Matroska and AVI stay readable up to where they were cut).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import time
from pathlib import Path

import cv2

from edge.core import atomic
from edge.core.errors import UserError
from edge.core.lock import try_lock
from edge.mp4join import JoinError, copy_or_join, read_segment

log = logging.getLogger(__name__)
#: seconds of video per segment: what a kill can lose at most
SEGMENT_S = 2.0
#: containers whose segments ``edge.mp4join`` joins
JOINABLE = (".mp4", ".m4v", ".mov")
FOURCC = "mp4v"
#: OpenCV's FFmpeg writer opens no mp4v video narrower or lower than this
MIN_SIDE = 2


def recording_dir(out: str | os.PathLike) -> Path:
    """The folder of ``out``'s segments while it is recorded: ``OUT.recording`` beside it."""
    out = Path(out)
    return out.with_name(out.name + ".recording")


class Recording:
    """Segments of one video, at ``fps`` and a fixed frame size; ``close`` puts them together onto ``out``."""

    def __init__(self, out: str | os.PathLike, fps: float):
        self.out, self.fps = Path(out), fps
        self.folder = recording_dir(self.out)
        self.frames = 0
        self.segment_frames = (max(1, math.ceil(fps * SEGMENT_S)) if self.out.suffix.lower() in JOINABLE
                               else None)
        self._writer = None
        self._size: tuple[int, int] | None = None
        self._segments: list[Path] = []
        self._in_segment = 0
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self._lock = self._claim()

    def _claim(self) -> int:
        """Lock the recording folder (recovering a killed recording's first); returns the lock's descriptor."""
        try:
            self.folder.mkdir()
        except FileExistsError:
            fd = os.open(self.folder, os.O_RDONLY)
            if not try_lock(fd):
                os.close(fd)
                raise UserError(f"--out {self.out}: another fer-edge is recording it (into {self.folder}); choose "
                                "another file") from None
            os.close(fd)
            recover(self.folder, self.out)
            self.folder.mkdir()
        fd = os.open(self.folder, os.O_RDONLY)
        if not try_lock(fd):  # another recording claimed the new folder in between
            os.close(fd)
            raise UserError(f"--out {self.out}: another fer-edge is recording it (into {self.folder}); choose "
                            "another file")
        return fd

    def write(self, image) -> None:
        if self._writer is None:
            self._size = self._size or (image.shape[1], image.shape[0])
            self._writer = self._open_segment()
        self._writer.write(image)
        self.frames += 1
        self._in_segment += 1
        if self.segment_frames is not None and self._in_segment >= self.segment_frames:
            self._writer.release()  # this segment is now a playable file; the next frame starts another
            self._writer, self._in_segment = None, 0

    def _open_segment(self):
        path = self.folder / f"{len(self._segments):05d}{self.out.suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*FOURCC), self.fps, self._size)
        if not writer.isOpened():
            self.discard()
            w, h = self._size
            if min(w, h) < MIN_SIDE:
                raise UserError(f"--out {self.out}: the frames are {w}x{h} pixels; {FOURCC} video needs at least "
                                f"{MIN_SIDE}x{MIN_SIDE} (is the first image of the source that small?)")
            raise UserError(f"--out {self.out}: OpenCV cannot write {FOURCC} video there (check the folder is "
                            "writable and the name ends in .mp4)")
        self._segments.append(path)
        return writer

    def _release(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def close(self) -> int:
        """Finalize the last segment, join the segments onto ``out`` (atomically), remove the folder; returns the
        frames readable in ``out``. Nothing recorded: nothing is written. A video that does not read back
        completely (a full disk) is a UserError and nothing is left under ``out``'s name."""
        self._release()
        try:
            if not self.frames:
                return 0
            readable = 0
            with contextlib.suppress(JoinError, OSError), atomic.atomic_path(self.out) as tmp:
                copy_or_join(self._segments, tmp)
                readable = frames_in(tmp)
                if readable < self.frames:
                    raise JoinError("short")  # leaves nothing under out's name
            if readable < self.frames:
                raise UserError(f"--out {self.out}: the video could not be written completely ({readable} of "
                                f"{self.frames} frames readable; is the disk full?); nothing was saved under that "
                                "name", exit_code=1)
            return readable
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the folder and its segments (and release the lock)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None


def recover(folder: Path, out: Path) -> Path | None:
    """Join the complete segments a killed recording left in ``folder`` into ``OUT.interrupted-<time>.SUFFIX``
    beside ``out``, remove ``folder``, and return the recovered file (None if no segment was complete)."""
    segments = sorted(p for p in folder.iterdir() if p.suffix == out.suffix and p.stem.isdigit())
    complete = []
    for path in segments:
        if out.suffix.lower() in JOINABLE:
            try:
                read_segment(path)
            except (JoinError, OSError, ValueError):
                break  # the segment being written when it was killed: it and anything after are lost
        elif frames_in(path) == 0:
            break
        complete.append(path)
    recovered = None
    if complete:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(complete[-1].stat().st_mtime))
        recovered = out.with_name(f"{out.stem}.interrupted-{stamp}{out.suffix}")
        try:
            with atomic.atomic_path(recovered) as tmp:
                copy_or_join(complete, tmp)
        except (JoinError, OSError) as e:
            log.warning("%s: the segments of a recording that was cut off could not be joined (%s); they stay "
                        "in %s", out, e, folder)
            raise UserError(f"--out {out}: {folder} holds the segments of a recording that was cut off and they "
                            f"could not be recovered ({e}); move the folder away and try again") from None
        log.warning("%s: a recording to it was cut off (killed or a power loss); its %d complete segment(s), %d "
                    "frames, are recovered into %s", out, len(complete), frames_in(recovered), recovered)
    else:
        log.warning("%s: a recording to it was cut off before its first %g seconds were complete; nothing to "
                    "recover", out, SEGMENT_S)
    shutil.rmtree(folder, ignore_errors=True)
    return recovered


def frames_in(path: str | os.PathLike) -> int:
    """How many frames the video at ``path`` holds (0 if it cannot be read): an MP4's sample table, read directly
    (FFmpeg would print "moov atom not found" for a file cut short), else what OpenCV reads back."""
    if Path(path).suffix.lower() in JOINABLE:
        try:
            return len(read_segment(path).sizes)
        except (JoinError, OSError, ValueError, IndexError):
            return 0
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return 0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        return count if count > 0 else int(cap.read()[0])
    finally:
        cap.release()
