"""What ``fer-edge collect`` keeps (``CollectOptions``), with its command-line options declared on its fields.

Standard library and ``edge.core`` only: ``fer-edge collect --help`` is built from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from edge.core.cliconfig import option
from edge.core.errors import UserError

KEPT = "what is kept"  # the argument group of the filters


@dataclass(frozen=True)
class CollectOptions:
    out: Path = field(metadata=option(
        "--out-dir", dest="out_dir", type=Path, metavar="DIR", deprecated=("--out",),  # run's --out: a video
        required=True,  # the usage line shows it so
        help="the folder the faces go to: DIR/<class>/*.png (what 'fer-edge train --data "
             "DIR' reads); faces already there are kept and counted"))
    label: str | None = field(default=None, metadata=option(
        metavar="CLASS", help="label every face of this session with CLASS; without it, keys choose: 1-7 a class "
                              "(in the model's label order), space pauses (the session starts paused)"))
    every: int = field(default=1, metadata=option(
        metavar="N", group=KEPT, help="consider every Nth frame only (default %(default)s)"))
    max_per_class: int | None = field(default=None, metadata=option(
        "--max", type=int, metavar="N", group=KEPT,
        help="save at most N faces per class this session (with --label: stop once N are saved)"))
    min_sharpness: float = field(default=25.0, metadata=option(
        metavar="V", group=KEPT,
        help="skip a face whose 48x48 input has a Laplacian variance below V: blurred (default %(default)s; 0 = off)"))
    min_change: float = field(default=6.0, metadata=option(
        metavar="D", group=KEPT,
        help="skip a face within D grey levels (mean absolute difference, brightness-normalised 24x24) "
             "of one of the last 30 saved for its class (default %(default)s; 0 = off)"))
    #: faces narrower than this (displayed pixels) are skipped as too small; None keeps every face found.
    #: Its option, --min-face, is the detection option ``run`` has too (edge.commands.run.add_source_arguments).
    min_face: int | None = field(default=None, metadata=option(type=int, metavar="PX"))

    def __post_init__(self):
        for name, low in (("every", 1), ("max_per_class", 1), ("min_face", 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                flag = "--max" if name == "max_per_class" else f"--{name.replace('_', '-')}"
                raise UserError(f"{flag} {value}: expected an integer >= {low}")
        for flag, value in (("--min-sharpness", self.min_sharpness), ("--min-change", self.min_change)):
            if not 0 <= value < math.inf:  # also refuses nan, which would switch the filter off
                raise UserError(f"{flag} {value}: expected a number >= 0 (0 switches the filter off)")
        if self.out.exists() and not self.out.is_dir():
            raise UserError(f"--out-dir {self.out}: exists and is not a folder")
