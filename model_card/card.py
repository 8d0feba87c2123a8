"""Publish a finished run as a shipped model: the int8 model and its spec, the float model, a
confusion-matrix PNG and a model card, every number read from the run's own reports.

A run is publishable once ``fer-edge train``, ``fer-edge quantize`` (gate passed) and
``fer-edge export-firmware RUN --out-dir RUN/firmware --board all`` have been run on it.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edge.core.errors import UserError
from edge.core.jsonio import read_json
from edge.core.spec import ModelSpec, load_spec_for, spec_path_for
from firmware_export.cli import to_argv as export_argv
from firmware_export.config import FIRMWARE_DIR, FIRMWARE_REPORT, ExportConfig
from quantize import files as quantize_files
from quantize.cli import to_argv as quantize_argv
from quantize.config import QuantizeConfig
from train.cli import to_argv as train_argv
from train.config import TrainConfig
from train.run_artifacts import METRICS, load_run, run_model_path, source_name


def train_command(cfg: TrainConfig, name: str, refs: dict[str, str] | None = None) -> str:
    """The `fer-edge train` command line that reproduces ``cfg`` (``train.cli.to_argv``: every option that differs
    from its default), its data shown as placeholders and its --init and --teacher models by ``refs``
    (``model_card.provenance.model_refs``) or their names."""
    refs = refs or {}
    shown = dataclasses.replace(
        cfg, data=[_data_placeholder(d) for d in cfg.sources] if cfg.data else None,
        init=(refs.get(cfg.init) or _model_placeholder(cfg.init)) if cfg.init else None,
        teacher=[refs.get(t) or _model_placeholder(t) for t in cfg.teachers] or None)
    return " ".join(["fer-edge train", *train_argv(shown), "--name", name])


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
    """The `fer-edge quantize` command line that reproduces ``cfg`` (``quantize.cli.to_argv``)."""
    return " ".join(["fer-edge quantize", run, *quantize_argv(cfg)])


def export_command(run: str, out: str) -> str:
    """The `fer-edge export-firmware` command line that writes the run's firmware with every board's fit."""
    return " ".join(["fer-edge export-firmware", *export_argv(ExportConfig(model=run, out=out, board="all"))])


def top_confusions(confusion: list[list[int]], labels: list[str], k: int = 3) -> list[str]:
    pairs = []
    for i, row in enumerate(confusion):
        total = max(sum(row), 1)
        pairs += [(row[j] / total, labels[i], labels[j]) for j in range(len(row)) if j != i]
    return [f"{t} taken for {p} ({100 * r:.0f}% of true {t})" for r, t, p in sorted(pairs, reverse=True)[:k]]


def _data_row(data: dict, cfg: TrainConfig, eval_split: str, refs: dict[str, str] | None = None) -> str:
    """The card's data line: every source with its split sizes, how batches drew from them, the teacher."""
    refs = refs or {}
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
        members = ", ".join(f"`{refs.get(m['model']) or _model_placeholder(m['model'])}` "
                            f"({100 * m['train_accuracy']:.2f}% alone)"
                            for m in teacher.get("members", []))
        text += (f"; distilled from an ensemble of {members}, weighted per source {teacher.get('weights')} "
                 f"(T={cfg.distill_temperature:g}, weight {cfg.distill_weight:g}; the ensemble's accuracy on the train "
                 f"split {100 * teacher['train_accuracy']:.2f}%)")
    elif teacher:
        first = cfg.teachers[0]
        text += (f"; distilled from `{refs.get(first) or _model_placeholder(first)}` (T={cfg.distill_temperature:g}, "
                 f"weight {cfg.distill_weight:g}; teacher accuracy on the train split {100 * teacher['train_accuracy']:.2f}%)")
    return text


def _measured_m4(export: dict) -> str:
    """The ``--measure-m4`` paragraph when the firmware export measured instructions on a Cortex-M4."""
    if not export.get("measure_m4"):
        return ""
    from firmware_export.boards import load_boards
    from firmware_export.render import board_clocks, measured_markdown

    return "\n" + measured_markdown(export["measure_m4"], board_clocks(load_boards())) + "\n"


@dataclass(frozen=True)
class CardInputs:
    """What a card is written from: the run's own reports, read once by ``publish``."""
    name: str
    run_dir: Path
    spec: ModelSpec
    cfg: TrainConfig
    qcfg: QuantizeConfig
    metrics: dict  # metrics.json
    report: dict  # quant_report.json
    export: dict  # the firmware export's export.json
    float_bytes: int | None = None  # the float model's size when it is too large to ship, else None
    side_by_side: str = ""  # the side-by-side section, if any
    card_args: str = ""  # extra model-card options for the Reproduce section
    refs: dict | None = None  # how --init and --teacher models are named (model_card.provenance.model_refs)
    speed: str = ""  # the speed section (model_card.speed.section), if measured

    @property
    def int8(self) -> dict:
        return self.report["models"][self.report["chosen"]]


def card_text(c: CardInputs) -> str:
    """The card's Markdown, from what ``publish`` read of the run (no I/O: tests render it from fixed inputs)."""
    return "".join([_summary(c), _accuracy(c), c.side_by_side + "\n", c.speed, _microcontroller(c),
                    _known_limits(c), _reproduce(c)])


