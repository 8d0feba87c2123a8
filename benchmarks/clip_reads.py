"""How `fer-edge run` reads faces on clips of one known expression: the share of face-frames per label.

Each clip is ``DIR/<class>.mp4`` (``python -m benchmarks.expw_clips OUT`` makes them from the ExpW sample's
photos, one per class; a camera recording of calm people works the same way). Every clip goes through
``fer-edge run MODEL --source CLIP --headless --jsonl`` exactly as a user runs it (the default detector, the
model's framing, smoothing), and each face-frame's label is counted:

    python -m benchmarks.clip_reads MODEL [MODEL ...] --clips OUT/train [--classes neutral happy] [--json out.json]

The "right" share of a clip is the share of its face-frames labelled with the clip's class.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from edge.core.atomic import atomic_path
from edge.core.spec import DEFAULT_SPEC


def read_jsonl(path: Path) -> Counter:
    """Labels of every face in every frame of a ``fer-edge run --jsonl`` file."""
    counts: Counter = Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                counts.update(face["label"] for face in json.loads(line).get("faces", []))
    return counts


def run_clip(model: str, clip: Path, extra: list[str]) -> Counter:
    """Run ``fer-edge run`` on one clip (a subprocess, as a user would) and count its face-frames' labels."""
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "predictions.jsonl"
        cmd = [sys.executable, "-m", "edge.commands", "run", model, "--source", str(clip), "--headless", "-q",
               "--jsonl", str(jsonl), *extra]
        done = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise SystemExit(f"{clip}: fer-edge run failed ({tail})")
        return read_jsonl(jsonl)


def shares(counts: Counter) -> dict[str, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.most_common()} if total else {}


def table(results: dict[str, dict[str, Counter]]) -> str:
    """A markdown table: one row per clip, one column per model, the right share first, then the top labels."""
    models = list(results)
    clips = list(next(iter(results.values())))
    rows = ["| clip (face-frames) | " + " | ".join(f"`{Path(m).name}`" for m in models) + " |",
            "|---|" + "---|" * len(models)]
    for clip in clips:
        cells = []
        for m in models:
            c = results[m][clip]
            s = shares(c)
            top = ", ".join(f"{k} {100 * v:.1f}%" for k, v in list(s.items())[:3])
            cells.append(f"**{100 * s.get(clip, 0.0):.1f}% {clip}** ({sum(c.values())}; {top})")
        rows.append(f"| {clip} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", help="models to run (.tflite, .keras or run folders)")
    p.add_argument("--clips", type=Path, required=True, help="folder of <class>.mp4 clips")
    p.add_argument("--classes", nargs="*", default=None,
                   help=f"clips to run (default: every <class>.mp4 there, of {', '.join(DEFAULT_SPEC.labels)})")
    p.add_argument("--json", type=Path, help="also write the counts as JSON")
    p.add_argument("--run-arg", action="append", default=[], help="extra argument for fer-edge run (repeatable)")
    args = p.parse_args(argv)
    classes = args.classes or [c for c in DEFAULT_SPEC.labels if (args.clips / f"{c}.mp4").is_file()]
    missing = [c for c in classes if not (args.clips / f"{c}.mp4").is_file()]
    if not classes or missing:
        raise SystemExit(f"{args.clips}: no clip {', '.join(f'{c}.mp4' for c in missing) or '<class>.mp4'} "
                         "(make them with python -m benchmarks.expw_clips OUT)")
    results = {}
    for model in args.models:
        results[model] = {}
        for c in classes:
            results[model][c] = run_clip(model, args.clips / f"{c}.mp4", args.run_arg)
            print(f"{model} {c}: {100 * shares(results[model][c]).get(c, 0.0):.1f}% of "
                  f"{sum(results[model][c].values())} face-frames read {c}", file=sys.stderr)
    print(table(results))
    if args.json:
        with atomic_path(args.json) as tmp:
            Path(tmp).write_text(json.dumps({m: {c: dict(v) for c, v in r.items()} for m, r in results.items()},
                                            indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
