"""Drawing one synthetic face: a head in face coordinates, an expression, a pose.

Face coordinates: unit = half the face width, origin at the face centre, y down. Shapes are
collected by a ``_Pen`` and drawn in one go through the pose: a yaw turns the features around a
vertical cylinder, then rotation, scale and shift place the head. Expressions move the brows, eyes
and mouth (and add folds and wrinkles) from NEUTRAL towards their target by a random intensity.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from edge.core.spec import LABELS

_SHIFT = 4  # cv2 sub-pixel bits
_ONE = 1 << _SHIFT

# Expression targets; a face moves from NEUTRAL towards its target by an intensity in [0.6, 1].
# bi/bo: inner/outer brow height, bix: inner brow x, arch: brow middle raise (negative = up),
# eye_h: eye opening, lift: lower-lid raise, droop: outer eye-corner drop, mw: mouth half-width,
# corner: mouth-corner drop (negative = up), open: mouth opening, upper: one-sided upper-lip raise,
# folds: nose-to-mouth folds, teeth: how much of the opening shows teeth.
NEUTRAL = dict(bi=-0.42, bo=-0.43, bix=0.17, arch=-0.04, eye_h=0.085, lift=0.0, droop=0.0,
               mw=0.30, corner=0.0, open=0.0, upper=0.0, folds=0.0, teeth=0.0)
TARGETS = {
    "angry": dict(bi=-0.27, bo=-0.47, bix=0.11, arch=0.0, eye_h=0.055, mw=0.25, corner=0.04, folds=0.3),
    "disgust": dict(bi=-0.33, bo=-0.38, bix=0.14, eye_h=0.045, lift=0.02, corner=0.03, open=0.03,
                    upper=0.12, folds=0.9, teeth=0.5),
    "fear": dict(bi=-0.6, bo=-0.52, bix=0.13, arch=-0.01, eye_h=0.15, mw=0.40, corner=0.05, open=0.11, teeth=0.5),
    "happy": dict(bi=-0.46, bo=-0.47, eye_h=0.045, lift=0.035, mw=0.42, corner=-0.13, open=0.1, folds=1.0, teeth=0.7),
    "sad": dict(bi=-0.58, bo=-0.35, bix=0.15, arch=0.03, eye_h=0.065, droop=0.05, mw=0.29, corner=0.11),
    "surprise": dict(bi=-0.66, bo=-0.6, arch=-0.13, eye_h=0.16, mw=0.16, open=0.21),
    "neutral": {},
}


_T = {n: np.linspace(0, 1, n)[:, None] for n in (10, 14)}
_UNIT = {n: (np.cos(a), np.sin(a)) for n in (12, 16, 28) for a in [np.linspace(0, 2 * math.pi, n, endpoint=False)]}


def _curve(p0, pm, p1, n: int = 10) -> np.ndarray:
    """Quadratic Bezier from p0 to p1 passing through pm at its middle."""
    p0, pm, p1 = np.asarray(p0, np.float64), np.asarray(pm, np.float64), np.asarray(p1, np.float64)
    c = 2 * pm - (p0 + p1) / 2
    t = _T[n]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * c + t ** 2 * p1


def _ellipse(cx, cy, ax, ay, n: int = 28) -> np.ndarray:
    cos, sin = _UNIT[n]
    return np.stack([cx + ax * cos, cy + ay * sin], axis=1)


@functools.lru_cache(maxsize=8)
def grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates scaled to [-0.5, 0.5): (y, x), each (h, w) float32."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return yy / h - 0.5, xx / w - 0.5


def _tone(value: float) -> int:
    return int(min(255.0, max(0.0, value)))


class _Pen:
    """Collects shapes in face coordinates, then draws them all through the head pose in one go."""

    def __init__(self):
        self.ops: list[tuple[np.ndarray, float, float, bool, bool]] = []  # points, tone, width (0 = fill), interior, mask

    def fill(self, pts, tone, interior=True, mask=False):
        self.ops.append((np.asarray(pts, np.float64).reshape(-1, 2), tone, 0.0, interior, mask))

    def line(self, pts, tone, width, interior=True):
        self.ops.append((np.asarray(pts, np.float64).reshape(-1, 2), tone, width, interior, False))

    def draw(self, canvas, mask, cx, cy, r, angle, yaw) -> None:
        pts = np.concatenate([op[0] for op in self.ops])
        interior = np.concatenate([np.full(len(op[0]), op[3]) for op in self.ops])
        # interior features sit on a vertical cylinder that the yaw turns; the outline stays
        turned = np.sin(np.arcsin(np.clip(pts[:, 0], -1.0, 1.0)) + yaw)
        pts[:, 0] = np.where(interior, turned, pts[:, 0])
        c, s = math.cos(angle) * r * _ONE, math.sin(angle) * r * _ONE
        xy = np.empty_like(pts)
        xy[:, 0] = c * pts[:, 0] - s * pts[:, 1] + cx * _ONE
        xy[:, 1] = s * pts[:, 0] + c * pts[:, 1] + cy * _ONE
        xy = np.round(xy).astype(np.int32)
        start = 0
        for points, tone, width, _, to_mask in self.ops:
            poly = [xy[start:start + len(points)]]
            start += len(points)
            if width:
                cv2.polylines(canvas, poly, False, _tone(tone), max(1, round(width * r)), cv2.LINE_AA, _SHIFT)
            else:
                cv2.fillPoly(canvas, poly, _tone(tone), cv2.LINE_AA, _SHIFT)
                if to_mask:
                    cv2.fillPoly(mask, poly, 255, cv2.LINE_AA, _SHIFT)


def _expression(label: str, t: float) -> dict:
    target = {**NEUTRAL, **TARGETS[label]}
    return {k: NEUTRAL[k] + t * (target[k] - NEUTRAL[k]) for k in NEUTRAL}


def _draw_head(pen: _Pen, rng: np.random.Generator, label: str) -> None:
    u = rng.uniform
    e = _expression(label, u(0.6, 1.0))
    skin = u(120, 235)
    hair = u(10, min(110, skin - 50))
    brow = min(hair + u(0, 40), skin * 0.45)
    fh = u(1.22, 1.38)  # face half-height
    # shoulders, neck, hair mass and ears behind the face
    pen.fill(_ellipse(0, 2.35, u(1.8, 2.3), 0.95), u(10, 240), interior=False, mask=True)
    pen.fill([(-0.42, 0.8), (0.42, 0.8), (0.5, 2.0), (-0.5, 2.0)], skin * u(0.7, 0.85), interior=False, mask=True)
    long_hair = u() < 0.4
    pen.fill(_ellipse(0, -0.3 + (0.35 if long_hair else 0), u(1.08, 1.2), fh * (1.05 if long_hair else 0.82)),
             hair, interior=False, mask=True)
    for side in (-1, 1):
        pen.fill(_ellipse(side * 0.98, -0.02, 0.13, 0.22), skin * 0.85, interior=False, mask=True)
    pen.fill(_ellipse(0, 0.05, 1.0, fh), skin, interior=False, mask=True)
    # forehead lines (surprise) under the fringe, then the fringe
    if label == "surprise":
        for y in (-0.78, -0.9):
            pen.line(_curve((-0.4, y), (0, y - 0.04), (0.4, y)), skin * 0.72, 0.025)
    hairline = u(-0.98, -0.72)
    pen.fill(_ellipse(0, hairline - 0.4, u(0.95, 1.05), 0.45), hair, interior=False)
    # eyes: socket shade, white, iris, lash line, (lower lid)
    ey, ex, ew = u(-0.2, -0.1), u(0.38, 0.46), u(0.17, 0.22)
    gaze = u(-0.03, 0.03)
    for side in (-1, 1):
        cx = side * ex
        pen.fill(_ellipse(cx, ey - 0.03, ew + 0.08, e["eye_h"] + 0.1), skin * u(0.72, 0.85))
        inner, outer = (cx - side * ew, ey), (cx + side * ew, ey + e["droop"])
        top = _curve(inner, (cx, ey - e["eye_h"] * 1.2), outer)
        bottom = _curve(outer, (cx, ey + e["eye_h"] * 0.8 - e["lift"]), inner)
        pen.fill(np.vstack([top, bottom]), min(255, skin + u(5, 30)))
        ih = min(0.075, e["eye_h"] * 0.95)
        pen.fill(_ellipse(cx + gaze, ey - e["eye_h"] * 0.1, 0.075, ih, 16), u(15, 60))
        pen.line(top, brow * 0.8, u(0.03, 0.045))
        if e["lift"] > 0.01:
            pen.line(bottom, skin * 0.6, 0.02)
        bi = (side * e["bix"], e["bi"])
        bo = (side * u(0.64, 0.72), e["bo"])
        bm = ((bi[0] + bo[0]) / 2, (bi[1] + bo[1]) / 2 + e["arch"])
        pen.line(_curve(bi, bm, bo), brow, u(0.055, 0.09))
    if label == "angry":
        for side in (-1, 1):
            pen.line([(side * 0.05, -0.42), (side * 0.07, -0.3)], skin * 0.6, 0.02)
    # nose: side shade, bottom, nostrils, wrinkles
    light = rng.choice((-1, 1))
    pen.fill([(0.1 * light, -0.15), (0.16 * light, 0.28), (0.05 * light, 0.3)], skin * 0.82)
    pen.line(_curve((-0.15, 0.3), (0, 0.37), (0.15, 0.3)), skin * 0.68, 0.03)
    for side in (-1, 1):
        pen.fill(_ellipse(side * 0.09, 0.33, 0.055, 0.028, 12), skin * 0.4)
    if label == "disgust":
        for side in (-1, 1):
            pen.line([(side * 0.08, 0.0), (side * 0.17, 0.1)], skin * 0.6, 0.022)
            pen.line([(side * 0.06, -0.05), (side * 0.14, -0.02)], skin * 0.6, 0.02)
    # folds from the nose wings to the mouth corners
    my = u(0.6, 0.7)
    mw, corner = e["mw"] * u(0.9, 1.1), e["corner"]
    if e["folds"] > 0.2:
        for side in (-1, 1):
            pen.line(_curve((side * 0.2, 0.28), (side * (mw + 0.1), my - 0.05), (side * (mw + 0.06), my + corner + 0.1)),
                     skin * (1 - 0.35 * e["folds"]), 0.025)
    _draw_mouth(pen, rng, label, e, my, mw, corner, skin)


def _draw_mouth(pen, rng, label, e, my, mw, corner, skin) -> None:
    u = rng.uniform
    lip = skin * u(0.45, 0.7)
    dark = u(15, 50)
    left, right = (-mw, my + corner), (mw, my + corner)
    opening = e["open"]
    if label == "angry" and u() < 0.5:  # bared, clenched teeth
        opening, e = 0.06, {**e, "teeth": 1.0}
    if label == "surprise":
        pen.fill(_ellipse(0, my + 0.04, mw, opening), dark)
        pen.line(np.vstack([_ellipse(0, my + 0.04, mw, opening), _ellipse(0, my + 0.04, mw, opening)[:1]]), lip, 0.04)
        return
    if opening < 0.02:
        pen.line(_curve(left, (0, my), right), lip, u(0.04, 0.06))
        return
    side = rng.choice((-1, 1))
    upper_mid = (side * 0.12 * (e["upper"] > 0), my - opening * 0.5 - e["upper"])
    top = _curve(left, upper_mid, right, 14)
    bottom = _curve(right, (0, my + opening * 1.5), left, 14)
    pen.fill(np.vstack([top, bottom]), dark)
    if e["teeth"] > 0:
        band = top.copy()
        band[:, 1] += opening * 1.6 * e["teeth"]
        pen.fill(np.vstack([top, band[::-1]]), u(190, 250))
        if label == "angry":
            pen.line(_curve(left, (0, my + 0.01), right), dark, 0.015)
    pen.line(np.vstack([top, bottom, top[:1]]), lip, 0.035)


#: Face half-width as a share of the image: a Haar frontal-face box is about 2.4 half-widths wide
#: (measured on these faces), so dataset crops (0.34..0.46) frame faces the way the edge
#: pipeline's detector crops them.
BOX_WIDTH = 2.4
CROP_SCALE = (0.34, 0.46)
HEAD_SCALE = (0.27, 0.3)  # the whole head with hair and shoulders, for compositing into frames


@dataclass(frozen=True)
class Pose:
    """Where the head sits in its square: half-width and centre as shares of the side, turn angles."""

    r: float
    cx: float = 0.5
    cy: float = 0.5
    angle: float = 0.0  # in-plane rotation, degrees
    yaw: float = 0.0  # turn around the vertical axis, radians

    @classmethod
    def random(cls, rng: np.random.Generator, scale: tuple[float, float] = CROP_SCALE) -> Pose:
        u = rng.uniform
        return cls(u(*scale), 0.5 + u(-0.05, 0.05), 0.5 + u(-0.04, 0.06), u(-15, 15), u(-0.3, 0.3))

    def face_box(self, size: int) -> tuple[int, int, int, int]:
        """(x, y, w, h) of the square a Haar frontal-face detector puts around this face."""
        side = BOX_WIDTH * self.r * size
        cx = self.cx + 0.9 * math.sin(self.yaw) * self.r  # the features turn with the yaw, the outline does not
        return round(cx * size - side / 2), round((self.cy + 0.04 * self.r) * size - side / 2), round(side), round(side)


def face_layer(rng: np.random.Generator, label: int, size: int,
               pose: Pose | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(face image, alpha mask) of one head drawn in a size x size square, both uint8.

    Without ``pose`` a random one framed like a detector crop is drawn from ``rng`` first; the
    face's identity (features, tones, hair, lighting) comes from ``rng`` after that, so a generator
    re-seeded the same way gives the same person with any label and pose.
    """
    pose = pose or Pose.random(rng)
    canvas = np.zeros((size, size), np.uint8)
    mask = np.zeros((size, size), np.uint8)
    u = rng.uniform
    r, cx, cy = pose.r * size, pose.cx * size, pose.cy * size
    pen = _Pen()
    _draw_head(pen, rng, LABELS[label])
    pen.draw(canvas, mask, cx, cy, r, math.radians(pose.angle), pose.yaw)
    # side lighting across the head, and shading that rounds the face towards its edges
    yy, xx = grid(size, size)
    a = u(0, 2 * math.pi)
    rounding = ((xx - (cx / size - 0.5)) ** 2 + 0.6 * (yy - (cy / size - 0.5)) ** 2) * (size / r) ** 2
    light = (1.0 + u(0, 0.45) * (math.cos(a) * xx + math.sin(a) * yy)) * (1.0 - 0.25 * np.minimum(rounding, 1.5))
    return np.clip(canvas * light, 0, 255).astype(np.uint8), mask


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A float32 (h, w) backdrop: flat, a gradient, a blotchy texture or stripes."""
    kind = rng.integers(4)
    base = rng.uniform(0, 255)
    if kind == 0:
        bg = np.full((h, w), base, np.float32)
    elif kind == 1:  # linear gradient
        yy, xx = grid(h, w)
        a = rng.uniform(0, 2 * math.pi)
        ramp = np.cos(a) * xx + np.sin(a) * yy
        bg = base + rng.uniform(-120, 120) * ramp
    elif kind == 2:  # blotchy low-frequency texture
        small = rng.uniform(-1, 1, (rng.integers(2, 7), rng.integers(2, 7))).astype(np.float32)
        bg = base + rng.uniform(20, 90) * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    else:  # stripes (curtains, shelves, tiles)
        period = rng.uniform(4, 30)
        vertical = rng.random() < 0.5
        axis = np.arange(w if vertical else h, dtype=np.float32)
        wave = np.sign(np.sin(2 * math.pi * axis / period)) * rng.uniform(10, 50)
        bg = base + (wave[None, :] if vertical else wave[:, None]) + np.zeros((h, w), np.float32)
    return np.clip(bg, 0, 255).astype(np.float32)


def finish(image: np.ndarray, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """Camera effects: blur and sensor noise (``scale`` = image size / DRAW_SIZE)."""
    sigma = rng.uniform(0, 1.3) * scale
    if sigma > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(0, 12))
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def composite(frame: np.ndarray, face: np.ndarray, mask: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend a face layer (gray or matching channels) into a float32 ``frame`` at top left (x, y), clipped."""
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + face.shape[1], w), min(y + face.shape[0], h)
    if x1 <= x0 or y1 <= y0:
        return
    alpha = mask[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32) / 255.0
    layer = face[y0 - y:y1 - y, x0 - x:x1 - x].astype(np.float32)
    if frame.ndim == 3:
        alpha = alpha[:, :, None]
        layer = layer if layer.ndim == 3 else layer[:, :, None]
    region = frame[y0:y1, x0:x1]
    region *= 1.0 - alpha
    region += layer * alpha
