"""Per-face latency and throughput: float Keras vs float TFLite vs int8 TFLite, side by side.

One face at a time (batch 1, as the camera loop runs it), in one process:

- float Keras ``model.predict(x)`` and a direct call ``model(x, training=False)`` (plus the call inside
  a ``tf.function``, the fastest way to run a Keras model);
- float TFLite and int8 TFLite through ``edge.runtime.TFLiteClassifier.predict`` (LiteRT, which
  applies its XNNPACK delegate on CPU), with ``num_threads`` 1 and 2; int8 timings include
  quantizing the input and dequantizing the output, as on the device.

Variants are measured in interleaved rounds (each round times every variant once, after a warm-up),
so a load spike on a shared machine hits all of them alike; the per-variant number is the median
over all timed faces. Ratios are speed-ups relative to float Keras.

    python -m benchmarks.inference_latency runs/fer2013_micro          # the run's model(s)
    python -m benchmarks.inference_latency --preset micro --json out.json  # an untrained preset
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("inference_latency")


def faces(n: int, seed: int = 0) -> np.ndarray:
    """n float32 (48,48,1) model inputs of a smooth random 'face-like' image (the content does not
    change the cost of a CNN; a smooth image keeps int8 activations in a realistic range)."""
    import cv2

    from edge.core.preprocess import normalize

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (n, 6, 6), dtype=np.uint8)
    return normalize(np.stack([cv2.resize(s, (48, 48), interpolation=cv2.INTER_CUBIC) for s in small]))


def prepare_models(run_dir: str | None, preset: str | None, workdir: Path) -> dict:
    """Paths and a loaded float model: from a run dir, or an untrained preset converted here."""
    import tensorflow as tf
    import tf_keras as keras

    from edge.core.rundir import INT8_MODEL
    from edge.core.spec import DEFAULT_SPEC
    from quantize.convert import convert_int8

    if run_dir:
        from quantize.float_model import load_float_model
        from train.run_artifacts import load_run

        _, spec, keras_path = load_run(run_dir)
        model = load_float_model(keras_path)
        int8_path = Path(run_dir) / INT8_MODEL
        source = f"run {run_dir}"
    else:
        from train.models import PRESETS

        spec, keras_path = DEFAULT_SPEC, None
        keras.utils.set_random_seed(0)
        model = PRESETS[preset](spec=spec)
        int8_path = Path("-")
        source = f"untrained preset {preset!r}"
    float_path = workdir / "model_float.tflite"
    float_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    int8_note = INT8_MODEL
    if not int8_path.is_file():
        int8_path = workdir / INT8_MODEL
        int8_path.write_bytes(convert_int8(model, faces(100, seed=1), what=source))
        int8_note = "PTQ converted here (calibrated on random images)"
    return {"model": model, "spec": spec, "float": float_path, "int8": int8_path, "source": source,
            "int8_note": int8_note}


def variants(models: dict, threads: list[int]) -> dict:
    """name -> (callable on one (1,48,48,1) input, details)."""
    import tensorflow as tf

    from edge.runtime import TFLiteClassifier

    model = models["model"]
    fast = tf.function(lambda x: model(x, training=False))
    out = {
        "Keras model.predict": (lambda x: model.predict(x, verbose=0), {"kind": "float keras", "threads": None}),
        "Keras model(x)": (lambda x: model(x, training=False).numpy(), {"kind": "float keras", "threads": None}),
        "Keras tf.function": (lambda x: fast(x).numpy(), {"kind": "float keras", "threads": None}),
    }
    for n in threads:
        for kind in ("float", "int8"):
            clf = TFLiteClassifier(models[kind], models["spec"], num_threads=n)
            out[f"TFLite {kind} ({n} thread{'s' if n > 1 else ''})"] = (
                clf.predict, {"kind": f"{kind} tflite", "threads": n, "backend": clf.backend,
                              "bytes": models[kind].stat().st_size})
    return out


def measure(fns: dict, x: np.ndarray, *, rounds: int, per_round: int, warmup: int) -> dict[str, np.ndarray]:
    """Interleaved timing: every round runs ``per_round`` faces through each variant in turn."""
    for fn, _ in fns.values():
        for i in range(warmup):
            fn(x[i % len(x)][None])
    times = {name: [] for name in fns}
    for r in range(rounds):
        for name, (fn, _) in fns.items():
            for i in range(per_round):
                face = x[(r * per_round + i) % len(x)][None]
                t = time.perf_counter()
                fn(face)
                times[name].append(time.perf_counter() - t)
        log.info("round %d/%d done", r + 1, rounds)
    return {name: np.array(t) * 1e3 for name, t in times.items()}


def summarize(times: dict[str, np.ndarray], fns: dict) -> list[dict]:
    base_call = float(np.median(times["Keras model(x)"]))
    base_predict = float(np.median(times["Keras model.predict"]))
    rows = []
    for name, ms in times.items():
        med = float(np.median(ms))
        rows.append({"variant": name, **fns[name][1], "median_ms": med, "p90_ms": float(np.percentile(ms, 90)),
                     "faces_per_s": 1e3 / float(np.mean(ms)), "speedup_vs_keras_call": base_call / med,
                     "speedup_vs_keras_predict": base_predict / med, "n": len(ms)})
    return rows


def int8_vs_float(rows: list[dict]) -> dict[str, float]:
    by = {r["variant"]: r["median_ms"] for r in rows}
    return {f"{n} thread{'s' if n > 1 else ''}": by[f"TFLite float ({n} thread{'s' if n > 1 else ''})"] /
            by[f"TFLite int8 ({n} thread{'s' if n > 1 else ''})"]
            for n in sorted({r["threads"] for r in rows if r["threads"]})}


def to_markdown(result: dict) -> str:
    lines = [f"# Inference latency per face ({result['source']})", "",
             f"{result['machine']}, load average {result['load_average'][0]} at the end; "
             f"{result['rounds']} interleaved rounds x {result['per_round']} faces per "
             f"variant after {result['warmup']} warm-up faces; int8 model: {result['int8_note']}.", "",
             "| variant | median ms | p90 ms | faces/s | x vs Keras model(x) | x vs Keras predict |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['variant']} | {r['median_ms']:.3f} | {r['p90_ms']:.3f} | {r['faces_per_s']:.0f} | "
                     f"{r['speedup_vs_keras_call']:.1f} | {r['speedup_vs_keras_predict']:.1f} |")
    lines += ["", "int8 vs float TFLite (median latency ratio, >1 = int8 faster): " +
              ", ".join(f"{k}: {v:.2f}x" for k, v in result["int8_vs_float_tflite"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: its C++ logs are noise here
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("run_dir", nargs="?", help="a run directory (model.keras, and model_int8.tflite if quantized)")
    src.add_argument("--preset", help="benchmark an untrained preset instead (e.g. micro)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="LiteRT num_threads values (default: 1 2)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--per-round", type=int, default=100, help="faces per variant per round (default: 100)")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    from edge.core import atomic
    from edge.core.errors import UserError

    try:
        with tempfile.TemporaryDirectory() as tmp:
            models = prepare_models(args.run_dir, args.preset, Path(tmp))
            fns = variants(models, args.threads)
            times = measure(fns, faces(256), rounds=args.rounds, per_round=args.per_round, warmup=args.warmup)
    except UserError as e:
        print(f"inference_latency: error: {e}", file=sys.stderr)
        return 2
    import tensorflow as tf

    rows = summarize(times, fns)
    result = {"source": models["source"], "int8_note": models["int8_note"],
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                         f"TensorFlow {tf.__version__}",
              "load_average": [round(v, 2) for v in os.getloadavg()],
              "rounds": args.rounds, "per_round": args.per_round, "warmup": args.warmup, "rows": rows,
              "int8_vs_float_tflite": int8_vs_float(rows)}
    print(to_markdown(result))
    if args.json:
        atomic.write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
