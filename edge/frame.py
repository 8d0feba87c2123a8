"""What every frame source is (``FrameSource``), what it delivers (``Frame``) and how a live camera says it
failed (``SourceError``).

Its own module so that the sources (``edge.sources``) and the picamera2 adapter (``edge.picam``),
which ``sources`` opens on demand, both import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

#: what a source's frame timestamps count: "wall" = Unix time when the frame arrived (a camera, an image
#: folder), "media" = seconds from the start of a video file (``edge.live.session`` labels its timelines so)
Clock = Literal["wall", "media"]


class SourceError(Exception):
    """A live camera did not open or stopped delivering frames: worth retrying."""


@dataclass
class Frame:
    #: what is displayed, drawn on and written: BGR (H, W, 3) or BGRA (H, W, 4) uint8.
    image: np.ndarray
    #: uint8 (h, w) grayscale for detection and the model; may be a strided view (a Y plane).
    gray: np.ndarray
    #: multiply gray coordinates by (sx, sy) to get image coordinates.
    scale: tuple[float, float]
    timestamp: float


@runtime_checkable
class FrameSource(Protocol):
    """What the camera loop (``edge.loop``) reads frames from: a camera, a video file, an image folder, or
    ``edge.sources.Reconnecting`` around one of them. Implementations subclass it (so a type checker compares
    their signatures with these) and set the four attributes in ``__init__``.

    ``open()`` before the first ``read()``; ``close()`` always, even after a failed ``open()``. A live
    camera that fails raises ``SourceError`` from ``open()`` or ``read()`` (``Reconnecting`` retries); a bad
    file or folder raises ``edge.core.errors.UserError``.
    """

    #: how messages name it: "usb:0", "picamera2:0", the file or folder as given
    name: str
    #: a camera (True) never ends; a file or folder (False) ends, can be rewound and is paced by ``fps``
    live: bool
    #: the frame rate the source declares (a file's, the camera's configured one), None when unknown
    fps: float | None
    #: what ``Frame.timestamp`` counts (``Clock``)
    clock: Clock
    #: True when each frame is a picture of its own (an image folder), not the next moment of one scene: the loop
    #: then neither tracks nor smooths faces from one frame to the next
    stills: bool = False

    def open(self) -> None:
        """Start delivering frames."""

    def read(self) -> Frame | None:
        """The next frame; None when a file or folder has ended (a live source blocks or raises instead)."""

    def rewind(self) -> None:
        """Start again from the first frame (``--loop``); a file's timestamps continue after the last pass."""

    def close(self) -> None:
        """Release the camera or file; safe to call twice and after a failed ``open()``."""
