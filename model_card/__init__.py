"""Publishing a run as a model with its card."""

import train  # noqa: F401  (first: TF_USE_LEGACY_KERAS before TensorFlow loads)
