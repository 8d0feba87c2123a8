"""Benchmarks of this machine, each run from the repository root as ``python -m benchmarks.NAME`` (all of them,
into one Markdown table: ``python -m benchmarks.run_all``). Not installed with the package."""

import train  # noqa: F401  (first: TF_USE_LEGACY_KERAS before a benchmark imports TensorFlow)
