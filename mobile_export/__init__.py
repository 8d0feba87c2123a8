"""Mobile export: .tflite files with metadata for MediaPipe Tasks apps."""

import train  # noqa: F401  (first: TF_USE_LEGACY_KERAS before TensorFlow loads)
