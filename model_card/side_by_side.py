"""The model card's side-by-side table: the run's float and int8 models, and earlier models to compare
with, scored on every source the run trained on (its own held-out val faces) and on extra labelled sets.

Every model reads its faces through its own spec (the framing of ExpW-style photos is part of the
input contract), with ``train.eval_data.eval_set`` and ``train.scoring``: the same code as
``fer-edge evaluate``, so each number in the card can be reproduced with the command printed beside it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from edge.core.spec import ModelSpec, load_spec_for
from train.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class EvalRow:
    """One labelled set: where it comes from, the split scored, and each model's metrics on it."""
    source: str
    split: str
    own: bool  # one of the run's training sources (scored on the faces the run held out)
    n: int = 0
    metrics: dict[str, dict] = field(default_factory=dict)  # model key -> metrics

    @property
    def name(self) -> str:
        return Path(self.source).name


def side_by_side(cfg: TrainConfig, models: dict[str, Path], evals: list[str] = ()) -> list[EvalRow]:
    """Score ``models`` (key -> .keras/.tflite with its spec) on the run's sources' val and on ``evals``."""
    from train.scoring import evaluate_model

    specs = {key: load_spec_for(path) for key, path in models.items()}
    rows = [EvalRow(s, "val", True) for s in cfg.sources if s is not None]
    rows += [EvalRow(s, "auto", False) for s in evals]
    cache: dict[tuple, object] = {}
    for row in rows:
        for key, path in models.items():
            spec = specs[key]
            faces = _faces(cache, row, spec, cfg)
            log.info("model card: %s on %s [%s] (%d faces)", path.name, row.source, faces.split, len(faces.faces))
            row.split, row.n = faces.split, len(faces.faces)
            row.metrics[key] = evaluate_model(path, faces.faces, spec)
    return rows


def _faces(cache: dict, row: EvalRow, spec: ModelSpec, cfg: TrainConfig):
    """The row's faces as ``spec`` frames them, loaded once per distinct framing."""
    from train.eval_data import eval_set

    framing = json.dumps(spec.to_dict().get("framing"), sort_keys=True)
    key = (row.source, row.own, framing)
    if key not in cache:
        if row.own:  # the faces the run held out, carved exactly as training did
            options = {k: v for k, v in cfg.loader_options_for(row.source).items() if k != "source"}
            cache[key] = eval_set(row.source, "val", spec=spec, **options)
        else:
            cache[key] = eval_set(row.source, "auto", spec=spec)
    return cache[key]


def to_markdown(rows: list[EvalRow], labels: dict[str, str], placeholder, model_paths: dict[str, str]) -> str:
    """The table (accuracy / balanced accuracy / natural-prior accuracy / macro-F1 per model) and the commands
    behind it. The natural-prior accuracy weights each class's recall by full ExpW's class frequencies
    (``train.scoring.NATURAL_PRIOR``): what to expect on everyday faces.

    ``labels``: model key -> column heading; ``placeholder(source)``: how a data folder is written in
    commands; ``model_paths``: model key -> the path a reader passes to ``fer-edge evaluate``.
    """
    keys = list(labels)
    head = "| data | split | faces | " + " | ".join(f"{labels[k]}: accuracy / balanced / natural-prior / macro-F1" for k in keys) + " |"
    lines = [head, "|---|---|---:|" + "---:|" * len(keys)]
    for row in rows:
        cells = []
        for k in keys:
            m = row.metrics[k]
            prior = f"{100 * m['natural_prior_accuracy']:.2f}%" if "natural_prior_accuracy" in m else "-"
            cells.append(f"{100 * m['accuracy']:.2f}% / {100 * m['balanced_accuracy']:.2f}% / {prior} / {m['macro_f1']:.4f}")
        where = "held-out val (trained on its train split)" if row.own else "whole folder, never trained on" \
            if row.split == "all" else row.split
        lines.append(f"| {row.name} | {where} | {row.n:,} | " + " | ".join(cells) + " |")
    lines += ["", "```sh"]
    for row in rows:
        split = " --split val" if row.own and row.split == "val" else ""
        for k in keys:
            lines.append(f"fer-edge evaluate {model_paths[k]} --data {placeholder(row.source)}{split}")
    lines.append("```")
    return "\n".join(lines)
