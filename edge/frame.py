"""What every frame source delivers (``Frame``) and how a live camera says it failed (``SourceError``).

Its own module so that the sources (``edge.sources``) and the picamera2 adapter (``edge.picam``),
which ``sources`` opens on demand, both import it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
