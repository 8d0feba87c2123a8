"""Per-face temporal smoothing: greedy IoU matching of boxes to tracks, then an EMA of probabilities.

A face keeps its track (and its averaged probabilities) while each new box overlaps its last box
by at least ``iou_threshold``; a track unseen for more than ``max_missed`` frames is dropped.
``alpha`` is the weight of the newest probabilities: 1.0 turns smoothing off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N,4 xywh) with every box in ``b`` (M,4 xywh) -> (N, M)."""
    a = np.asarray(a, np.float64)[:, None, :]
    b = np.asarray(b, np.float64)[None, :, :]
    iw = np.clip(np.minimum(a[..., 0] + a[..., 2], b[..., 0] + b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 1] + a[..., 3], b[..., 1] + b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = a[..., 2] * a[..., 3] + b[..., 2] * b[..., 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass
class Track:
    id: int
    box: np.ndarray
    probs: np.ndarray
    missed: int = 0


class Tracker:
    def __init__(self, alpha: float = 0.5, iou_threshold: float = 0.3, max_missed: int = 5):
        self.alpha, self.iou_threshold, self.max_missed = alpha, iou_threshold, max_missed
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: np.ndarray, probs: np.ndarray | None) -> list[tuple[int, np.ndarray | None]]:
        """Match this frame's boxes to tracks; return (track id, smoothed probabilities) per box."""
        matched: dict[int, Track] = {}
        taken: set[int] = set()
        if len(boxes) and self.tracks:
            iou = iou_matrix(boxes, np.stack([t.box for t in self.tracks]))
            for flat in np.argsort(-iou, axis=None):
                i, j = divmod(int(flat), len(self.tracks))
                if iou[i, j] < self.iou_threshold:
                    break
                if i not in matched and j not in taken:
                    matched[i] = self.tracks[j]
                    taken.add(j)
        result = []
        seen = set()
        for i, box in enumerate(boxes):
            p = None if probs is None else probs[i]
            track = matched.get(i)
            if track is None:
                track = Track(self._next_id, np.array(box, np.float64), None if p is None else p.copy())
                self._next_id += 1
                self.tracks.append(track)
            else:
                track.box = np.array(box, np.float64)
                track.missed = 0
                if p is not None:
                    track.probs = p.copy() if track.probs is None else self.alpha * p + (1 - self.alpha) * track.probs
            seen.add(track.id)
            result.append((track.id, track.probs))
        for t in self.tracks:
            if t.id not in seen:
                t.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return result
