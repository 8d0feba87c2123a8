"""Old option spellings that keep working for one release, each with one deprecation line.

Standard library only (the command modules' ``add_arguments`` use it). The alias stores into the new
option's ``dest``, is hidden from ``--help``, and leaves its message on the namespace; ``fer-edge`` logs
it once logging is set up (``warn_deprecated``).
"""

from __future__ import annotations

import argparse
import logging

_MESSAGES = "_deprecated"


class _Alias(argparse.Action):
    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        message = f"{option_string} is deprecated and will be removed in the next release: use {self.new}"
        messages = getattr(namespace, _MESSAGES, None) or []
        if message not in messages:
            setattr(namespace, _MESSAGES, messages + [message])


def add_alias(parser: argparse.ArgumentParser, old: str, new: str, dest: str, **kwargs) -> None:
    """Accept ``old`` as a hidden, deprecated spelling of the option ``new`` (whose ``dest`` is ``dest``)."""
    parser.add_argument(old, dest=dest, action=_Alias, new=new, help=argparse.SUPPRESS,
                        default=argparse.SUPPRESS, **kwargs)


def warn_deprecated(args: argparse.Namespace, log: logging.Logger) -> None:
    """One warning line per deprecated spelling used."""
    for message in getattr(args, _MESSAGES, None) or ():
        log.warning("%s", message)
