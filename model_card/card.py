"""Publish a finished run as a shipped model: the int8 model and its spec, the float model, a
confusion-matrix PNG and a model card, every number read from the run's own reports.

A run is publishable once ``fer-edge train``, ``fer-edge quantize`` (gate passed) and
``fer-edge export-firmware RUN --out RUN/firmware --board all`` have been run on it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import fields
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from edge import atomic, rundir  # noqa: E402
from edge.errors import UserError  # noqa: E402
from edge.jsonio import read_json  # noqa: E402
from edge.spec import ModelSpec, load_spec_for, spec_path_for  # noqa: E402
from quantize.config import QuantizeConfig  # noqa: E402
from train.config import TrainConfig  # noqa: E402
from train.rundir import load_run, run_model_path  # noqa: E402

#: train CLI option for each TrainConfig field that has a one-to-one option
_OPTIONS = {"data_format": "--format", "early_stopping_patience": "--patience"}


def train_command(cfg: TrainConfig, name: str) -> str:
    """The `fer-edge train` command line that reproduces ``cfg`` (options that differ from the defaults)."""
    default, parts = TrainConfig(), ["fer-edge train", f"--preset {cfg.preset}"]
    for f in fields(TrainConfig):
        value = getattr(cfg, f.name)
        if f.name in ("preset", "augment", "preset_options") or value == getattr(default, f.name):
            continue
        opt = _OPTIONS.get(f.name, "--" + f.name.replace("_", "-"))
        if f.name == "data":
            parts += [f"--data {_data_placeholder(d)}" for d in cfg.sources]
        elif f.name == "source_weights":
            parts += [f"--source-weight {w:g}" for w in value]
        elif f.name == "init":
            parts.append(f"{opt} {_model_placeholder(value)}")
        elif f.name == "teacher":
            parts += [f"--teacher {_model_placeholder(t)}" for t in cfg.teachers]
        elif f.name == "teacher_weights":
            parts += [f"--teacher-weight {','.join(f'{w:g}' for w in ws)}" for ws in value]
        elif f.name == "framing_align":
            parts.append("--framing-align" if value else "--no-framing-align")
        else:
            parts.append(f"{opt} {value}")
    parts += [f"--{k} {v}" for k, v in cfg.preset_options.items()]
    for f in fields(cfg.augment):
        value, base = getattr(cfg.augment, f.name), getattr(default.augment, f.name)
        if value != base:
            parts.append(f"--{f.name} {value}" if f.name != "flip" else ("--flip" if value else "--no-flip"))
    return " ".join(parts + [f"--name {name}"])


def _data_placeholder(source: str) -> str:
    name = Path(source).name.lower()
    if "fer2013" in name:
        return "<FER2013 folder>"
    if "expw" in name:
        return f"<ExpW folder: {Path(source).name}>"
    return f"<{Path(source).name}>"


def _model_placeholder(model: str) -> str:
    """A shipped model by its path in the repository, anything else by its name."""
    if model == "zoo":  # the OpenCV Zoo expression model, from fetch-models
        return "zoo"
    p = Path(model)
    return f"models/{p.name}" if p.parent.name == "models" else f"<{p.name}>"


def quantize_command(cfg: QuantizeConfig, run: str) -> str:
    """The `fer-edge quantize` command line that reproduces ``cfg`` (options that differ from the defaults)."""
    default, parts = QuantizeConfig(), ["fer-edge quantize", run]
    for f in fields(QuantizeConfig):
        value = getattr(cfg, f.name)
        if f.name == "format" or value == getattr(default, f.name):
            continue
        opt = "--" + f.name.replace("_", "-")
        parts.append(opt if value is True else f"{opt} {value}")
    return " ".join(parts)


def top_confusions(confusion: list[list[int]], labels: list[str], k: int = 3) -> list[str]:
    pairs = []
    for i, row in enumerate(confusion):
        total = max(sum(row), 1)
        pairs += [(row[j] / total, labels[i], labels[j]) for j in range(len(row)) if j != i]
    return [f"{t} taken for {p} ({100 * r:.0f}% of true {t})" for r, t, p in sorted(pairs, reverse=True)[:k]]


def _data_row(data: dict, cfg: TrainConfig, eval_split: str) -> str:
    """The card's data line: every source with its split sizes, how batches drew from them, the teacher."""
    def sizes(counts: dict) -> str:
        return ", ".join(f"{k} {sum(v.values()):,}" for k, v in counts.items())

    sources = data.get("sources") or []
    if len(sources) > 1:
        weights = (" sampled " + ":".join(f"{w:g}" for w in cfg.source_weights) + " (`--source-weight`)"
                   if cfg.source_weights else " sampled in proportion to their sizes")
        parts = " + ".join(f"{Path(s['source']).name} ({s['format']}: {sizes(s['counts'])})" for s in sources)
        by = "the mean of the sources' own accuracies" if cfg.monitor == "val_source_accuracy" else cfg.monitor
        text = f"{parts};{weights}; trained on the `train` splits, checkpoint chosen on `{eval_split}` by {by}"
    else:
        text = (f"{data['source'].split('/')[-1]} ({data['format']}: "
                f"{', '.join(f'{k} {v:,}' for k, v in data['sizes'].items())}); trained on `train`, model selection "
                f"on `{eval_split}`")
    if any("fer2013" in Path(s["source"]).name.lower() for s in sources) or "fer2013" in str(data["source"]).lower():
        text += " (FER2013's `val` is the official PublicTest; PrivateTest never used)"
    teacher = data.get("teacher")
    if teacher and len(cfg.teachers) > 1:
        members = ", ".join(f"`{_model_placeholder(m['model'])}` ({100 * m['train_accuracy']:.2f}% alone)"
                            for m in teacher.get("members", []))
        text += (f"; distilled from an ensemble of {members}, weighted per source {teacher.get('weights')} "
                 f"(T={cfg.distill_temperature:g}, weight {cfg.distill_weight:g}; the ensemble's accuracy on the train "
                 f"split {100 * teacher['train_accuracy']:.2f}%)")
    elif teacher:
        text += (f"; distilled from `{_model_placeholder(cfg.teachers[0])}` (T={cfg.distill_temperature:g}, "
                 f"weight {cfg.distill_weight:g}; teacher accuracy on the train split {100 * teacher['train_accuracy']:.2f}%)")
    return text


