"""``ExportConfig``: what one firmware export was asked to do, validated, saved in DIR/export.json."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

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
    model: str  # the .tflite file (a run directory is resolved to its model_int8.tflite)
    out: str
    name: str = "fer_model"
    board: str | None = None  # a board id, "all", or None (every board in the README, none enforced)
    parity_samples: int = 100
    parity_data: str | None = None
    force: bool = False
    verify_tflm: str | None = None  # a tflite-micro checkout to build and check the export against
    measure_m4: str | None = None  # a tflite-micro checkout to count Cortex-M4 instructions per inference with
    locator: str | None = None  # a face locator (.tflite + locator spec): also export the camera pipeline
    parity_video: str | None = None  # the clip whose frames the pipeline is checked on (default: synthetic)
    parity_frames: int = 24  # frames taken from it, evenly spread, at each camera size
    parity_sizes: str = "160x120,320x240"  # the camera sizes (WIDTHxHEIGHT, comma-separated)

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
