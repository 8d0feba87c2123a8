"""``fer-edge fetch-models``: put the YuNet face detector (and the zoo expression teacher) into the cache folder, once.

Downloads them from the OpenCV Model Zoo (or installs a copy brought by hand with ``--from FILE``),
checks each SHA-256 and writes atomically. ``fer-edge run`` then uses YuNet by default; ``fer-edge train
--teacher zoo`` distils the zoo expression model.
Standard library only.
"""

from __future__ import annotations

import argparse

HELP = ("download the YuNet face detector and the zoo expression teacher "  # fer-edge --help
        "(checked, into the cache folder)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.core.cache import WHERE
    from edge.core.deprecated import add_alias
    from edge.detector_model import MODELS, YUNET, ZOO_FER

    parser.add_argument("--which", choices=("all", *MODELS), default=None,
                        help="which download: detector (YuNet, what 'fer-edge run' needs), teacher (the zoo expression "
                             "model, for 'fer-edge train --teacher zoo') or all (the default: both; with --from or "
                             "--url: detector)")
    add_alias(parser, "--model", "--which", "which", choices=("all", *MODELS))
    parser.add_argument("--from", dest="from_file", metavar="FILE",
                        help=f"install a copy of {YUNET.name} (or, with --which teacher, {ZOO_FER.name}) you "
                        "downloaded elsewhere (an offline Pi)")
    parser.add_argument("--url", help="download from this URL instead (a mirror); "
                        "the file must still match the published SHA-256")
    parser.add_argument("--force", action="store_true", help="download again even if the cache holds the file")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="network timeout in seconds (default %(default)s)")
    parser.epilog = (f"The cache folder is {WHERE}. " +
                     " ".join(f"{m.name}: {m.size:,} bytes, SHA-256 {m.sha256}, {m.licence}." for m in (YUNET, ZOO_FER)))
    parser.set_defaults(url=None)


def run(args: argparse.Namespace) -> int:
    from edge import detector_model as dm
    from edge.core.cache import ENV_CACHE, require_cache_dir
    from edge.core.errors import UserError

    single = args.from_file or args.url
    which = args.which or ("detector" if single else "all")
    if single and which == "all":
        raise UserError("--from and --url install one model: add --which detector or --which teacher")
    for name in dm.MODELS if which == "all" else (which,):
        model = dm.MODELS[name]
        dest = require_cache_dir() / model.name
        if dm.is_installed(dest, model) and not args.force and not args.from_file:
            print(f"{dest}: already installed (SHA-256 matches)")
            continue
        try:
            if args.from_file:
                dm.install_from(args.from_file, dest, model)
            else:
                dm.download(args.url or model.url, dest, model, timeout=args.timeout)
        except PermissionError as e:
            raise UserError(f"{e.filename or dest.parent}: cannot write the cache folder ({e.strerror}); "
                            f"set {ENV_CACHE} to a writable folder") from None
        use = "'fer-edge run' now detects faces with YuNet" if model is dm.YUNET else \
            "'fer-edge train --teacher zoo' can now distil it"
        print(f"{dest}: installed {model.name} ({model.size:,} bytes, SHA-256 checked); {use}")
    return 0
