"""The one TFLM library builder: ``libtensorflow-microlite.a`` for the host or a Cortex-M4, cached per tree.

TFLM's Makefile prints the library's path, compile flags and object lists for the target first; then it
builds either the whole ``microlite`` library or, given a model's ops, only the objects that model links
(TFLM's core, its ops' kernels, the kernel helpers, the optimized kernels' own library), archived as
``libfer-edge-<hash>.a`` beside it: a fraction of the full build. make rebuilds only what changed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from firmware_export.tflm.make import fail, print_variables, run_logged, run_make

log = logging.getLogger(__name__)

#: TFLM kernel source stems (tensorflow/lite/micro/kernels[/cmsis_nn]/<stem>[_common].cc) of ops whose
#: stem is not the op's name in lower case
OP_KERNELS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise_conv", "MAX_POOL_2D": "pooling",
              "AVERAGE_POOL_2D": "pooling", "MEAN": "reduce", "SUM": "reduce", "REDUCE_MAX": "reduce",
              "REDUCE_MIN": "reduce", "RELU": "activations", "RELU6": "activations", "RELU_N1_TO_1": "activations",
              "TRANSPOSE_CONV": "transpose_conv", "HARD_SWISH": "hard_swish"}
KERNEL_HELPERS = ("kernel_util", "micro_tensor_utils")
OBJECT_LISTS = ("MICROLITE_LIB_OBJS", "MICROLITE_KERNEL_OBJS", "MICROLITE_THIRD_PARTY_OBJS",
                "MICROLITE_THIRD_PARTY_KERNEL_OBJS")
FLAG_LISTS = ("CXXFLAGS", "CCFLAGS", "INCLUDES", "MICROLITE_LIBS")
KERNEL_TITLES = {"reference": "reference kernels", "cmsis_nn": "CMSIS-NN"}


@dataclass(frozen=True)
class Target:
    """What TFLM's Makefile builds for: its arguments and the archiver for a partial library."""

    title: str  # for messages: "the host", "cortex-m4 with CMSIS-NN"
    make_args: tuple[str, ...] = ()
    ar: str = "ar"


#: the host (TFLM's default target) with the reference kernels
HOST = Target("the host")


def cortex_m4(gcc: str, kernels: str) -> Target:
    """TFLM's ``cortex_m_generic`` Cortex-M4 (no FPU) build with ``arm-none-eabi-gcc`` at ``gcc``, with
    ``kernels`` (``reference`` or an ``OPTIMIZED_KERNEL_DIR`` such as ``cmsis_nn``); ``release_with_logs``,
    the build type TFLM recommends for profiling."""
    args = ["TARGET=cortex_m_generic", "TARGET_ARCH=cortex-m4", f"TARGET_TOOLCHAIN_ROOT={Path(gcc).parent}/",
            "BUILD_TYPE=release_with_logs"]
    args += [f"OPTIMIZED_KERNEL_DIR={kernels}"] if kernels != "reference" else []
    return Target(f"cortex-m4 with {KERNEL_TITLES.get(kernels, kernels)}", tuple(args),
                  str(Path(gcc).with_name("arm-none-eabi-ar")))


@dataclass(frozen=True)
class Library:
    path: Path
    flags: dict[str, list[str]]  # FLAG_LISTS: what TFLM compiled it with, for code linked against it


def model_objects(objects: dict[str, list[str]], ops: list[str]) -> list[str] | None:
    """The library objects a model with ``ops`` links: TFLM's core, its ops' kernels and the kernel helpers,
    and the optimized kernels' own library; None when an op's kernel source is not recognised."""
    stems = {OP_KERNELS.get(op, op.lower()) for op in ops}
    kernels = {}
    for obj in objects["MICROLITE_KERNEL_OBJS"]:
        stem = Path(obj).stem.removesuffix("_common")
        kernels.setdefault(stem, []).append(obj)
    if not stems <= kernels.keys():
        return None
    core = [o for o in objects["MICROLITE_LIB_OBJS"] if "test_helper" not in Path(o).name]
    chosen = [o for stem in sorted(stems) + list(KERNEL_HELPERS) for o in kernels.get(stem, [])]
    return core + chosen + objects["MICROLITE_THIRD_PARTY_OBJS"] + objects["MICROLITE_THIRD_PARTY_KERNEL_OBJS"]


def build_library(root: Path, build: Path, target: Target, option: str, ops: list[str] | None = None) -> Library:
    """TFLM's library for ``target`` under ``build`` (logged to ``build/microlite.log``), and its flags.

    With ``ops``, only the objects the model links (see ``model_objects``), archived as ``libfer-edge-<hash>.a``;
    without, or when an op is not recognised, the whole ``microlite`` library."""
    build.mkdir(parents=True, exist_ok=True)
    log_path = build / "microlite.log"
    log_path.write_text("", encoding="utf-8")
    args = list(target.make_args)
    variables = print_variables(root, build, args, FLAG_LISTS + OBJECT_LISTS + ("MICROLITE_LIB_PATH",),
                                build / "variables.log", option)
    if not variables["MICROLITE_LIB_PATH"]:
        raise fail("TFLM's Makefile printed no MICROLITE_LIB_PATH", build / "variables.log", option)
    objects = model_objects(variables, ops) if ops else None
    log.info("%s: building TFLM for %s in %s (%s; minutes the first time)", option, target.title, build,
             f"{len(objects)} objects" if objects else "the whole library")
    if objects is None:
        run_make(root, build, [*args, "microlite"], log_path, option)
        lib = Path(variables["MICROLITE_LIB_PATH"][0])
    else:
        run_make(root, build, [*args, *objects], log_path, option)
        digest = hashlib.sha1("\n".join(objects).encode()).hexdigest()[:10]
        lib = Path(variables["MICROLITE_LIB_PATH"][0]).with_name(f"libfer-edge-{digest}.a")
        lib.parent.mkdir(parents=True, exist_ok=True)
        newest = max(Path(o).stat().st_mtime for o in objects)
        if not lib.is_file() or lib.stat().st_mtime < newest:  # archived beside, then moved: a concurrent link
            part = lib.with_name(f"{lib.name}.{os.getpid()}.part")  # never sees half an archive
            part.unlink(missing_ok=True)
            if run_logged([target.ar, "rcs", str(part), *objects], log_path):
                raise fail(f"archiving {len(objects)} TFLM objects into {lib.name} failed", log_path, option)
            os.replace(part, lib)
    if not lib.is_file():
        raise fail(f"TFLM's Makefile built no {lib.name} under {build / 'gen'}", log_path, option)
    return Library(lib, {n: variables[n] for n in FLAG_LISTS})