def _measured_m4(export: dict) -> str:
    """The ``--measure-m4`` paragraph when the firmware export measured instructions on a Cortex-M4."""
    if not export.get("measure_m4"):
        return ""
    from firmware_export.boards import load_boards
    from firmware_export.measure_m4 import board_clocks, measured_markdown

    return "\n" + measured_markdown(export["measure_m4"], board_clocks(load_boards())) + "\n"


def _card(name: str, run_dir: Path, spec: ModelSpec, cfg: TrainConfig, qcfg: QuantizeConfig, metrics: dict,
          report: dict, export: dict, float_bytes: int | None, side_by_side: str = "", card_args: str = "") -> str:
    fl, q = report["models"]["float"], report["models"][report["chosen"]]
    qm, b, data = q["metrics"], metrics["budget"], metrics["data"]
    per_class = "\n".join(f"| {c} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                          for c, v in qm["per_class"].items())
    boards = "\n".join(f"| {bd['id']} | {bd['flash_needed'] / 1024:.0f} KiB | {bd['ram_needed'] / 1024:.0f} KiB | "
                       f"{'yes' if bd['fits'] else 'no'} | {bd['latency_ms']:.0f} ms |" for bd in export["boards"])
    m4 = _measured_m4(export)
    fer = "fer2013" in str(cfg.data).lower()
    expw = "expw" in str(cfg.data).lower()
    bias = ("FER2013 was gathered by web image search and labelled once per face; its labels are noisy (the FER+ "
            "relabelling, Barsoum et al. 2016, disagreed with many of them) and 'disgust' has only 436 training "
            "images. Its faces are 48x48 grayscale and mostly frontal, and its demographics are not documented: "
            "accuracy on groups rare in web photos, on strong head pose, occlusions and poor light is unknown."
            if fer else "Check the training data's make-up before trusting the model on other populations.")
    if expw:
        bias += (" ExpW's faces are web photos cut at its face boxes, labelled once by annotators and often "
                 "ambiguous; a held-out split of a few hundred faces measures accuracy to within a few points.")
    ar = export["arena"]
    float_files = (f"`{name}.keras` + `{name}.spec.json` (float)" if float_bytes is None else
                   f"the float model ({float_bytes / 2**20:.1f} MiB) is not shipped: rebuild it with the commands under Reproduce")
    return f"""# {name}: {cfg.preset} facial-expression model (int8)

| | |
|---|---|
| files | `{name}_int8.tflite` + `{name}_int8.spec.json` (the model devices run); {float_files} |
| task | {spec.num_classes} expressions ({", ".join(spec.labels)}) from a {spec.input_height}x{spec.input_width} grayscale face crop |
| data | {_data_row(data, cfg, report["eval_split"])} |
| preset | `{cfg.preset}` ({", ".join(f"{k} {v}" for k, v in cfg.preset_options.items()) or "defaults"}): {b["params"]:,} parameters, {b["macs"] / 1e6:.1f} M MACs per face |
| int8 model | {q["bytes"]:,} bytes ({q["bytes"] / 1024:.1f} KiB), full-integer ({report["chosen"].upper()}), input scale {report["input_quant"]["scale"]:.6g} / zero point {report["input_quant"]["zero_point"]} |
| TFLM arena | {ar["used"]:,} bytes measured in tflite-micro, {ar["recommended"]:,} recommended (`kTensorArenaSize`) |
| TFLM vs LiteRT | {export["parity"]["bit_identical"]}/{export["parity"]["samples"]} outputs bit-identical, max {export["parity"]["max_abs_diff"]} LSB |
| training | {metrics["epochs_completed"]} epochs ({metrics["stop_reason"]}; best epoch {metrics["best_epoch"]}), {metrics["train_seconds"] / 60:.0f} min on a 2-core CPU; quantization {sum(report["seconds"].values()) / 60:.1f} min |

## Accuracy on `{report["eval_split"]}` ({report["eval_images"]:,} images)

| model | accuracy | macro-F1 | same top-1 as float |
|---|---:|---:|---:|
| float (Keras) | {100 * fl["accuracy"]:.2f}% | {fl["macro_f1"]:.4f} | - |
| int8 ({report["chosen"].upper()}, shipped) | {100 * q["accuracy"]:.2f}% | {q["macro_f1"]:.4f} | {100 * q["agreement_with_float"]:.2f}% |

Per class (int8):

| class | precision | recall | F1 | support |
|---|---:|---:|---:|---:|
{per_class}

![confusion matrix]({name}_confusion.png)
{side_by_side}
## On a microcontroller

Estimated latency = MACs / (MAC per cycle x clock), not measured on hardware; flash = model + TFLM
runtime allowance, RAM = arena + runtime allowance (see `firmware_export/boards.json`).

| board | flash | RAM | fits | est. latency |
|---|---:|---:|---|---:|
{boards}
{m4}
## Known limits

- Most confused: {"; ".join(top_confusions(qm["confusion"], report["labels"]))}.
- {bias}
- Expressions are judged from a single frame; the live loop smooths over a few frames.

## Reproduce

```sh
{train_command(cfg, run_dir.name)}
{quantize_command(qcfg, f"runs/{run_dir.name}")}
fer-edge export-firmware runs/{run_dir.name} --out runs/{run_dir.name}/firmware --board all
fer-edge model-card runs/{run_dir.name} --name {name} --out models{card_args}
```
"""


#: the float .keras is shipped only up to this size, to keep the repository small
MAX_FLOAT_BYTES = 1_000_000


def publish(run_dir: str | Path, out_dir: str | Path, name: str, firmware_dir: str | Path | None = None,
            max_float_bytes: int = MAX_FLOAT_BYTES, evals: list[str] = (), baselines: list[str] = ()) -> list[Path]:
    """Write ``<name>_int8.tflite``/spec, ``<name>_confusion.png``, ``<name>.md`` and, when it is at most
    ``max_float_bytes`` (saved without optimizer state), the float ``<name>.keras``/spec.

    When the run trained on several sources, or ``evals`` (extra labelled folders) or ``baselines``
    (earlier models, e.g. the model this one replaces) are given, the card gets a side-by-side table
    of the float, int8 and baseline models on every source's held-out val faces and every extra set.
    """
    import tf_keras as keras

    from train.plots import plot_confusion

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    cfg, spec, keras_path = load_run(run_dir)
    int8 = run_model_path(run_dir, "int8")
    report = read_json(run_dir / rundir.QUANT_REPORT, "quantization report", "run 'fer-edge quantize' first")
    if report.get("status") != "passed":
        raise UserError(f"{run_dir}: the quantization gate did not pass ({report['gate']['message']}); not publishing")
    metrics = read_json(run_dir / rundir.METRICS, "training metrics", "training has not finished")
    qcfg = QuantizeConfig.load(run_dir / rundir.QUANTIZE_CONFIG)
    baseline_paths = [_existing_model(b) for b in baselines]  # bad input fails before anything is written
    fw = Path(firmware_dir) if firmware_dir else run_dir / rundir.FIRMWARE_DIR
    export = read_json(fw / rundir.FIRMWARE_REPORT, "firmware export report", f"run 'fer-edge export-firmware {run_dir} --out {fw} --board all' first")
    rows = None  # scored before anything is written: the slow part, and the one that can fail
    if len(cfg.sources) > 1 or evals or baseline_paths:
        from model_card.side_by_side import side_by_side

        rows = side_by_side(cfg, {"float": keras_path, "int8": int8,
                                  **{f"baseline{i}": b for i, b in enumerate(baseline_paths)}}, list(evals))
    tflite, keras_out = out_dir / f"{name}_int8.tflite", out_dir / f"{name}.keras"
    png, card = out_dir / f"{name}_confusion.png", out_dir / f"{name}.md"
    with atomic.atomic_path(tflite) as tmp:
        shutil.copyfile(int8, tmp)
    load_spec_for(int8).save(spec_path_for(tflite))
    model = keras.models.load_model(keras_path, compile=False, safe_mode=True)  # no optimizer state
    float_bytes = None
    with tempfile.TemporaryDirectory() as tmp_dir:
        saved = Path(tmp_dir) / keras_out.name
        model.save(saved)
        size = saved.stat().st_size
        if size > max_float_bytes:
            float_bytes = size
        else:
            with atomic.atomic_path(keras_out) as tmp:
                shutil.copyfile(saved, tmp)
    if float_bytes is None:
        spec.save(spec_path_for(keras_out))
    else:  # too large to ship: also remove a float model an earlier publish left under this name
        keras_out.unlink(missing_ok=True)
        spec_path_for(keras_out).unlink(missing_ok=True)
    plot_confusion(report["models"][report["chosen"]]["metrics"]["confusion"], report["labels"], png,
                   title=f"{name} int8 on {report['eval_split']}")
    float_path = f"models/{name}.keras" if float_bytes is None else f"runs/{run_dir.name}"
    table = _side_by_side(name, float_path, rows, baseline_paths) if rows else ""
    atomic.write_text(card, _card(name, run_dir, spec, cfg, qcfg, metrics, report, export, float_bytes, table,
                                  "".join([f" --eval {_data_placeholder(e)}" for e in evals]
                                          + [f" --baseline <before: {b.name}>" for b in baseline_paths])))
    return [tflite] + ([keras_out] if float_bytes is None else []) + [png, card]


def _existing_model(path: str) -> Path:
    p = Path(path)
    if p.suffix not in (".keras", ".tflite") or not p.is_file():
        raise UserError(f"{p}: --baseline expects a .keras or .tflite model file (with its spec beside it)")
    if not spec_path_for(p).is_file():
        raise UserError(f"{p}: no spec beside it ({spec_path_for(p).name}); --baseline needs the model's spec")
    return p


def _side_by_side(name: str, float_path: str, rows: list, baselines: list[Path]) -> str:
    """The card's section for ``model_card.side_by_side.side_by_side`` rows (float, int8, then baselines)."""
    from model_card.side_by_side import to_markdown

    labels = {"float": "float", "int8": "int8 (shipped)",
              **{f"baseline{i}": f"before: `{b.name}`" for i, b in enumerate(baselines)}}
    paths = {"float": float_path, "int8": f"models/{name}_int8.tflite",
             **{f"baseline{i}": f"<before: {b.name}>" for i, b in enumerate(baselines)}}
    what = ("the models this one is compared with (`before`) were scored on the same faces, each through its own "
            "spec" if baselines else "each model through its own spec")
    return ("\n## Every data set side by side\n\n"
            "Each source the model trained on is scored on its own held-out faces, and each extra folder whole; "
            f"{what}. Balanced accuracy is the mean per-class recall; the natural-prior accuracy weights each class's "
            "recall by how often full ExpW shows it (4% angry, 4% disgust, 1% fear, 33% happy, 12% sad, 8% surprise, "
            "38% neutral): the accuracy to expect on faces met in everyday use.\n\n"
            + to_markdown(rows, labels, _data_placeholder, paths) + "\n")
