"""quant_report.json / quant_report.md: float vs PTQ-int8 vs QAT-int8 (vs float16) on one split."""

from __future__ import annotations

from typing import Any

from edge.core import rundir

REPORT_FORMAT = "fer-edge-quant-report/1"
#: column order and headings of the Markdown table
COLUMNS = {"float": "float (Keras)", "ptq": "PTQ int8", "qat": "QAT int8", "float16": "float16"}


def model_entry(file: str, size_bytes: int, metrics: dict, agreement: float | None) -> dict[str, Any]:
    """One model's line in the report: its file, size, metrics and top-1 agreement with float."""
    return {"file": file, "bytes": int(size_bytes), "accuracy": float(metrics["accuracy"]),
            "macro_f1": float(metrics["macro_f1"]), "agreement_with_float": agreement, "metrics": metrics}


def build_report(*, run_dir: str, eval_split: str, eval_images: int, labels: tuple[str, ...],
                 models: dict[str, dict], chosen: str, gate: dict, int8_spec: dict, config: dict,
                 seconds: dict[str, float]) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "status": "passed" if gate["passed"] else "failed",
        "run_dir": run_dir,
        "eval_split": eval_split,
        "eval_images": int(eval_images),
        "labels": list(labels),
        "chosen": chosen,
        "int8_model": rundir.INT8_MODEL,
        "gate": gate,
        "input_quant": int8_spec.get("input_quant"),
        "output_quant": int8_spec.get("output_quant"),
        "models": models,
        "config": config,
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
    }


def per_class_f1(metrics: dict, labels: tuple[str, ...]) -> list[float]:
    per_class = metrics["per_class"]
    return [float(per_class[name]["f1"]) for name in labels]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def to_markdown(report: dict[str, Any]) -> str:
    models, labels = report["models"], tuple(report["labels"])
    cols = [k for k in COLUMNS if k in models]
    head = [COLUMNS[k] + (" (chosen)" if k == report["chosen"] else "") for k in cols]
    rows = [
        ("file", [f"`{models[k]['file']}`" for k in cols]),
        ("size", [_size(models[k]["bytes"]) for k in cols]),
        ("accuracy", [_pct(models[k]["accuracy"]) for k in cols]),
        ("macro-F1", [f"{models[k]['macro_f1']:.4f}" for k in cols]),
        ("top-1 agreement with float", [_pct(models[k]["agreement_with_float"]) for k in cols]),
    ]
    for i, name in enumerate(labels):
        rows.append((f"F1 {name}", [f"{per_class_f1(models[k]['metrics'], labels)[i]:.4f}" for k in cols]))
    for i, src in enumerate(models[cols[0]]["metrics"].get("sources", [])):  # a run on several sources
        short = src["source"].rstrip("/").split("/")[-1]
        per = [models[k]["metrics"]["sources"][i] for k in cols]
        rows.append((f"{short}: accuracy (n={src['n']})", [_pct(m["accuracy"]) for m in per]))
        rows.append((f"{short}: balanced accuracy", [_pct(m["balanced_accuracy"]) for m in per]))
        rows.append((f"{short}: macro-F1", [f"{m['macro_f1']:.4f}" for m in per]))
    lines = [
        "# Quantization report",
        "",
        f"Run `{report['run_dir']}`, evaluated on the `{report['eval_split']}` split "
        f"({report['eval_images']} images) with the LiteRT interpreter for `.tflite` models.",
        "",
        "| | " + " | ".join(head) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in rows]
    gate = report["gate"]
    iq, oq = report.get("input_quant") or {}, report.get("output_quant") or {}
    lines += [
        "",
        f"**Chosen:** {COLUMNS[report['chosen']]} -> `{report['int8_model']}` "
        f"(method `{report['config']['method']}`).",
        "",
        f"**Gate: {report['status'].upper()}** - {gate['message']}.",
        "",
        f"int8 input: scale {iq.get('scale', '-')}, zero point {iq.get('zero_point', '-')}; "
        f"output: scale {oq.get('scale', '-')}, zero point {oq.get('zero_point', '-')}.",
        "",
        "Times (s): " + ", ".join(f"{k} {v}" for k, v in report["seconds"].items()) + ".",
        "",
    ]
    return "\n".join(lines)
