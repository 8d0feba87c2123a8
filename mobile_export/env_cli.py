"""``fer-edge mobile-env``: create the MediaPipe environment ``fer-edge export-mobile`` runs its checks in.

MediaPipe cannot share fer-edge's environment (``mobile_export.env`` says why), so it gets a venv of its own, in
the cache folder (``$FER_EDGE_CACHE``, else ``~/.cache/fer-edge``): ``<cache>/mobile-venv``, where export-mobile
finds it. Standard library only at top level.
"""

from __future__ import annotations

import argparse

HELP = "create the MediaPipe venv that export-mobile checks its files in (once, in the cache folder)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    import sys

    parser.add_argument("--python", default=sys.executable, metavar="PYTHON",
                        help="the Python (3.10-3.12) the venv is made from (default: this one, %(default)s)")
    parser.add_argument("--force", action="store_true", help="make it again even if it is complete")
    parser.add_argument("--where", action="store_true", help="only print where the venv goes (or is) and exit")
    parser.epilog = ("export-mobile looks for MediaPipe in: --mobile-python, $FER_EDGE_MOBILE_PYTHON, a clone's "
                     ".venv-mobile ('make mobile-venv'), then the venv this command makes. pip's own settings "
                     "(PIP_INDEX_URL, PIP_FIND_LINKS, ...) apply to the install.")


def run(args: argparse.Namespace) -> int:
    from mobile_export import env

    venv = env.cache_venv()
    if args.where:
        print(venv)
        return 0
    if env.is_complete(venv) and not args.force:
        print(f"{venv}: already there ({(venv / env.MARKER).read_text().strip()}); export-mobile uses it")
        return 0
    python = env.create_venv(venv, args.python, force=args.force)
    print(f"{venv}: ready ({env.REQUIREMENT}); 'fer-edge export-mobile' uses {python}")
    return 0
