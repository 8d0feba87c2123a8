"""The foundation every stage stands on: the input contract (``spec``, ``preprocess``, ``pixels``: the one
pixel quantization and its C), the run directory and model resolver (``rundir``), the one error type
(``errors``), atomic writes (``atomic``), JSON reading (``jsonio``), output-path checks (``paths``), the one
cache folder (``cache``), deprecated spellings (``deprecated``) and the SIGINT/SIGTERM stop (``stop``).
NumPy and OpenCV at most; never TensorFlow."""
