"""Int8 quantization (PTQ and QAT) gated on accuracy."""

import train  # noqa: F401  (first: TF_USE_LEGACY_KERAS before TensorFlow loads)
