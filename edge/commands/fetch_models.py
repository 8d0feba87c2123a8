"""``fer-edge fetch-models``: put the YuNet face detector (or, asked for, the zoo expression teacher) into the cache
folder, once.

Downloads it from the OpenCV Model Zoo (or installs a copy brought by hand with ``--from FILE``), checks its
SHA-256 and writes atomically. ``fer-edge run`` then uses YuNet by default; ``--which teacher`` (or ``all``) also
gets the zoo expression model that ``fer-edge train --teacher zoo`` distils, which a Pi never needs.
Standard library only.
"""

from __future__ import annotations

import argparse

HELP = ("download the YuNet face detector (--which teacher: the zoo expression teacher), "  # fer-edge --help
        "checked, into the cache folder")


#: the longest --timeout accepted, in seconds
MAX_TIMEOUT_S = 3600.0


def _timeout(text: str) -> float:
    """--timeout: a number of seconds in (0, MAX_TIMEOUT_S]; 0, negative, nan and inf are refused."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0 and at most {MAX_TIMEOUT_S:g}, "
                                         f"got {text!r}")
    return value


def _check_url(url: str) -> str:
    from urllib.parse import urlsplit

    from edge.core.errors import UserError

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"--url {url!r}: expected an http:// or https:// URL of the file (a mirror); for a file "
                        "on this machine use --from FILE")
    return url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from edge.core.cache import WHERE
    from edge.core.deprecated import add_alias
    from edge.detector_model import MODELS, YUNET, ZOO_FER

    parser.add_argument("--which", choices=("all", *MODELS), default="detector",
                        help="which download: detector (the default: YuNet, what 'fer-edge run' needs), teacher (the "
                             "zoo expression model, for 'fer-edge train --teacher zoo' on a workstation) or all (both)")
    add_alias(parser, "--model", "--which", "which", choices=("all", *MODELS))
    parser.add_argument("--from", dest="from_file", metavar="FILE",
                        help=f"install a copy of {YUNET.name} (or, with --which teacher, {ZOO_FER.name}) you "
                        "downloaded elsewhere (an offline machine)")
    parser.add_argument("--url", help="download from this URL instead (a mirror); "
                        "the file must still match the published SHA-256")
    parser.add_argument("--force", action="store_true", help="download again even if the cache holds the file")
    parser.add_argument("--timeout", type=_timeout, default=30.0, metavar="S",
                        help="network timeout in seconds (default %(default)s)")
    parser.epilog = (f"The cache folder is {WHERE}. " +
                     " ".join(f"{m.name}: {m.size:,} bytes, SHA-256 {m.sha256}, {m.licence}." for m in (YUNET, ZOO_FER)))
    parser.set_defaults(url=None)


def run(args: argparse.Namespace) -> int:
    import errno

    from edge import detector_model as dm
    from edge.core.cache import ENV_CACHE, require_cache_dir
    from edge.core.errors import UserError, describe_os_error

    if args.url is not None:
        _check_url(args.url)
    which = args.which
    if (args.from_file or args.url) and which == "all":
        raise UserError("--from and --url install one model: add --which detector or --which teacher")
    for name in dm.MODELS if which == "all" else (which,):
        model = dm.MODELS[name]
        dest = require_cache_dir() / model.name
        if dm.is_installed(dest, model) and not args.force and not args.from_file:
            print(f"{dest}: already installed (SHA-256 matches)")
            continue
        from edge.core.paths import writable_folder

        writable_folder(dest.parent, "the cache folder", f"set {ENV_CACHE} to a writable folder")
        try:
            if args.from_file:
                dm.install_from(args.from_file, dest, model)
            else:
                dm.download(args.url or model.url, dest, model, timeout=args.timeout)
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            raise UserError(f"{e.filename or dest.parent}: cannot write the cache folder ({describe_os_error(e)}); "
                            f"set {ENV_CACHE} to a writable folder") from None
        use = "'fer-edge run' now detects faces with YuNet" if model is dm.YUNET else \
            "'fer-edge train --teacher zoo' can now distil it"
        print(f"{dest}: installed {model.name} ({model.size:,} bytes, SHA-256 checked); {use}")
    return 0
