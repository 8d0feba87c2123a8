"""Cortex-M4 instructions per inference of candidate micro architectures, before training any of them.

Each candidate (a ``train.models`` preset with knobs) is built untrained, quantized to full int8 with
post-training quantization on synthetic face crops (the instruction count of an int8 CNN does not
depend on its weights), exported with ``fer-edge export-firmware --measure-m4`` and run under QEMU
(``firmware_export.measure_m4``): TFLM reference kernels and CMSIS-NN, instructions per inference.
The table says which architectures meet the <= 12 M CMSIS-NN instruction target (about 100 ms at
168 MHz at 1.4 cycles per instruction), so a training session can pick one; accuracy comes from
training them.

    python -m benchmarks.m4_candidates --tflm /work/tflm                  # every candidate
    python -m benchmarks.m4_candidates --tflm /work/tflm --only micro_ds --json out.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

log = logging.getLogger("m4_candidates")
TARGET_INSTRUCTIONS = 12e6
TARGET_CLOCK_MHZ, TARGET_CPI = 168.0, 1.4
#: (name, preset, knobs): today's micro, narrower and shallower micros, depthwise-separable stages
CANDIDATES = [
    ("micro", "micro", {}),
    ("micro w12", "micro", {"width": 12}),
    ("micro w8", "micro", {"width": 8}),
    ("micro d1", "micro", {"depth": 1}),
    ("micro_ds", "micro_ds", {}),
    ("micro_ds w12", "micro_ds", {"width": 12}),
    ("micro_ds w8", "micro_ds", {"width": 8}),
]


def representative(n: int = 64):
    """Float model inputs of synthetic face crops, through the one preprocessing function."""
    import numpy as np

    from edge.core.preprocess import preprocess
    from edge.core.spec import DEFAULT_SPEC
    from firmware_export.parity import synthetic_crops

    return np.stack([preprocess(crop, DEFAULT_SPEC) for _, crop in synthetic_crops(n, seed=1)]).astype(np.float32)


def spread_logits(model, rep) -> None:
    """Give an untrained model's logits a trained model's range (about +-4): with near-constant logits the
    int8 softmax input scale is so small that TFLM refuses the model (its softmax multiplier check
    aborts). Only the last layer's values change, not the cost of an inference."""
    import numpy as np
    import tf_keras as keras

    layer = model.get_layer("logits")
    logits = keras.Model(model.input, layer.output)(rep[:16]).numpy()
    kernel, bias = layer.get_weights()
    factor = 4.0 / max(float(np.abs(logits - bias).max()), 1e-6)
    layer.set_weights([kernel * factor, np.linspace(-2.0, 2.0, bias.size, dtype=np.float32)])


def quantized_candidate(preset: str, knobs: dict, out: Path, rep) -> tuple[Path, int]:
    """An untrained preset as a full-int8 .tflite with its spec in ``out``; (path, parameters)."""
    from edge.core.spec import DEFAULT_SPEC, spec_path_for
    from edge.runtime import TFLiteClassifier
    from quantize.convert import convert_int8
    from train.models import build_model

    model = build_model(preset, **knobs)
    spread_logits(model, rep)
    path = out / "model_int8.tflite"
    path.write_bytes(convert_int8(model, rep, what=preset))
    clf = TFLiteClassifier(path, DEFAULT_SPEC, delegates=False)
    DEFAULT_SPEC.with_quant(clf.input_quant, clf.output_quant).save(spec_path_for(path))
    return path, model.count_params()


def measure(name: str, preset: str, knobs: dict, tflm: str, work: Path, rep) -> dict:
    from firmware_export.config import ExportConfig
    from firmware_export.export import export_firmware

    folder = work / name.replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    model, params = quantized_candidate(preset, knobs, folder, rep)
    result = export_firmware(ExportConfig(model=str(model), out=str(folder / "firmware"), parity_samples=4,
                                          force=True, measure_m4=tflm))
    m = result.measured
    counts = {k: m.instructions(k) for k in m.runs}
    return {"name": name, "preset": preset, "knobs": knobs, "params": params, "int8_bytes": result.info.size,
            "macs": result.info.macs, "arena_used": m.runs["cmsis_nn"].arena_used, "instructions": counts,
            "cmsis_nn_per_mac": round(counts["cmsis_nn"] / result.info.macs, 3),
            "agreement": m.agreement}


def markdown(rows: list[dict], tflm_commit: str | None = None) -> str:
    head = ("| candidate | params | int8 bytes | MACs | arena used | reference instr. | CMSIS-NN instr. | "
            f"instr./MAC | ms @ {TARGET_CLOCK_MHZ:g} MHz, {TARGET_CPI:g} CPI | <= 12 M |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ref, nn = r["instructions"].get("reference", 0), r["instructions"]["cmsis_nn"]
        ms = nn * TARGET_CPI / (TARGET_CLOCK_MHZ * 1e3)
        lines.append(f"| {r['name']} | {r['params']:,} | {r['int8_bytes']:,} | {r['macs'] / 1e6:.2f} M | "
                     f"{r['arena_used']:,} | {ref / 1e6:.1f} M | {nn / 1e6:.2f} M | {r['cmsis_nn_per_mac']:.2f} | "
                     f"{ms:.0f} | {'yes' if nn <= TARGET_INSTRUCTIONS else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tflm", required=True, metavar="TFLM_DIR",
                        help="a tflite-micro checkout with its downloads (as for export-firmware --measure-m4)")
    parser.add_argument("--only", action="append", metavar="NAME", help="measure only these candidates")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname).1s %(name)s: %(message)s")
    chosen = [c for c in CANDIDATES if not args.only or c[0] in args.only]
    if not chosen:
        parser.error(f"--only: no such candidate (expected some of {', '.join(c[0] for c in CANDIDATES)})")
    from edge.core.errors import UserError
    from firmware_export.measure_m4 import check_tree

    try:
        check_tree(args.tflm)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    rows, failed = [], []
    if args.in_process:  # one candidate per process: a native abort in TFLM's Python interpreter stays contained
        rep = representative()
        with tempfile.TemporaryDirectory(prefix="m4-candidates-") as work:
            rows = [measure(name, preset, knobs, args.tflm, Path(work), rep) for name, preset, knobs in chosen]
    else:
        for name, preset, knobs in chosen:
            log.info("candidate %s: preset %s %s", name, preset, knobs or "(defaults)")
            with tempfile.NamedTemporaryFile(suffix=".json") as one:
                done = subprocess.run([sys.executable, "-m", "benchmarks.m4_candidates", "--tflm", args.tflm, "--only",
                                       name, "--json", one.name, "--in-process"], capture_output=True, text=True)
                if done.returncode != 0:
                    failed.append(f"{name}: exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
                    print(f"| {name} | failed (exit {done.returncode}) |", flush=True)
                    continue
                rows += json.loads(Path(one.name).read_text(encoding="utf-8"))
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    print(markdown(rows))
    for line in failed:
        print(f"failed: {line}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
