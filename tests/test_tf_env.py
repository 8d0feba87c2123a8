"""TensorFlow is told to use Keras 2 (``TF_USE_LEGACY_KERAS``) in one place, ``train/__init__.py``, which every
TensorFlow user imports before TensorFlow itself (its own package's ``__init__`` imports ``train`` first)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_legacy_keras_is_set_in_one_place():
    setters = sorted(str(p.relative_to(ROOT)) for d in ("edge", "train", "quantize", "firmware_export", "mobile_export",
                                                       "model_card", "benchmarks", "tools", "tests")
                     for p in (ROOT / d).rglob("*.py")
                     if p.name != Path(__file__).name and re.search(r"[\"']TF_USE_LEGACY_KERAS[\"']", p.read_text()))
    assert setters == ["train/__init__.py"]


@pytest.mark.requires("tensorflow", "tf_keras", "tensorflow_model_optimization")
@pytest.mark.parametrize("first", ["quantize.qat"])
def test_a_fresh_process_importing_a_tensorflow_user_first_gets_tf_keras_models(first, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    code = (f"import {first}, os, tensorflow as tf, tf_keras; "
            "assert os.environ['TF_USE_LEGACY_KERAS'] == '1'; "
            "m = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)]); "
            "assert isinstance(m, tf_keras.Model), type(m).__mro__; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]