def _summary(c: CardInputs) -> str:
    """The title and the table of what the model is, how big and how it was made."""
    name, spec, cfg, report, q, b = c.name, c.spec, c.cfg, c.report, c.int8, c.metrics["budget"]
    float_files = (f"`{name}.keras` + `{name}.spec.json` (float)" if c.float_bytes is None else
                   f"the float model ({c.float_bytes / 2**20:.1f} MiB) is not shipped: rebuild it with the commands under Reproduce")
    ar, parity, m = c.export["arena"], c.export["parity"], c.metrics
    return f"""# {name}: {cfg.preset} facial-expression model (int8)

| | |
|---|---|
| files | `{name}_int8.tflite` + `{name}_int8.spec.json` (the model devices run); {float_files} |
| task | {spec.num_classes} expressions ({", ".join(spec.labels)}) from a {spec.input_height}x{spec.input_width} grayscale face crop |
| data | {_data_row(m["data"], cfg, report["eval_split"], c.refs)} |
| preset | `{cfg.preset}` ({", ".join(f"{k} {v}" for k, v in cfg.preset_options.items()) or "defaults"}): {b["params"]:,} parameters, {b["macs"] / 1e6:.1f} M MACs per face |
| int8 model | {q["bytes"]:,} bytes ({q["bytes"] / 1024:.1f} KiB), full-integer ({report["chosen"].upper()}), input scale {report["input_quant"]["scale"]:.6g} / zero point {report["input_quant"]["zero_point"]} |
| TFLM arena | {ar["used"]:,} bytes measured in tflite-micro, {ar["recommended"]:,} recommended (`kTensorArenaSize`) |
| TFLM vs LiteRT | {parity["bit_identical"]}/{parity["samples"]} outputs bit-identical, max {parity["max_abs_diff"]} LSB |
| training | {m["epochs_completed"]} epochs ({m["stop_reason"]}; best epoch {m["best_epoch"]}), {m["train_seconds"] / 60:.0f} min on a 2-core CPU; quantization {sum(report["seconds"].values()) / 60:.1f} min |

"""


def _accuracy(c: CardInputs) -> str:
    """Float and int8 accuracy on the evaluation split, per class, and the confusion matrix."""
    report, fl, q = c.report, c.report["models"]["float"], c.int8
    per_class = "\n".join(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                          for k, v in q["metrics"]["per_class"].items())
    return f"""## Accuracy on `{report["eval_split"]}` ({report["eval_images"]:,} images)

| model | accuracy | macro-F1 | same top-1 as float |
|---|---:|---:|---:|
| float (Keras) | {100 * fl["accuracy"]:.2f}% | {fl["macro_f1"]:.4f} | - |
| int8 ({report["chosen"].upper()}, shipped) | {100 * q["accuracy"]:.2f}% | {q["macro_f1"]:.4f} | {100 * q["agreement_with_float"]:.2f}% |

Per class (int8):

| class | precision | recall | F1 | support |
|---|---:|---:|---:|---:|
{per_class}

![confusion matrix]({c.name}_confusion.png)
"""


def _microcontroller(c: CardInputs) -> str:
    """Flash, RAM, fit and estimated latency per board, from the firmware export."""
    boards = "\n".join(f"| {bd['id']} | {bd['flash_needed'] / 1024:.0f} KiB | {bd['ram_needed'] / 1024:.0f} KiB | "
                       f"{'yes' if bd['fits'] else 'no'} | {bd['latency_ms']:.0f} ms |" for bd in c.export["boards"])
    return f"""## On a microcontroller

Estimated latency = MACs / (MAC per cycle x clock), not measured on hardware; flash = model + TFLM
runtime allowance, RAM = arena + runtime allowance (see `firmware_export/boards.json`).

| board | flash | RAM | fits | est. latency |
|---|---:|---:|---|---:|
{boards}
{_measured_m4(c.export)}
"""


def _known_limits(c: CardInputs) -> str:
    """The most confused pairs and what the training data leaves unknown."""
    data = str(c.cfg.data).lower()
    bias = ("FER2013 was gathered by web image search and labelled once per face; its labels are noisy (the FER+ "
            "relabelling, Barsoum et al. 2016, disagreed with many of them) and 'disgust' has only 436 training "
            "images. Its faces are 48x48 grayscale and mostly frontal, and its demographics are not documented: "
            "accuracy on groups rare in web photos, on strong head pose, occlusions and poor light is unknown."
            if "fer2013" in data else "Check the training data's make-up before trusting the model on other populations.")
    if "expw" in data:
        bias += (" ExpW's faces are web photos cut at its face boxes, labelled once by annotators and often "
                 "ambiguous; a held-out split of a few hundred faces measures accuracy to within a few points.")
    return f"""## Known limits

- Most confused: {"; ".join(top_confusions(c.int8["metrics"]["confusion"], c.report["labels"]))}.
- {bias}
- Expressions are judged from a single frame; the live loop smooths over a few frames.

"""


