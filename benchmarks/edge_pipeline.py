"""Edge pipeline speed on a generated 640x480 video of synthetic faces: ``fer-edge bench``'s measurement
(``edge.commands.bench.measure``) plus what a benchmark table needs and the command does not do:

- the video made here with its true face boxes, and detection counts against them;
- without ``--model``, an untrained ``pi`` preset converted to full int8 (same cost as a trained one);
- the fastest of ``--repeats`` runs, the share of frame time outside detect+infer, the machine and its load;
- a Markdown table (``benchmarks.run_all`` collects it) and ``--json``.

    python -m benchmarks.edge_pipeline [--model MODEL.tflite|RUN_DIR] [--frames 300] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

from edge.commands.bench import measure
from edge.config import EdgeConfig
from edge.core import atomic
from edge.core.spec import DEFAULT_SPEC, spec_path_for
from edge.track import iou_matrix


def make_pi_model(out_dir: Path) -> Path:
    """The ``pi`` preset, untrained, as full-int8 TFLite with its spec."""
    from edge.runtime import TFLiteClassifier
    from quantize.convert import convert_int8
    from train.models import build_model

    path = out_dir / "pi_int8.tflite"
    representative = np.random.default_rng(0).random((32, *DEFAULT_SPEC.input_shape), dtype=np.float32)
    path.write_bytes(convert_int8(build_model("pi"), representative, what="pi preset"))
    clf = TFLiteClassifier(path)
    DEFAULT_SPEC.with_quant(clf.input_quant, clf.output_quant).save(spec_path_for(path))
    return path


def make_video(out_dir: Path, frames: int, seed: int) -> tuple[Path, list[list]]:
    from edge.synthetic.video import VideoConfig, truth_path, write_video

    path = out_dir / "faces.mp4"
    write_video(path, VideoConfig(frames, 640, 480, 30.0, 1, 3, seed))
    truth = [[f["box"] for f in json.loads(line)["faces"]] for line in truth_path(path).read_text().splitlines()]
    return path, truth


def detection_counts(jsonl: Path, truth: list[list]) -> dict:
    found = missed = false = 0
    for line, boxes in zip(jsonl.read_text().splitlines(), truth):
        pred = np.array([f["box"] for f in json.loads(line)["faces"]]).reshape(-1, 4)
        true = np.array(boxes).reshape(-1, 4)
        iou = iou_matrix(pred, true) if len(pred) and len(true) else np.zeros((len(pred), len(true)))
        hit = (iou.max(axis=0) >= 0.5) if len(pred) else np.zeros(len(true), bool)
        found += int(hit.sum())
        missed += int((~hit).sum())
        false += int(((iou.max(axis=1) if len(true) else np.zeros(len(pred))) < 0.5).sum())
    return {"true_faces": found + missed, "found": found, "missed": missed, "false_detections": false}


def markdown(r: dict) -> str:
    s = r["pipeline"]
    lines = [f"## Edge pipeline on {r['frames']} frames of 640x480 synthetic faces", "",
             f"Machine: {r['machine']}; load average at start {r['load_average']}; "
             f"model `{r['model']}`; detector {r['detector']} on {r['detect_width'] or 'default'} px wide gray, "
             f"detect every {r['detect_every']} frame(s); fastest of {r['repeats']} runs.", "",
             "| metric | value |", "|---|---:|",
             f"| end-to-end (headless, with JPEG encode) | **{s['fps']:.1f} fps** ({1000 / s['fps']:.1f} ms/frame) |",
             f"| inference only (1 face per call) | {r['inference_only_per_s']:.0f} /s "
             f"({1000 / r['inference_only_per_s']:.2f} ms) |",
             f"| share of frame time outside detect+infer | {100 * s['outside_core_share']:.1f}% |",
             f"| faces found / true faces | {r['detections']['found']} / {r['detections']['true_faces']} |",
             f"| false detections | {r['detections']['false_detections']} |", "",
             "| stage | ms/frame | share |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:.2f} | {100 * s['share'].get(k, 0):.1f}% |" for k, v in s["ms_per_frame"].items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: its C++ logs are noise here
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="a .tflite model or run directory (default: the pi preset, untrained, int8)")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int)
    p.add_argument("--detect-every", type=int, default=1)
    p.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as tmp:
        tmp = Path(tmp)
        load = [round(v, 2) for v in os.getloadavg()]
        model = args.model or str(make_pi_model(tmp))
        video, truth = make_video(tmp, args.frames, args.seed)
        config = EdgeConfig(source=str(video), model=model, threads=args.threads, jsonl=str(tmp / "p.jsonl"),
                            detect_every=args.detect_every)
        runs = [measure(config, 500 if i == 0 else 0)[1] for i in range(args.repeats)]
        result = {
            "frames": args.frames, "repeats": args.repeats, "load_average": load,
            "machine": f"{platform.machine()} {platform.processor() or ''} x{os.cpu_count()}".replace("  ", " "),
            "model": Path(args.model).name if args.model else "pi preset (untrained) int8",
            "detector": config.detector, "detect_width": config.detect_width, "detect_every": config.detect_every,
            "pipeline": max(runs, key=lambda s: s["fps"]),
            "fps_all_runs": [s["fps"] for s in runs],
            "inference_only_per_s": runs[0]["inference_only_per_s"],
            "detections": detection_counts(tmp / "p.jsonl", truth),
        }
    print(markdown(result))
    if args.json:
        atomic.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
