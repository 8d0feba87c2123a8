"""``fer-edge run --summary FILE.png``: the session summary as an image, drawn with OpenCV (no plotting
library on a Pi): the share of face-seconds per expression, then each face tracked in the last minute as a
strip of one cell per second in the colour of its expression (the live view's timeline). The image is as wide
as its longest line of text needs, so nothing is cut off."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.core import atomic
from edge.draw import FONT, TRACK_MARK

ROW, PAD, GAP = 26, 14, 10
#: the bars' width; the image widens to whatever its text needs around them
BAR_W = 480
MAX_TRACKS = 8
TITLE_SCALE, TEXT_SCALE = 0.55, 0.5


def _rgb_hex_to_bgr(color: str) -> tuple[int, int, int]:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return b, g, r


def _text(image, text, x, y, scale=TEXT_SCALE, color=(230, 230, 230)):
    cv2.putText(image, text, (x, y), FONT, scale, color, 1, cv2.LINE_AA)


def _width(text: str, scale: float = TEXT_SCALE) -> int:
    return cv2.getTextSize(text, FONT, scale, 1)[0][0]


def render(view: dict) -> np.ndarray:
    """The summary image (BGR) of a ``SessionStats.view()``."""
    labels, colors = view["labels"], [_rgb_hex_to_bgr(c) for c in view["colors"]]
    summary, tracks = view["summary"], view["tracks"][-MAX_TRACKS:]
    of = " of video" if summary.get("clock") == "media" else ""
    title = (f"fer-edge session: {summary['duration']:.1f} s{of}, {summary['tracks']} face(s) tracked; "
             "share of face-seconds per expression")
    values = [f"{100 * summary['share'][n]:5.1f}%  {summary['face_seconds'][n]:.1f} face-s" for n in labels]
    strips = f"last {view['window']:.0f} s per face (one cell per {view['bin']:g} s; now on the right)"
    marks = [f"#{t['track']}" for t in tracks]
    bar_x = PAD + max(_width(t) for t in [*labels, *marks]) + GAP + 8
    bar_w = BAR_W
    width = max(_width(title, TITLE_SCALE) + 2 * PAD, bar_x + bar_w + GAP + max(map(_width, values)) + PAD,
                _width(strips) + 2 * PAD if tracks else 0)
    height = PAD * 4 + ROW * (2 + len(labels)) + (ROW * (len(tracks) + 1) if tracks else 0)
    image = np.full((height, width, 3), 24, np.uint8)
    y = PAD + 16
    _text(image, title, PAD, y, TITLE_SCALE)
    for name, color, value in zip(labels, colors, values):
        y += ROW
        share = summary["share"][name]
        _text(image, name, PAD, y)
        cv2.rectangle(image, (bar_x, y - 14), (bar_x + bar_w, y + 2), (50, 50, 50), cv2.FILLED)
        if round(bar_w * share):
            cv2.rectangle(image, (bar_x, y - 14), (bar_x + round(bar_w * share), y + 2), color, cv2.FILLED)
        _text(image, value, bar_x + bar_w + GAP, y)
    if tracks:
        y += ROW + PAD
        _text(image, strips, PAD, y)
        cells = int(view["window"] / view["bin"])
        cell = bar_w / cells
        for track in tracks:
            y += ROW
            cv2.rectangle(image, (PAD, y - 14), (bar_x - 8, y + 2), TRACK_MARK[1], cv2.FILLED)
            _text(image, f"#{track['track']}", PAD + 4, y, color=TRACK_MARK[0])  # the chip spans PAD..bar_x - 8
            cv2.rectangle(image, (bar_x, y - 14), (bar_x + bar_w, y + 2), (50, 50, 50), cv2.FILLED)
            for ago, cls in track["timeline"]:
                x0 = bar_x + round(bar_w - (ago / view["bin"] + 1) * cell)
                cv2.rectangle(image, (max(bar_x, x0), y - 14), (x0 + max(1, round(cell)) - 1, y + 2), colors[cls],
                              cv2.FILLED)
    return image[: y + PAD]


def write_summary(path: str | Path, view: dict) -> Path:
    ok, png = cv2.imencode(".png", render(view), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return atomic.write_bytes(path, png.tobytes())
