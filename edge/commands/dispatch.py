"""``fer-edge``: a thin dispatcher that loads a command only when it runs.

Commands plug in as entry points of the ``fer_edge.commands`` group (``pyproject.toml``), as Flask's CLI
reads ``flask.commands``: the name is the subcommand, the value a module with ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. A command module imports only the standard library at
top level (``NEEDS`` lists what its ``run`` imports, ``EXTRA`` the extra that installs them), so ``--help``
works on a Raspberry Pi with nothing but the edge extra installed, and a command whose extra is missing
says what to install instead of failing with a traceback. This module names no package: it lists what
is installed.
"""

from __future__ import annotations

import argparse
import errno
import importlib.metadata
import importlib.util
import logging
import sys
from dataclasses import dataclass
from types import ModuleType

from edge import __version__
from edge.core.errors import UserError

log = logging.getLogger("fer_edge")
DESCRIPTION = ("fer-edge: train a compact facial-expression CNN, make it int8, run it live on a Raspberry Pi "
               "camera and export it for TensorFlow Lite Micro.")
GROUP = "fer_edge.commands"
NOT_INSTALLED = 3  # exit code of a command whose extra (or whose package) is not installed


@dataclass(frozen=True)
class Command:
    name: str
    entry_point: importlib.metadata.EntryPoint

    @property
    def package(self) -> str:
        return self.entry_point.module.split(".")[0]

    def load(self) -> ModuleType | str:
        """The command's module, or the name of the module it cannot import (its package or one of its imports)."""
        try:
            return self.entry_point.load()
        except ModuleNotFoundError as e:
            return e.name or self.entry_point.module


def commands() -> dict[str, Command]:
    """The installed commands, as the installed metadata lists them (the first of a name wins)."""
    found: dict[str, Command] = {}
    for ep in importlib.metadata.entry_points(group=GROUP):
        found.setdefault(ep.name, Command(ep.name, ep))
    return found


def _verbosity_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("logging")
    g.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="more log output (-vv for debug)")
    g.add_argument("-q", "--quiet", action="count", default=argparse.SUPPRESS, help="less log output")
    return p


def _install_hint(module: ModuleType | str) -> str:
    extra = "" if isinstance(module, str) else getattr(module, "EXTRA", "")
    return f"pip install 'fer-edge[{extra}]'" if extra else "pip install fer-edge"


def build_parser(prog: str = "fer-edge", only: str | None = None,
                 installed: dict[str, Command] | None = None) -> argparse.ArgumentParser:
    installed = commands() if installed is None else installed
    parent = _verbosity_parent()
    parser = argparse.ArgumentParser(prog=prog, parents=[parent], description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"fer-edge {__version__}")
    if only is not None:
        parser.description = _add_command(installed[only], parser)
        parser.set_defaults(command=only)
        return parser
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, cmd in installed.items():
        module = cmd.load()
        about = _about(module)
        sp = sub.add_parser(name, help=about, description=about, parents=[parent])
        if not isinstance(module, str):
            module.add_arguments(sp)
    return parser


def _about(module: ModuleType | str) -> str:
    return f"(not installed here: {_install_hint(module)})" if isinstance(module, str) else module.HELP


def _add_command(cmd: Command, parser: argparse.ArgumentParser) -> str:
    """Add the command's options to ``parser``; returns its help line."""
    module = cmd.load()
    if not isinstance(module, str):
        module.add_arguments(parser)
    return _about(module)


def setup_logging(verbose: int = 0, quiet: int = 0) -> None:
    level = logging.INFO - 10 * verbose + 10 * quiet
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname).1s %(name)s: %(message)s",
                        stream=sys.stderr)
    if level > logging.DEBUG:  # TensorFlow's C++ logs are noise unless debugging
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None, prog: str = "fer-edge", only: str | None = None) -> int:
    installed = commands()
    if not installed or (only is not None and only not in installed):
        print(f"{prog}: no commands are registered: the {GROUP} entry points of the fer-edge distribution are "
              "missing (run from a checkout without installing it?): pip install -e .", file=sys.stderr)
        return NOT_INSTALLED
    parser = build_parser(prog, only, installed)
    args = parser.parse_args(argv)
    setup_logging(getattr(args, "verbose", 0), getattr(args, "quiet", 0))
    from edge.core.deprecated import warn_deprecated

    warn_deprecated(args, log)
    cmd = installed[args.command]
    module = cmd.load()
    needs = () if isinstance(module, str) else getattr(module, "NEEDS", ())
    missing = [m for m in needs if importlib.util.find_spec(m) is None]
    if missing or isinstance(module, str):
        what = (" and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1 else missing)) or module
        verb = "are" if len(missing) > 1 else "is"
        print(f"{prog}: '{args.command}' needs {what}, which {verb} not installed here: {_install_hint(module)}",
              file=sys.stderr)
        return NOT_INSTALLED
    from edge.core.stop import Terminated, terminate_raises

    try:
        with terminate_raises():  # SIGTERM unwinds like Ctrl-C: temporary files go, child processes end
            return int(module.run(args) or 0)
    except UserError as e:
        print(f"{prog} {args.command}: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        if e.errno == errno.EROFS:  # a write the command's own checks did not foresee
            where = f" {e.filename}" if e.filename else ""
            print(f"{prog} {args.command}: error: cannot write{where}: read-only file system; choose a place on a "
                  "writable one", file=sys.stderr)
            return 2
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {e.filename}" if e.filename else ""
        print(f"{prog} {args.command}: error: no space left on the device{where} ({e.strerror}); "
              "free some space and run it again", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        terminated = isinstance(e, Terminated)
        print(f"{prog} {args.command}: interrupted" + (" (SIGTERM)" if terminated else ""), file=sys.stderr)
        return 143 if terminated else 130


def stage_main(command: str) -> None:
    """Entry for ``python -m <package>``: the same as ``fer-edge <command>``."""
    cmd = commands().get(command)
    sys.exit(main(sys.argv[1:], prog=f"python -m {cmd.package}" if cmd else "fer-edge", only=command))


if __name__ == "__main__":
    sys.exit(main())
