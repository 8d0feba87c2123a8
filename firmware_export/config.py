"""``ExportConfig``: what one firmware export was asked to do, validated, saved in DIR/export.json."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from edge.core.cliconfig import option
from edge.core.errors import UserError

FIRMWARE_DIR = "firmware"  # where the card and the docs put export-firmware's --out-dir inside a run
FIRMWARE_REPORT = "export.json"  # what was exported, written last into --out-dir

C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if inline int long
    register restrict return short signed sizeof static struct switch typedef union unsigned void volatile while
    _Alignas _Alignof _Atomic _Bool _Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local
    alignas alignof and and_eq asm bitand bitor bool catch char16_t char32_t class compl constexpr const_cast
    decltype delete dynamic_cast explicit export false friend mutable namespace new noexcept not not_eq nullptr
    operator or or_eq private protected public reinterpret_cast static_assert static_cast template this
    thread_local throw true try typeid typename using virtual wchar_t xor xor_eq
""".split())
#: Names the generated code would collide with (a namespace ``main`` or ``tflite`` would not compile).
RESERVED_NAMES = frozenset({"main", "tflite", "std", "setup", "loop"})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_c_name(name: str) -> str:
    """``name`` if it can prefix C/C++ symbols, macros and file names; else a UserError saying why."""
    if not _IDENTIFIER.fullmatch(name or ""):
        raise UserError(f"--name {name!r}: not a C identifier (letters, digits and '_', not starting with a digit)")
    if name in C_KEYWORDS or name in RESERVED_NAMES:
        raise UserError(f"--name {name!r}: a C/C++ keyword or a name the generated code uses; pick another, "
                        "e.g. fer_model")
    if name.startswith("__") or re.match(r"_[A-Z]", name):
        raise UserError(f"--name {name!r}: names starting with '__' or '_' + capital are reserved in C and C++")
    return name


@dataclass(frozen=True)
class ExportConfig:
    #: the .tflite file or a run directory (resolved to its model_int8.tflite); None: the shipped micro model
    model: str | None = field(metadata=option(
        positional=True, metavar="MODEL_INT8.tflite|RUN_DIR",
        help="a full-int8 .tflite with its .spec.json beside it, or a run directory holding "
             "model_int8.tflite (written by 'fer-edge quantize'), or a shipped model by name: micro, pi "
             "('fer-edge models' lists them); default: micro"))
    out: str = field(metadata=option(
        "--out-dir", required=True, deprecated=("--out",), metavar="DIR",
        help="output folder (must not exist or be empty)"))
    name: str = field(default="fer_model", metadata=option(
        help="C identifier prefixing the files and symbols (default: %(default)s)"))
    board: str | None = field(default=None, metadata=option(  # a board id, "all", or None (every board, none enforced)
        metavar="BOARD|all", help=lambda: _board_help()))
    parity_samples: int = field(default=100, metadata=option(
        metavar="N", help="synthetic inputs for the TFLM-vs-LiteRT parity check (default: %(default)s)"))
    parity_data: str | None = field(default=None, metadata=option(
        metavar="FOLDER", help="also check parity on up to N face-crop images (png/jpg/...) from this folder"))
    force: bool = field(default=False, metadata=option(help="replace a non-empty --out-dir folder"))
    #: a tflite-micro checkout to build and check the export against
    verify_tflm: str | None = field(default=None, metadata=option(
        metavar="TFLM_DIR",
        help="build TFLM's host library from this tflite-micro checkout (cached), compile the "
             "exported main.cc and a harness against it, and require outputs bit-identical to "
             "tflite-micro Python on the parity inputs and an arena that fits"))
    #: a tflite-micro checkout to count Cortex-M4 instructions per inference with
    measure_m4: str | None = field(default=None, metadata=option(
        metavar="TFLM_DIR",
        help="build the export for a Cortex-M4 (arm-none-eabi-gcc, TFLM's cortex_m_generic target) "
             "with the reference kernels and with CMSIS-NN (both cached), run each under "
             "qemu-system-arm -M mps2-an386 -icount and record the instructions per inference in "
             "export.json; needs the tree's downloads (CMSIS, CMSIS-NN, ...) in place"))
    #: a face locator (.tflite + its locator spec): also export the camera pipeline
    locator: str | None = field(default=None, metadata=option(
        metavar="LOCATOR", group="camera pipeline",
        help="a face locator (face_locator_int8.tflite with its spec): also export the camera pipeline, "
             "<name>::process_frame(gray, width, height, &result): frame -> faces -> expressions, and board "
             "examples; --verify-tflm and --measure-m4 then check and count it frame by frame"))
    parity_video: str | None = field(default=None, metadata=option(
        metavar="CLIP", group="camera pipeline",
        help="with --locator and --verify-tflm/--measure-m4: the video whose frames the pipeline is checked on "
             "against the Python reference (default: the synthetic demo video)"))
    parity_frames: int = field(default=24, metadata=option(
        metavar="N", group="camera pipeline",
        help="frames taken from the clip, evenly spread, at each camera size (default: %(default)s)"))
    parity_sizes: str = field(default="160x120,320x240", metadata=option(
        metavar="WxH[,WxH...]", group="camera pipeline",
        help="camera frame sizes the pipeline is checked at (default: %(default)s)"))

    def __post_init__(self):
        check_c_name(self.name)
        if not isinstance(self.parity_samples, int) or not 1 <= self.parity_samples <= 10000:
            raise UserError(f"--parity-samples {self.parity_samples!r}: expected an integer in 1..10000")
        if not isinstance(self.parity_frames, int) or not 1 <= self.parity_frames <= 10000:
            raise UserError(f"--parity-frames {self.parity_frames!r}: expected an integer in 1..10000")
        if self.parity_video and not self.locator:
            raise UserError("--parity-video checks the camera pipeline: it needs --locator LOCATOR")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _board_help() -> str:
    from firmware_export.boards import load_boards  # stdlib + edge.core.errors only: safe for --help

    return ("refuse the export if model + arena + TFLM runtime do not fit this board; 'all' prints "
            f"the table for every board ({', '.join(load_boards())})")
