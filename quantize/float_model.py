"""Loading a float tf_keras ``.keras`` model, without tensorflow-model-optimization.

Only a model that carries QAT wrappers needs tfmot to load (its layers are tfmot's); a float model does not, so
``fer-edge export-mobile`` (the ``mobile`` extra: TensorFlow and tf_keras, no tfmot) converts the shipped float
models through this module. ``quantize.qat`` builds on it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import tf_keras as keras

from edge.core.errors import UserError

#: class names in a .keras file's config.json that only tfmot can rebuild
QAT_LAYERS = ("QuantizeWrapper", "QuantizeLayer", "QuantizeAnnotate")


def has_qat_wrappers(path: Path) -> bool:
    """True when the ``.keras`` file's architecture names a tfmot quantization layer."""
    try:
        with zipfile.ZipFile(path) as z:
            config = z.read("config.json").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    return any(name in config for name in QAT_LAYERS)


def load_float_model(path: str | Path):
    """Load a tf_keras ``.keras`` model safely (``safe_mode``: no arbitrary code from the file); tfmot is imported
    only for a file with QAT wrappers (and then must be installed: the train extra)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: model file not found")
    try:
        if has_qat_wrappers(path):
            try:
                import tensorflow_model_optimization as tfmot
            except ModuleNotFoundError:
                raise UserError(f"{path}: holds QAT wrappers, which need tensorflow-model-optimization to load: "
                                "pip install 'fer-edge[train]', or pass the float model", exit_code=3) from None
            with tfmot.quantization.keras.quantize_scope():
                return keras.models.load_model(path, safe_mode=True, compile=False)
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except UserError:
        raise
    except Exception as e:  # corrupt zip, unknown/unsafe layers, Keras 3 file, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{path}: cannot load the Keras model ({type(e).__name__}: {first[:300]}); "
                        "expected a tf_keras .keras file written by fer-edge train") from None
