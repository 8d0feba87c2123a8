"""The TensorFlow Lite Micro tree toolkit, shared by ``--verify-tflm`` and ``--measure-m4``.

``tree``: finding and checking a tflite-micro checkout, its commit, its third-party downloads and the cache folder
of its builds. ``make``: running TFLM's Makefile and other commands into a build log, and the one failure
(exit 1, naming the log). ``library``: the one library builder, for the host (reference kernels) and for a
Cortex-M4 (reference or CMSIS-NN kernels, only the objects a model links).
"""
