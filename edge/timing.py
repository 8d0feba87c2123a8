"""Per-stage timings of the camera loop: one clock read per stage, a table at the end of every run."""

from __future__ import annotations

import time

#: Stages in loop order; a stage that did not run in a frame simply records nothing.
STAGES = ("capture", "detect", "preprocess", "infer", "track", "draw", "encode", "write", "display", "pace")
#: Stages that are the model's and the detector's work; everything else is pipeline overhead.
CORE_STAGES = ("detect", "infer")


class StageTimer:
    """Accumulates seconds per stage. Call ``begin()`` at the top of a frame, ``lap(stage)`` after each stage."""

    def __init__(self, clock=time.perf_counter):
        self._clock = clock
        self.totals = {s: 0.0 for s in STAGES}
        self.frames = 0
        self._last = None
        self._started = None
        self.wall = 0.0

    def begin(self) -> None:
        now = self._clock()
        if self._started is None:
            self._started = now
        self._last = now

    def lap(self, stage: str) -> None:
        now = self._clock()
        self.totals[stage] += now - self._last
        self._last = now

    def end_frame(self) -> None:
        self.frames += 1
        self.wall = self._clock() - self._started

    @property
    def fps(self) -> float:
        return self.frames / self.wall if self.wall > 0 else 0.0

    def summary(self) -> dict:
        """Per-stage ms/frame and shares; ``outside_core_share`` is the frame time not spent in detect+infer."""
        n = max(self.frames, 1)
        busy = sum(v for k, v in self.totals.items() if k != "pace")
        core = sum(self.totals[s] for s in CORE_STAGES)
        return {
            "frames": self.frames,
            "wall_s": round(self.wall, 4),
            "fps": round(self.fps, 2),
            "ms_per_frame": {s: round(1000 * v / n, 3) for s, v in self.totals.items() if v > 0},
            "share": {s: round(v / busy, 4) for s, v in self.totals.items() if v > 0 and s != "pace"} if busy else {},
            "outside_core_share": round(1 - core / busy, 4) if busy else 0.0,
        }

    def table(self) -> str:
        """A Markdown table: stage, ms per frame, share of the busy frame time."""
        s = self.summary()
        rows = ["| stage | ms/frame | share |", "|---|---:|---:|"]
        for stage, ms in s["ms_per_frame"].items():
            share = s["share"].get(stage)
            rows.append(f"| {stage} | {ms:.2f} | {'' if share is None else f'{100 * share:.1f}%'} |")
        rows.append(f"| **total** | {sum(v for k, v in s['ms_per_frame'].items() if k != 'pace'):.2f} | 100% |")
        rows.append("")
        rows.append(f"{s['frames']} frames in {s['wall_s']:.2f} s = {s['fps']:.1f} fps; "
                    f"{100 * s['outside_core_share']:.1f}% of frame time outside detect+infer")
        return "\n".join(rows)
