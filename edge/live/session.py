"""What the live view and ``--summary`` show beyond one frame: each tracked face's expression over the last
minute (one bin per second, holding the expression it showed most in that second), and the session's share
of face-seconds per expression (two faces for ten seconds count twenty).

Time is the frames' own timestamps (``clock``: "media", seconds into a video file, or "wall", a camera's
Unix time); a gap longer than ``MAX_STEP_S`` (a stalled camera) counts as that.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from edge.draw import PALETTE

MAX_STEP_S = 1.0


def hex_color(bgr) -> str:
    b, g, r = bgr
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass
class _Track:
    #: second index -> votes per class (smoothed probabilities summed over that second's frames)
    bins: dict = field(default_factory=dict)
    last_seen: float = 0.0


class SessionStats:
    def __init__(self, labels, window_s: float = 60.0, bin_s: float = 1.0, clock: str = "wall"):
        self.labels, self.window_s, self.bin_s, self.clock = tuple(labels), window_s, bin_s, clock
        self.seconds = np.zeros(len(self.labels))
        self.duration = 0.0
        self.tracks: dict[int, _Track] = collections.OrderedDict()
        self.tracks_seen = 0
        self.start = self.now = None

    def update(self, t: float, faces) -> None:
        """One frame at time ``t`` (seconds) with its faces (``track_id``, smoothed ``probs``)."""
        dt = 0.0 if self.now is None else min(max(t - self.now, 0.0), MAX_STEP_S)
        self.start = t if self.start is None else self.start
        self.now = t
        self.duration += dt
        b = int(t // self.bin_s)
        for face in faces:
            if face.probs is None:
                continue
            track = self.tracks.get(face.track_id)
            if track is None:
                track = self.tracks[face.track_id] = _Track()
                self.tracks_seen += 1
            votes = track.bins.setdefault(b, np.zeros(len(self.labels)))
            votes += face.probs
            track.last_seen = t
            self.seconds[int(np.argmax(face.probs))] += dt
        oldest = int((t - self.window_s) // self.bin_s)
        for tid in [tid for tid, tr in self.tracks.items() if tr.last_seen < t - self.window_s]:
            del self.tracks[tid]
        for track in self.tracks.values():
            for old in [k for k in track.bins if k <= oldest]:
                del track.bins[old]

    def shares(self) -> np.ndarray:
        total = self.seconds.sum()
        return self.seconds / total if total > 0 else np.zeros_like(self.seconds)

    def timeline(self, track: _Track) -> list[list]:
        """[seconds ago, class index] per second with a face, oldest first."""
        now = int(self.now // self.bin_s)
        return [[(now - k) * self.bin_s, int(np.argmax(v))] for k, v in sorted(track.bins.items())]

    def view(self) -> dict:
        """The JSON the live view draws its timelines and summary from."""
        return {
            "labels": list(self.labels),
            "colors": [hex_color(PALETTE[i % len(PALETTE)]) for i in range(len(self.labels))],
            "window": self.window_s, "bin": self.bin_s,
            "tracks": [{"track": tid, "timeline": self.timeline(tr)} for tid, tr in self.tracks.items()],
            "summary": {"duration": round(self.duration, 2), "clock": self.clock, "tracks": self.tracks_seen,
                        "face_seconds": {n: round(float(s), 2) for n, s in zip(self.labels, self.seconds)},
                        "share": {n: round(float(s), 4) for n, s in zip(self.labels, self.shares())}},
        }
