"""``fer-edge run --summary FILE.png``: the session summary as an image, drawn with OpenCV (no plotting
library on a Pi): the share of time per expression, then each face tracked in the last minute as a strip
of one cell per second in the colour of its expression (the live view's timeline)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.core import atomic
from edge.draw import FONT, TRACK_MARK

WIDTH, ROW, PAD = 760, 26, 14
MAX_TRACKS = 8


def _rgb_hex_to_bgr(color: str) -> tuple[int, int, int]:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return b, g, r


def _text(image, text, x, y, scale=0.5, color=(230, 230, 230)):
    cv2.putText(image, text, (x, y), FONT, scale, color, 1, cv2.LINE_AA)


def render(view: dict) -> np.ndarray:
    """The summary image (BGR) of a ``SessionStats.view()``."""
    labels, colors = view["labels"], [_rgb_hex_to_bgr(c) for c in view["colors"]]
    summary, tracks = view["summary"], view["tracks"][-MAX_TRACKS:]
    height = PAD * 4 + ROW * (2 + len(labels)) + (ROW * (len(tracks) + 1) if tracks else 0)
    image = np.full((height, WIDTH, 3), 24, np.uint8)
    y = PAD + 16
    of = " of video" if summary.get("clock") == "media" else ""
    _text(image, f"fer-edge session: {summary['duration']:.1f} s{of}, {summary['tracks']} face(s) tracked; "
                 "share of face-seconds per expression", PAD, y, 0.55)
    bar_x = PAD + 90
    bar_w = WIDTH - bar_x - 150
    for name, color in zip(labels, colors):
        y += ROW
        share, seconds = summary["share"][name], summary["face_seconds"][name]
        _text(image, name, PAD, y)
        cv2.rectangle(image, (bar_x, y - 14), (bar_x + bar_w, y + 2), (50, 50, 50), cv2.FILLED)
        if round(bar_w * share):
            cv2.rectangle(image, (bar_x, y - 14), (bar_x + round(bar_w * share), y + 2), color, cv2.FILLED)
        _text(image, f"{100 * share:5.1f}%  {seconds:.1f} face-s", bar_x + bar_w + 10, y)
    if tracks:
        y += ROW + PAD
        _text(image, f"last {view['window']:.0f} s per face (one cell per {view['bin']:g} s; now on the right)", PAD, y)
        cells = int(view["window"] / view["bin"])
        cell = bar_w / cells
        for track in tracks:
            y += ROW
            cv2.rectangle(image, (PAD, y - 14), (bar_x - 8, y + 2), TRACK_MARK[1], cv2.FILLED)
            _text(image, f"#{track['track']}", PAD + 4, y, color=TRACK_MARK[0])
            cv2.rectangle(image, (bar_x, y - 14), (bar_x + bar_w, y + 2), (50, 50, 50), cv2.FILLED)
            for ago, cls in track["timeline"]:
                x0 = bar_x + round(bar_w - (ago / view["bin"] + 1) * cell)
                cv2.rectangle(image, (max(bar_x, x0), y - 14), (x0 + max(1, round(cell)) - 1, y + 2), colors[cls],
                              cv2.FILLED)
    return image[: y + PAD]


def write_summary(path: str | Path, view: dict) -> Path:
    ok, png = cv2.imencode(".png", render(view))
    return atomic.write_bytes(path, png.tobytes())
