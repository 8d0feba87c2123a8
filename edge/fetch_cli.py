"""``fer-edge fetch-models``: put the YuNet face detector into the cache folder, once.

Downloads it from the OpenCV Model Zoo (or installs a copy brought by hand with ``--from FILE``),
checks its SHA-256 and writes it atomically. ``fer-edge run`` then uses YuNet by default.
Standard library only.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.detector_model import ENV_CACHE, YUNET

    parser.add_argument("--from", dest="from_file", metavar="FILE",
                        help=f"install a copy of {YUNET.name} you downloaded elsewhere (an offline Pi)")
    parser.add_argument("--url", default=YUNET.url, help="download from this URL instead (a mirror); "
                        "the file must still match the published SHA-256")
    parser.add_argument("--force", action="store_true", help="download again even if the cache holds the file")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="network timeout in seconds (default %(default)s)")
    parser.epilog = (f"The cache folder is ${ENV_CACHE}, else $XDG_CACHE_HOME/fer-edge, else ~/.cache/fer-edge. "
                     f"{YUNET.name}: {YUNET.size:,} bytes, SHA-256 {YUNET.sha256}, {YUNET.licence}.")


def run(args: argparse.Namespace) -> int:
    from edge import detector_model as dm
    from edge.errors import UserError

    dest = dm.require_cache_dir() / dm.YUNET.name
    if dm.is_installed(dest) and not args.force and not args.from_file:
        print(f"{dest}: already installed (SHA-256 matches)")
        return 0
    try:
        if args.from_file:
            dm.install_from(args.from_file, dest)
        else:
            dm.download(args.url, dest, timeout=args.timeout)
    except PermissionError as e:
        raise UserError(f"{e.filename or dest.parent}: cannot write the cache folder ({e.strerror}); "
                        f"set {dm.ENV_CACHE} to a writable folder") from None
    print(f"{dest}: installed {dm.YUNET.name} ({dm.YUNET.size:,} bytes, SHA-256 checked); "
          "'fer-edge run' now detects faces with YuNet")
    return 0
