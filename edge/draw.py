"""Overlays drawn in place on the display image: a box, track id, label and confidence per face, and the FPS.

The box has its class's colour; a bar along its bottom edge has the track's colour, the one the live view
gives that face's bars and timeline.
"""

from __future__ import annotations

import cv2
import numpy as np

#: BGR colours, one per class index (cycled if a model has more classes).
PALETTE = ((60, 60, 230), (40, 140, 60), (160, 60, 160), (40, 200, 240), (200, 120, 40), (240, 200, 60),
           (200, 200, 200))
FACE_ONLY = (0, 255, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def track_color(track_id: int) -> tuple[int, int, int]:
    """A BGR colour per track id: hues a golden angle apart, so neighbouring ids differ clearly."""
    hue = int((track_id * 137.508) % 360) // 2  # OpenCV hue is 0..179
    return tuple(int(v) for v in cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0])


def _label(image: np.ndarray, text: str, x: int, y: int, color, scale: float) -> None:
    (tw, th), base = cv2.getTextSize(text, FONT, scale, 1)
    y = max(y, th + base + 2)
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 4, y), color, cv2.FILLED)
    cv2.putText(image, text, (x + 2, y - base), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)


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
            text = f"#{face.track_id} {face.label} {100 * face.confidence:.0f}%"
        cv2.rectangle(image, (x, y), (x + w, y + h), color, thickness)
        cv2.rectangle(image, (x, y + h - 3 * thickness), (x + w, y + h), track_color(face.track_id), cv2.FILLED)
        _label(image, text, x, y - thickness, color, scale)
    if fps is not None:
        _label(image, f"{fps:.1f} fps", 4, 4, (255, 255, 255), scale)
    return image