def _reproduce(c: CardInputs) -> str:
    """The commands that rebuild the model from its data."""
    run = c.run_dir.name
    return f"""## Reproduce

```sh
{train_command(c.cfg, run, c.refs)}
{quantize_command(c.qcfg, f"runs/{run}")}
{export_command(f"runs/{run}", f"runs/{run}/{FIRMWARE_DIR}")}
fer-edge model-card runs/{run} --name {c.name} --out-dir models{c.card_args}
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
    report = read_json(run_dir / quantize_files.QUANT_REPORT, "quantization report", "run 'fer-edge quantize' first")
    if report.get("status") != "passed":
        raise UserError(f"{run_dir}: the quantization gate did not pass ({report['gate']['message']}); not publishing")
    metrics = read_json(run_dir / METRICS, "training metrics", "training has not finished")
    qcfg = QuantizeConfig.load(run_dir / quantize_files.QUANTIZE_CONFIG)
    baseline_paths = [_existing_model(b) for b in baselines]  # bad input fails before anything is written
    fw = Path(firmware_dir) if firmware_dir else run_dir / FIRMWARE_DIR
    export = read_json(fw / FIRMWARE_REPORT, "firmware export report", f"run 'fer-edge export-firmware {run_dir} --out-dir {fw} --board all' first")
    rows = None  # scored before anything is written: the slow part, and the one that can fail
    if len(cfg.sources) > 1 or evals or baseline_paths:
        from model_card.side_by_side import side_by_side

        rows = side_by_side(cfg, {"float": keras_path, "int8": int8,
                                  **{f"baseline{i}": b for i, b in enumerate(baseline_paths)}}, list(evals))
    from model_card import speed as card_speed
    from model_card.provenance import model_refs

    tflite, keras_out = out_dir / quantize_files.int8_name(name), out_dir / f"{name}.keras"
    png, card = out_dir / f"{name}_confusion.png", out_dir / f"{name}.md"
    outputs = [tflite, spec_path_for(tflite), keras_out, spec_path_for(keras_out), png, card]
    refs = model_refs(cfg, spec.meta, set(outputs), repo=_repo_of(out_dir))
    model = keras.models.load_model(keras_path, compile=False, safe_mode=True)  # no optimizer state
    speed = card_speed.measure(int8, model, spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    # Every file is written into a staging folder beside the outputs first and moved into place only when all
    # are written: a failure on the way leaves models/ as it was, never new model files under an old card.
    stage = Path(tempfile.mkdtemp(prefix=f".{name}-staging-", dir=out_dir))
    try:
        staged = {tflite: stage / tflite.name}
        shutil.copyfile(int8, staged[tflite])
        staged[spec_path_for(tflite)] = spec_path_for(staged[tflite])
        _shipped(load_spec_for(int8)).save(staged[spec_path_for(tflite)])
        model.save(stage / keras_out.name)
        size = (stage / keras_out.name).stat().st_size
        float_bytes = size if size > max_float_bytes else None
        if float_bytes is None:
            staged[keras_out] = stage / keras_out.name
            staged[spec_path_for(keras_out)] = spec_path_for(staged[keras_out])
            _shipped(spec).save(staged[spec_path_for(keras_out)])
        staged[png] = stage / png.name
        plot_confusion(report["models"][report["chosen"]]["metrics"]["confusion"], report["labels"], staged[png],
                       title=f"{name} int8 on {report['eval_split']}")
        float_path = f"models/{name}.keras" if float_bytes is None else f"runs/{run_dir.name}"
        table = _side_by_side(name, float_path, rows, baseline_paths) if rows else ""
        card_args = "".join([f" --eval {_data_placeholder(e)}" for e in evals]
                            + [f" --baseline <before: {b.name}>" for b in baseline_paths])
        staged[card] = stage / card.name
        staged[card].write_text(card_text(CardInputs(name, run_dir, spec, cfg, qcfg, metrics, report, export,
                                                 float_bytes, table, card_args, refs,
                                                 card_speed.section(speed, metrics["budget"]["macs"]))),
                                encoding="utf-8")
        for final, tmp in staged.items():  # all written: now the renames (same folder, so each is atomic)
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)
        if float_bytes is not None:  # too large to ship: also remove a float model an earlier publish left here
            keras_out.unlink(missing_ok=True)
            spec_path_for(keras_out).unlink(missing_ok=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return [tflite] + ([keras_out] if float_bytes is None else []) + [png, card]


def _shipped(spec: ModelSpec) -> ModelSpec:
    """The spec as shipped: its data sources by name, never the trainer's folders (runs trained before the spec
    recorded names only still hold absolute paths)."""
    data = spec.meta.get("data")
    if not isinstance(data, str):
        return spec
    return dataclasses.replace(spec, meta={**spec.meta, "data": " + ".join(source_name(d.strip())
                                                                           for d in data.split(" + "))})


def _repo_of(path: Path) -> Path | None:
    """The git checkout holding ``path``, if any (to name earlier shipped models by commit)."""
    for p in [path.resolve(), *path.resolve().parents]:
        if (p / ".git").exists():
            return p
    return None


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
