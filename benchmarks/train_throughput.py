"""Training throughput per preset on this machine, and what makes CPU training faster.

For each preset and each variant (input pipeline with/without augmentation or on one tf.data
thread, XLA ``jit_compile``, TensorFlow thread pools, op determinism, batch size) a fresh Python
process (thread settings only take effect before TensorFlow starts) trains on random 48x48 faces
through the real tf.data pipeline and ``model.fit``. Processes run round-robin over the variants
(``--rounds`` times), each timing ``--repeats`` windows after a warm-up; a variant's images/s is
its best window, the one least disturbed by other work on a shared machine. Seconds per FER2013
epoch are EXTRAPOLATED: 28,709 training images / images per second (validation not included).

    python -m benchmarks.train_throughput                 # every preset, every variant
    python -m benchmarks.train_throughput --presets micro --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

FER2013_TRAIN = 28709
VARIANTS = {  # name -> overrides of the baseline (the defaults `fer-edge train` uses)
    "baseline": {},
    "no augmentation": {"augment": False},
    "tf.data on 1 private thread": {"data_threads": 1},
    # XLA has no deterministic MaxPool gradient, so jit_compile is measured without op determinism
    "jit_compile": {"jit": True, "deterministic": False},
    "no op determinism": {"deterministic": False},
    "threads intra=2 inter=1": {"intra": 2, "inter": 1},
    "threads intra=1 inter=2": {"intra": 1, "inter": 2},
    "batch 64": {"batch": 64},
    "batch 128": {"batch": 128},
}
BASELINE = {"augment": True, "data_threads": 0, "jit": False, "deterministic": True, "intra": 0, "inter": 0, "batch": 32}


def worker(opts: dict) -> dict:
    """Measure one (preset, variant) in this process; returns images/s."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(opts["intra"])
    tf.config.threading.set_inter_op_parallelism_threads(opts["inter"])
    from edge.core.spec import DEFAULT_SPEC
    from train.config import AugmentConfig, TrainConfig
    from train.datasets.base import Split
    from train.distribute import seed_everything
    from train.fit import compile_model
    from train.models import build_model
    from train.pipeline import training_dataset

    if opts["deterministic"]:
        seed_everything(0)
    rng = np.random.default_rng(0)
    n = 4096
    split = Split(rng.integers(0, 256, (n, 48, 48), dtype=np.uint8), rng.integers(0, 7, n))
    cfg = TrainConfig(epochs=1000, batch_size=opts["batch"],
                      augment=AugmentConfig() if opts["augment"] else AugmentConfig.off())
    model = build_model(opts["preset"])
    compile_model(model, cfg, cfg.lr, jit_compile=opts["jit"])
    ds = training_dataset(split, DEFAULT_SPEC, cfg)
    if opts["data_threads"]:
        options = tf.data.Options()
        options.threading.private_threadpool_size = opts["data_threads"]
        ds = ds.with_options(options)
    t0 = time.perf_counter()
    model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)  # build + trace + compile
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)
    step = (time.perf_counter() - t0) / 3
    steps = max(5, int(opts["seconds"] / max(step, 1e-3)))
    rates = []
    for _ in range(opts["repeats"]):
        t0 = time.perf_counter()
        model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
        rates.append(steps * cfg.batch_size / (time.perf_counter() - t0))
    return {"images_per_s": max(rates), "all": rates, "steps": steps, "warmup_s": warm}


def measure(preset: str, variant: str, seconds: float, repeats: int) -> dict:
    opts = {**BASELINE, **VARIANTS[variant], "preset": preset, "seconds": seconds, "repeats": repeats}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(opts)], capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [line for line in proc.stderr.splitlines() if "Error" in line] or proc.stderr.strip().splitlines()[-1:]
        return {"preset": preset, "variant": variant, "error": (errors or ["(no output)"])[-1].strip()[:160]}
    return {"preset": preset, "variant": variant, **json.loads(proc.stdout.strip().splitlines()[-1])}


def merge(rounds: list[dict]) -> dict:
    """Best images/s over rounds (each round is a fresh process run at a different moment)."""
    ok = [r for r in rounds if "error" not in r]
    if not ok:
        return rounds[-1]
    best = max(ok, key=lambda r: r["images_per_s"])
    rates = [rate for r in ok for rate in r["all"]]
    return {**best, "all": rates, "fer2013_epoch_s": FER2013_TRAIN / best["images_per_s"]}


def table(rows: list[dict]) -> str:
    base = {r["preset"]: r.get("images_per_s") for r in rows if r["variant"] == "baseline"}
    out = ["| preset | variant | images/s | vs baseline | FER2013 epoch (s, extrapolated) |",
           "|---|---|---:|---:|---:|"]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['preset']} | {r['variant']} | failed: {r['error']} | | |")
            continue
        ratio = r["images_per_s"] / base[r["preset"]] if base.get(r["preset"]) else float("nan")
        out.append(f"| {r['preset']} | {r['variant']} | {r['images_per_s']:.0f} | {ratio:.2f}x | {r['fer2013_epoch_s']:.0f} |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["seed", "micro", "pi"])
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="VARIANT",
                   help=f"variants to run (default all: {', '.join(VARIANTS)})")
    p.add_argument("--seconds", type=float, default=5.0, help="length of one timed window")
    p.add_argument("--repeats", type=int, default=2, help="timed windows per process")
    p.add_argument("--rounds", type=int, default=2,
                   help="processes per measurement, run round-robin over the variants (the best window counts)")
    p.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    rows = []
    for preset in args.presets:
        runs: dict[str, list[dict]] = {v: [] for v in args.variants}
        for _ in range(args.rounds):
            for variant in args.variants:
                r = measure(preset, variant, args.seconds, args.repeats)
                runs[variant].append(r)
                print(f"{preset:6s} {variant:26s} " + (f"{r['images_per_s']:7.0f} images/s" if "error" not in r
                                                       else r["error"]), file=sys.stderr, flush=True)
        rows += [merge(runs[v]) for v in args.variants]
    print(f"\nmachine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; "
          f"FER2013 epoch = {FER2013_TRAIN} images / images per s (validation not included)\n")
    print(table(rows))
    if args.json:
        from edge.core import atomic

        atomic.write_json(args.json, {"rows": rows, "fer2013_train_images": FER2013_TRAIN,
                                      "cpus": os.cpu_count()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
