"""Speed per face for a model card: the int8 and float models measured here, and a Raspberry Pi estimate.

Measured: one face at a time (batch 1, as the live loop runs it) through LiteRT with one thread, the shipped int8
model and the float model converted to a float32 .tflite, in interleaved rounds (each round times both, so a load
spike on a shared machine hits both alike); the figure is the median.

Estimated, not measured (no Pi is attached here): MACs / (int8 MACs per cycle per core x clock), one core, the
same method as the microcontroller table. The MAC-per-cycle figures are assumptions about LiteRT's XNNPACK int8
kernels, stated in ``PI_CORES``; a Pi's own figure comes from ``fer-edge bench`` on it.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: name -> (clock Hz, assumed sustained int8 MACs per cycle on one core). Cortex-A72 (Pi 4, 1.5 GHz) has 128-bit
#: NEON without dot-product instructions (int8 products widened to 16 bits: about 8 MACs per cycle at best,
#: half of it sustained); Cortex-A76 (Pi 5, 2.4 GHz) has SDOT (16 int8 MACs per instruction, up to 32 per
#: cycle at best; a quarter of it sustained on small 48x48 convolutions).
PI_CORES = {
    "Raspberry Pi 4 (Cortex-A72, 1.5 GHz)": (1.5e9, 4.0),
    "Raspberry Pi 5 (Cortex-A76, 2.4 GHz)": (2.4e9, 8.0),
}


def pi_estimates(macs: int) -> dict[str, float]:
    """Estimated ms per face on one core of each Pi in ``PI_CORES``."""
    return {name: 1e3 * macs / (clock * per_cycle) for name, (clock, per_cycle) in PI_CORES.items()}


def machine() -> str:
    """This machine's CPU model, core count and Python, for the card."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.machine()}"


def measure(int8_path: Path, model, spec, *, rounds: int = 5, per_round: int = 100, warmup: int = 20) -> dict:
    """Median ms per face of the int8 model and of the float Keras ``model`` (converted here), LiteRT, one thread."""
    import tensorflow as tf

    from edge.runtime import TFLiteClassifier

    rng = np.random.default_rng(0)
    faces = rng.uniform(0, 1, (64, *spec.input_shape)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        float_path = Path(tmp) / "float.tflite"
        float_path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        runners = {"int8": TFLiteClassifier(int8_path, spec, num_threads=1),
                   "float": TFLiteClassifier(float_path, spec, num_threads=1)}
        for clf in runners.values():
            for i in range(warmup):
                clf.predict(faces[i % len(faces)][None])
        times = {k: [] for k in runners}
        for r in range(rounds):
            for k, clf in runners.items():
                for i in range(per_round):
                    t = time.perf_counter()
                    clf.predict(faces[(r * per_round + i) % len(faces)][None])
                    times[k].append(time.perf_counter() - t)
    ms = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    log.info("speed per face here: int8 %.3f ms, float %.3f ms", ms["int8"], ms["float"])
    return {"int8_ms": ms["int8"], "float_ms": ms["float"], "faces": rounds * per_round, "machine": machine(),
            "load_average": round(os.getloadavg()[0], 2), "backend": runners["int8"].backend}


def section(speed: dict, macs: int) -> str:
    """The card's speed section."""
    pis = "\n".join(f"| {name} | {ms:.1f} ms | - | estimated: {macs / 1e6:.1f} M MACs / ({per_cycle:g} int8 MACs per "
                    f"cycle x {clock / 1e9:g} GHz), one core |"
                    for (name, ms), (clock, per_cycle) in zip(pi_estimates(macs).items(), PI_CORES.values()))
    return f"""## Speed per face

| where | int8 | float | how |
|---|---:|---:|---|
| this machine ({speed["machine"]}) | {speed["int8_ms"]:.2f} ms | {speed["float_ms"]:.2f} ms | measured: LiteRT ({speed["backend"]}), one thread, batch 1, median of {speed["faces"]} faces per model in interleaved rounds (load average {speed["load_average"]}); float = the float model converted to a float32 .tflite; int8 is {speed["float_ms"] / speed["int8_ms"]:.2f}x the float speed |
{pis}

The Pi rows are estimates, not measurements: the int8 MAC-per-cycle figures are assumptions about LiteRT's int8
kernels on those cores (`model_card/speed.py`); `fer-edge bench --model MODEL --source VIDEO` on the Pi measures it,
face detection included.

"""
