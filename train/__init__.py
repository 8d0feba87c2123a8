"""Training: datasets, model presets, the fit loop, evaluation, tuning (the ``train`` extra).

Every model here is a Keras 2 (``tf_keras``) model, so TensorFlow must be told before it is first imported.
This is the one place that does it: a ``train`` module is imported after this package, and ``quantize``,
``mobile_export``, ``model_card`` and ``benchmarks`` import this package first (tests/test_tf_env.py).
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
