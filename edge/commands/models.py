"""``fer-edge models``: where the shipped models and the downloaded ones are, and the short names that take them.

Every command that takes a model accepts ``micro`` or ``pi`` for a shipped model (``edge.core.rundir``), so an
installed package needs no path into site-packages. Standard library only.
"""

from __future__ import annotations

import argparse

HELP = "list the shipped models (their short names and where they are installed) and the downloaded ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--path", metavar="NAME", help="print only the path of this shipped int8 model (micro or pi), "
                        "e.g. to copy it: cp \"$(fer-edge models --path pi)\" .")
    parser.epilog = ("Any MODEL argument takes these short names (fer-edge run pi, fer-edge evaluate micro ...); "
                     "a file or folder of that name in the current folder wins.")


def _size(path) -> str:
    return f"{path.stat().st_size / 1024:.1f} KiB"


def lines() -> list[str]:
    """What ``fer-edge models`` prints."""
    import json

    from edge import detector_model as dm
    from edge.core import rundir
    from edge.core.cache import cache_dir

    out = [f"shipped models, in {rundir.SHIPPED_MODELS}:"]
    for name in rundir.SHIPPED_NAMES:
        int8, card = rundir.shipped_file(name, ".tflite"), rundir.shipped_file(name, ".md")
        if not int8.is_file():
            out.append(f"  {name:6} missing: {int8} (reinstall fer-edge)")
            continue
        spec_file = int8.with_name(int8.stem + ".spec.json")
        spec = json.loads(spec_file.read_text()) if spec_file.is_file() else {}
        shape = "x".join(str(spec.get(k, "?")) for k in ("input_height", "input_width", "input_channels"))
        default = " (the default)" if int8 == rundir.DEFAULT_MODEL else ""
        out.append(f"  {name:6} {int8.name} ({_size(int8)}, input {shape}, {len(spec.get('labels', ()))} classes)"
                   f"{default}" + (f"; card {card.name}" if card.is_file() else ""))
        keras = rundir.shipped_file(name, ".keras")
        out.append(f"         float model for --init {name}: "
                   + (f"{keras.name}" if keras.is_file() else "not installed (in a clone's models/ only)"))
    out.append(f"downloads ('fer-edge fetch-models --which NAME'), in {cache_dir()}:")
    for which, model in dm.MODELS.items():
        state = "installed" if dm.cached_path(model).is_file() else "not downloaded"
        out.append(f"  {which:10}{model.name} ({state})")
    return out


def run(args: argparse.Namespace) -> int:
    from edge.core import rundir
    from edge.core.errors import UserError

    if args.path is not None:
        if args.path not in rundir.SHIPPED_NAMES:
            raise UserError(f"--path {args.path!r}: expected a shipped model's name: {', '.join(rundir.SHIPPED_NAMES)}")
        print(rundir.resolve_model(args.path))
        return 0
    print("\n".join(lines()))
    return 0
