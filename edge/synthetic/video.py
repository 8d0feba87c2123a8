"""A test video of synthetic faces moving over varied backgrounds.

Writes ``OUT.mp4`` (mp4v) and, beside it, ``OUT.truth.jsonl``: one line per frame with every face's
box ``[x, y, w, h]`` (the square a frontal-face detector puts around it) and expression label.
Each face keeps its identity, drifts slowly inside its own lane of the frame, turns a little and
changes expression every couple of seconds. The edge demo and benchmark run on it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class VideoConfig:
    frames: int = 150
    width: int = 640
    height: int = 480
    fps: float = 15.0
    min_faces: int = 1
    max_faces: int = 3
    seed: int = 0

    def __post_init__(self):
        from edge.core.errors import UserError

        if self.frames < 1:
            raise UserError(f"--frames must be at least 1, got {self.frames}")
        if not (160 <= self.width <= 4096 and 120 <= self.height <= 4096):
            raise UserError(f"--size must be between 160x120 and 4096x4096, got {self.width}x{self.height}")
        if not 1 <= self.fps <= 120:
            raise UserError(f"--fps must be in 1..120, got {self.fps}")
        if not 1 <= self.min_faces <= self.max_faces <= 6:
            raise UserError(f"--faces must be MIN-MAX with 1 <= MIN <= MAX <= 6, got {self.min_faces}-{self.max_faces}")


def truth_path(video: str | Path) -> Path:
    video = Path(video)
    return video.with_name(video.stem + ".truth.jsonl")


def _backdrop(rng, w: int, h: int):
    """A float32 (h, w, 3) BGR background: a synthetic backdrop, tinted, with colour blotches."""
    import cv2
    import numpy as np

    from edge.synthetic import faces as synthetic

    gray = synthetic.background(rng, h, w)
    blotches = cv2.resize(rng.uniform(-25, 25, (3, 4, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return gray[:, :, None] * rng.uniform(0.7, 1.3, 3).astype(np.float32) + blotches


def _plan_faces(rng, config: VideoConfig, head_r: float) -> list[dict]:
    """Per face: identity seed, box size, lane, start position and drift, expression schedule."""
    import numpy as np

    from edge.synthetic.faces import BOX_WIDTH

    w, h = config.width, config.height
    n = int(rng.integers(config.min_faces, config.max_faces + 1))
    lane = w / n
    faces = []
    for i in range(n):
        box = min(rng.uniform(100, 200) * min(w, h) / 480, 0.9 * lane, 0.8 * h)
        every = max(1, int(round(config.fps * rng.uniform(1.5, 2.5))))  # frames per expression
        labels = [int(rng.integers(7))]
        while len(labels) * every < config.frames:
            labels.append(int((labels[-1] + rng.integers(1, 7)) % 7))  # always a different one
        lo, hi = np.array([i * lane + box / 2, box / 2]), np.array([(i + 1) * lane - box / 2, h - box / 2])
        faces.append(dict(identity=int(rng.integers(2**31)), patch=int(round(box / (BOX_WIDTH * head_r))),
                          every=every, labels=labels, lo=lo, hi=hi, pos=rng.uniform(lo, hi),
                          vel=rng.uniform(0.3, 1.2, 2) * rng.choice((-1, 1), 2),
                          tint=rng.uniform((0.78, 0.88, 0.98), (0.92, 1.0, 1.1)).astype(np.float32), phase=rng.uniform(0, 6.3, 2)))
    return faces


def scene(config: VideoConfig):
    """Yield (BGR uint8 frame, truth list) per frame: faces drifting in lanes, expressions changing."""
    import numpy as np

    from edge.core.spec import LABELS
    from edge.synthetic import faces as synthetic

    rng = np.random.default_rng([config.seed, 2024])
    head_r = float(np.mean(synthetic.HEAD_SCALE))
    backdrop = _backdrop(rng, config.width, config.height)
    faces = _plan_faces(rng, config, head_r)
    for t in range(config.frames):
        frame = backdrop * np.float32(1 + 0.03 * np.sin(t / 11))
        truth = []
        for i, f in enumerate(faces):
            f["pos"] += f["vel"]
            bounce = (f["pos"] < f["lo"]) | (f["pos"] > f["hi"])
            f["vel"][bounce] *= -1
            f["pos"] = np.clip(f["pos"], f["lo"], f["hi"])
            label, size = f["labels"][t // f["every"]], f["patch"]
            pose = synthetic.Pose(head_r, 0.5, 0.5, 8 * np.sin(t / 23 + f["phase"][0]), 0.2 * np.sin(t / 31 + f["phase"][1]))
            layer, mask = synthetic.face_layer(np.random.default_rng(f["identity"]), label, size, pose)
            fade = np.clip((size - np.arange(size, dtype=np.float32)) / (0.15 * size), 0, 1)[:, None]
            mask = (mask * fade).astype(np.uint8)  # no hard edge where the shoulders leave the patch
            bx, by, bw, bh = pose.face_box(size)
            x, y = int(round(f["pos"][0] - bx - bw / 2)), int(round(f["pos"][1] - by - bh / 2))
            synthetic.composite(frame, np.dstack([layer] * 3) * f["tint"], mask, x, y)
            truth.append({"id": i, "box": [x + bx, y + by, bw, bh], "label": label, "name": LABELS[label]})
        frame += rng.normal(0, 3, frame.shape).astype(np.float32)
        yield np.clip(frame, 0, 255).astype(np.uint8), truth


def write_video(out: str | Path, config: VideoConfig) -> Path:
    """Write the video and its truth file atomically; returns the truth path."""
    import cv2

    from edge.core import atomic
    from edge.core.errors import UserError
    from edge.recording import frames_in

    out = Path(out)
    lines = []
    with atomic.atomic_path(out) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), config.fps, (config.width, config.height))
        if not writer.isOpened():
            raise UserError(f"{out}: OpenCV cannot write an mp4v video here (expected a .mp4 path in a writable folder)")
        try:
            for t, (frame, truth) in enumerate(scene(config)):
                writer.write(frame)
                lines.append(json.dumps({"frame": t, "time": round(t / config.fps, 4), "faces": truth}))
        finally:
            writer.release()
        readable = frames_in(tmp)  # OpenCV's writer says nothing when the disk fills
        if readable < config.frames:
            raise UserError(f"{out}: the video could not be written completely ({readable} of {config.frames} frames "
                            "readable; is the disk full?); nothing was saved", exit_code=1)
        # the truth before the video is moved into place: a failure leaves neither under its name
        truth = atomic.write_text(truth_path(out), "\n".join(lines) + "\n")
    return truth
