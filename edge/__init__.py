"""fer-edge runtime: the input contract and the live loop. Never imports TensorFlow."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("fer-edge")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.1.0+src"
