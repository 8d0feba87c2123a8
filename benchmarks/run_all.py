"""Run every benchmark in one go on this machine and write one Markdown table (ratios in bold).

    python -m benchmarks.run_all [--run RUN_DIR | --model models/fer_micro_int8.tflite] [--pi-run RUN_DIR]
                                 [--out benchmarks/RESULTS.md]

Each benchmark runs as its own process (one after the other, so they do not compete for the CPU)
with ``--json``; this script only collects their numbers. The micro model shipped in ``models/`` is
used by default; ``--run`` points at a run directory with ``model.keras`` and ``model_int8.tflite``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edge.core import atomic
from edge.core.rundir import DEFAULT_MODEL, resolve_model
from firmware_export.config import FIRMWARE_REPORT

ROOT = Path(__file__).resolve().parent.parent


def _bench(script: str, args: list[str], out: Path) -> dict:
    cmd = [sys.executable, "-m", f"benchmarks.{script}", *args, "--json", str(out)]
    print(f"$ {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"run_all: {script} failed with exit code {proc.returncode}")
    result = json.loads(out.read_text())
    result["_seconds"] = round(time.monotonic() - start, 1)
    result["_markdown"] = proc.stdout.strip()
    return result


def _export(model: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "edge.commands", "-q", "export-firmware", str(model), "--out-dir", str(out), "--board", "all"]
    print(f"$ fer-edge {' '.join(cmd[4:])}", file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / FIRMWARE_REPORT).read_text())


def _model_benches(latency_src: list[str], int8: Path, quick: bool, tmp: Path) -> tuple[dict, dict, dict]:
    """One model's per-face latency, edge pipeline and firmware export (arena, parity)."""
    tmp.mkdir()
    latency = _bench("inference_latency", latency_src + (["--rounds", "2", "--per-round", "30"] if quick else []),
                     tmp / "latency.json")
    edge = _bench("edge_pipeline", ["--model", str(int8), "--frames", "90" if quick else "300",
                                       "--repeats", "1" if quick else "3"], tmp / "edge.json")
    return latency, edge, _export(int8, tmp / "fw")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _latency_rows(latency: dict, label: str) -> list[str]:
    rows, by = [], {r["variant"]: r for r in latency["rows"]}
    base = "Keras tf.function" if "Keras tf.function" in by else "Keras model(x)"  # the fastest Keras way
    keras = by.get(base)
    for name in ("Keras model.predict", "Keras model(x)", "Keras tf.function", "TFLite float (1 thread)",
                 "TFLite int8 (1 thread)", "TFLite int8 (2 threads)"):
        if name in by:
            r = by[name]
            x = keras["median_ms"] / r["median_ms"] if keras else 0.0
            ratio = f"**{x:.1f}x** vs {base}" if x >= 1 else f"**{x:.2f}x** vs {base}" if keras and r is not keras else ""
            rows.append(f"| {label}per-face latency, {name} | {r['median_ms']:.3f} ms | {ratio} |")
    for threads, x in latency.get("int8_vs_float_tflite", {}).items():
        rows.append(f"| {label}int8 vs float TFLite speed-up ({threads}) | | **{x:.2f}x** |")
    return rows


def _edge_rows(edge: dict, label: str) -> list[str]:
    p = edge["pipeline"]
    return [f"| {label}edge pipeline, 640x480 headless end to end | {p['fps']:.1f} fps | "
            f"**{p['fps'] / 30:.1f}x** a 30 fps camera |",
            f"| {label}edge: share of frame time outside detect+infer | {100 * p['outside_core_share']:.1f}% | |",
            f"| {label}edge: inference only (one face per call) | {edge['inference_only_per_s']:.0f} faces/s | |"]


def _export_rows(export: dict, label: str) -> list[str]:
    m, a, par = export["model"], export["arena"], export["parity"]
    n = par["samples"]
    return [f"| {label}int8 model bytes / MACs | {m['bytes']:,} B / {m['macs'] / 1e6:.1f} M | |",
            f"| {label}TFLM arena: measured / recommended | {a['used']:,} B / {a['recommended']:,} B | |",
            f"| {label}TFLM vs LiteRT parity ({n} inputs) | {100 * par['bit_identical'] / n:.0f}% bit-identical, "
            f"max {par['max_abs_diff']} LSB | top-1 agreement {100 * par['top1_agree'] / n:.0f}% |"]


def summary_table(train: dict, latency: dict, edge: dict, export: dict, pi: tuple[dict, dict, dict] | None = None) -> str:
    """Training throughput, then the micro model (latency, edge, firmware), then the pi model if given."""
    rows = ["| what | value | ratio |", "|---|---:|---:|"]
    for r in [r for r in train["rows"] if r["variant"] == "baseline" and "error" not in r]:
        rows.append(f"| training {r['preset']}: images/s (FER2013 epoch, extrapolated) | {r['images_per_s']:.0f} "
                    f"({r['fer2013_epoch_s']:.0f} s) | |")
    rows += _latency_rows(latency, "") + _edge_rows(edge, "")
    rows += _export_rows(export, "")
    if pi:
        rows += _latency_rows(pi[0], "pi model: ") + _edge_rows(pi[1], "pi model: ") + _export_rows(pi[2], "pi model: ")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--run", help="a run directory with model.keras and model_int8.tflite")
    src.add_argument("--model", default=str(DEFAULT_MODEL),
                     help="an int8 .tflite whose spec's meta names its float model (default: the shipped micro model)")
    p.add_argument("--train-presets", nargs="+", default=["seed", "micro", "pi"], metavar="PRESET",
                   help="presets whose training throughput is measured (seed micro pi)")
    p.add_argument("--pi-run", help="also time the pi model of this run directory (latency and edge pipeline)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    p.add_argument("--quick", action="store_true", help="shorter measurements (for a smoke test)")
    args = p.parse_args(argv)
    int8 = resolve_model(args.run or args.model)
    if args.run:
        latency_src = [args.run]
    else:  # a model file alone: time its preset's architecture (untrained weights cost the same)
        from edge.core.spec import load_spec_for

        latency_src = ["--preset", load_spec_for(int8).preset or "micro"]
    quick = args.quick
    started = datetime.datetime.now(datetime.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        tmp = Path(tmp)
        train = _bench("train_throughput", ["--presets", *args.train_presets, "--variants", "baseline",
                                               "--seconds", "2" if quick else "5", "--rounds", "1" if quick else "2"],
                       tmp / "train.json")
        latency, edge, export = _model_benches(latency_src, int8, quick, tmp / "micro")
        pi = None
        if args.pi_run:
            pi = _model_benches([args.pi_run], resolve_model(args.pi_run), quick, tmp / "pi")
    header = (f"# fer-edge benchmarks\n\nMeasured {started:%Y-%m-%d %H:%M} UTC in one run of `python -m benchmarks.run_all`"
              f" on {_cpu()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; model `{int8}`. "
              f"Other work on a shared machine slows every number; ratios measured side by side hold better.\n")
    body = [header, "## Summary\n", summary_table(train, latency, edge, export, pi), ""]
    sections = [("Training throughput", train), ("Inference latency", latency), ("Edge pipeline", edge)]
    if pi:
        sections += [("Inference latency, pi model", pi[0]), ("Edge pipeline, pi model", pi[1])]
    for title, r in sections:
        body += [f"## {title} ({r['_seconds']} s)\n", r["_markdown"].replace("\n# ", "\n### "), ""]
    atomic.write_text(args.out, "\n".join(body))
    print("\n".join(body))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
