"""Fine-tuning: start a run from a trained model's weights (``--init MODEL_OR_RUN``).

The model to start from must be a float ``.keras`` (a run directory means its ``model.keras``) with
its spec beside it, of the same preset and preset options as the run, with the same input contract
(labels, input size, preprocessing) and the same layers and weight shapes; anything else is a
one-line error saying what differs. A ``.tflite`` model cannot be fine-tuned: its weights are int8.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tf_keras as keras

from edge.core.errors import UserError
from edge.core.rundir import resolve_model
from edge.core.spec import ModelSpec, load_spec_for

log = logging.getLogger(__name__)


def load_init_weights(model, init: str | Path, preset: str, preset_options: dict, student: ModelSpec) -> Path:
    """Copy the weights of ``init`` into ``model`` (built from ``preset``) after checking they belong together."""
    if Path(init).suffix == ".tflite":
        raise UserError(f"{init}: --init needs a float .keras model (a .tflite model's int8 weights cannot be trained)")
    path = resolve_model(init, "--init model", kinds=(".keras",))
    spec = load_spec_for(path)
    spec.check_contract(student, f"{path}: --init model", "the model being trained")
    if spec.preset is not None and spec.preset != preset:
        raise UserError(f"{path}: --init model is preset {spec.preset!r}, this run builds {preset!r} "
                        f"(pass --preset {spec.preset})")
    theirs = dict(spec.meta.get("preset_options") or {})
    if spec.preset is not None and theirs != dict(preset_options):
        raise UserError(f"{path}: --init model was built with preset options {theirs or '{}'}, this run with "
                        f"{dict(preset_options) or '{}'} (pass the same --width/--depth/--dropout)")
    try:
        source = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for a bad file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: not a loadable .keras model ({first})") from None
    ours, given = model.weights, source.weights
    if len(ours) != len(given):
        raise UserError(f"{path}: --init model has {len(given)} weight tensors, preset {preset} has {len(ours)}")
    for a, b in zip(ours, given):
        if tuple(a.shape) != tuple(b.shape):
            raise UserError(f"{path}: weight {b.name} has shape {tuple(b.shape)}, preset {preset} expects "
                            f"{tuple(a.shape)} for {a.name}")
    model.set_weights(source.get_weights())
    log.info("weights initialised from %s", path)
    return path
