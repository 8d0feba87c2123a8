"""Overlays drawn in place on the display image: a box, label and confidence per face, its track id, and the FPS.

The box and label have the class's colour; the track id is white on black (``TRACK_MARK``), a mark no class
colour can be mistaken for, as in the live view's cards and timelines.
"""

from __future__ import annotations

import cv2
import numpy as np

#: BGR colours, one per class index (cycled if a model has more classes).
PALETTE = ((60, 60, 230), (40, 140, 60), (160, 60, 160), (40, 200, 240), (200, 120, 40), (240, 200, 60),
           (200, 200, 200))
FACE_ONLY = (0, 255, 0)
#: (text, background) of a track's id: white on black, neither a class colour (tests/test_edge_session.py)
TRACK_MARK = ((255, 255, 255), (0, 0, 0))
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _label(image: np.ndarray, text: str, x: int, y: int, color, scale: float, ink=(0, 0, 0)) -> None:
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    y = max(y, th + base + 2)
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 4, y), color, cv2.FILLED)
    cv2.putText(image, text, (x + 2, y - base), FONT, scale, ink, 1, cv2.LINE_AA)


def draw_faces(image: np.ndarray, faces, fps: float | None = None) -> np.ndarray:
    """Draw each face (``.box`` x,y,w,h; ``.label``; ``.confidence``; ``.class_index``) and the FPS."""
    scale = max(0.4, image.shape[1] / 1280)
    thickness = max(1, round(image.shape[1] / 320))
    for face in faces:
        x, y, w, h = (int(v) for v in face.box)
        if face.label is None:
            color, text = FACE_ONLY, "face"
        else:
            color = PALETTE[face.class_index % len(PALETTE)]
            text = f"{face.label} {100 * face.confidence:.0f}%"
        cv2.rectangle(image, (x, y), (x + w, y + h), color, thickness)
        _label(image, text, x, y - thickness, color, scale)
        _label(image, f"#{face.track_id}", x + thickness, y + h - thickness, TRACK_MARK[1], scale, TRACK_MARK[0])
    if fps is not None:
        _label(image, f"{fps:.1f} fps", 4, 4, (255, 255, 255), scale)
    return image
