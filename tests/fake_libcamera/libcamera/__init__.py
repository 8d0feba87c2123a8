"""A stand-in for libcamera's Python bindings, for testing picamera2's own code without a camera.

See ``fake_camera`` (beside this package) for the hardware it simulates and its switches.
"""

from . import _dmaheap, _libcamera  # noqa: F401
from ._libcamera import *  # noqa: F401,F403  (the real package does the same with its compiled module)

_dmaheap.install()
