"""The YuNet face-detector model file: where it is found, how it is downloaded and installed.

The file is OpenCV Model Zoo's ``face_detection_yunet_2023mar.onnx`` (MIT licence). It is not part of
this repository: ``fer-edge fetch-models`` downloads it into the cache folder (``edge.core.cache``:
``$FER_EDGE_CACHE``, else ``$XDG_CACHE_HOME/fer-edge``, else ``~/.cache/fer-edge``), or installs a
copy the user brought (``--from FILE``). Either way the bytes are checked against the published SHA-256
and written atomically, so the cache holds the right file or nothing. Standard library only (no OpenCV):
the CLI imports it to resolve paths.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.core import atomic
from edge.core.cache import cache_dir
from edge.core.errors import UserError

log = logging.getLogger(__name__)

ENV_MODEL = "FER_EDGE_DETECTOR_MODEL"
CHUNK = 64 * 1024
#: a download larger than this many times the expected size is cut off (a wrong --url, not a model)
MAX_SIZE_FACTOR = 4


@dataclass(frozen=True)
class ModelFile:
    name: str
    url: str
    sha256: str
    size: int
    licence: str


YUNET = ModelFile(
    name="face_detection_yunet_2023mar.onnx",
    url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx",
    sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    size=232_589,
    licence="MIT (OpenCV Model Zoo)",
)


#: The teacher for distillation (``fer-edge train --teacher zoo``); training machines only, never the Pi.
ZOO_FER = ModelFile(
    name="facial_expression_recognition_mobilefacenet_2022july_int8.onnx",
    url="https://github.com/opencv/opencv_zoo/raw/main/models/facial_expression_recognition/"
        "facial_expression_recognition_mobilefacenet_2022july_int8.onnx",
    sha256="f0d7093aff10e2638c734c5f18a6a7eabd2b9239b20bdb9b8090865a6f69a1ed",
    size=1_364_007,
    licence="Apache 2.0 (OpenCV Model Zoo)",
)
ENV_TEACHER = "FER_EDGE_TEACHER_MODEL"
#: ``fer-edge fetch-models --which NAME``
MODELS = {"detector": YUNET, "teacher": ZOO_FER}


def install_command(model: ModelFile) -> str:
    """The command that installs a hand-carried copy of ``model`` (the offline hint)."""
    which = next(k for k, m in MODELS.items() if m is model)
    return f"fer-edge fetch-models {'' if which == 'detector' else f'--which {which} '}--from {model.name}"


def cached_path(model: ModelFile = YUNET) -> Path:
    return cache_dir() / model.name


def find_detector_model(explicit: str | os.PathLike | None = None) -> tuple[Path | None, str]:
    """(path, where it came from) of the YuNet model: ``explicit`` (--detector-model), then
    ``$FER_EDGE_DETECTOR_MODEL``, then the cache. (None, what was looked at) when there is none.

    An explicit path or environment variable naming a missing file is an error, not a fallback.
    """
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise UserError(f"--detector-model {path}: no such file (expected a YuNet .onnx face detector, "
                            "e.g. from 'fer-edge fetch-models')")
        return path, "--detector-model"
    env = os.environ.get(ENV_MODEL)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise UserError(f"{ENV_MODEL}={env}: no such file (expected {YUNET.name}); unset it or "
                            "run 'fer-edge fetch-models'")
        return path, ENV_MODEL
    path = cached_path()
    if path.is_file():
        return path, "cache"
    return None, f"no --detector-model, no {ENV_MODEL}, nothing at {path}"


def find_teacher_model(explicit: str | os.PathLike | None = None) -> Path:
    """The zoo expression model: ``explicit`` (a path given to --teacher), then ``$FER_EDGE_TEACHER_MODEL``,
    then the cache; a one-line error saying how to get it when there is none."""
    for path, what in ((explicit, "--teacher"), (os.environ.get(ENV_TEACHER), ENV_TEACHER)):
        if path:
            path = Path(path).expanduser()
            if not path.is_file():
                raise UserError(f"{what} {path}: no such file (expected {ZOO_FER.name})")
            return path
    path = cached_path(ZOO_FER)
    if not path.is_file():
        raise UserError(f"--teacher zoo: the zoo expression model is not installed (nothing at {path}); run "
                        f"'fer-edge fetch-models --which teacher' or set {ENV_TEACHER}")
    verify_detector_model(path, "cache", ZOO_FER)  # a corrupt cached copy is refused, never used
    return path


def verify_detector_model(path: Path, where: str, model: ModelFile = YUNET) -> None:
    """Check ``path`` (found at ``where``, as ``find_detector_model`` says) against the pinned size and SHA-256.

    A cached copy that differs is refused (it was meant to be exactly ``model``); a file the user named
    (``--detector-model`` or ``$FER_EDGE_DETECTOR_MODEL``) is used with one warning.
    """
    size = path.stat().st_size
    digest = sha256_of(path) if size == model.size else None
    if digest == model.sha256:
        return
    got = f"{size:,} bytes" + (f" with SHA-256 {digest[:16]}..." if digest else "")
    expected = f"{model.size:,} bytes with SHA-256 {model.sha256[:16]}..."
    if where == "cache":
        raise UserError(f"{path}: corrupt cached copy of {model.name} (expected {expected}, got {got}); "
                        "run 'fer-edge fetch-models --force'")
    log.warning("%s: not the pinned %s (expected %s, got %s); using it because you named it",
                detector_model_label(path, where), model.name, expected, got)


def detector_model_label(path: Path, where: str) -> str:
    """How messages name a detector file: ``--detector-model PATH``, ``$FER_EDGE_DETECTOR_MODEL=PATH`` or its path."""
    if where == "cache":
        return f"{path} (cached copy)"
    return f"{ENV_MODEL}={path}" if where == ENV_MODEL else f"--detector-model {path}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _check(what: str, data_len: int, digest: str, model: ModelFile) -> None:
    if data_len != model.size or digest != model.sha256:
        raise UserError(f"{what}: not {model.name} (expected {model.size:,} bytes with SHA-256 "
                        f"{model.sha256[:16]}..., got {data_len:,} bytes with SHA-256 {digest[:16]}...)")


class Progress:
    """A progress bar on stderr, redrawn in place on a terminal; elsewhere (a log, the journal) only the
    final line is written. ``stream=False`` silences it."""

    def __init__(self, label: str, total: int | None, stream=None, width: int = 30):
        self.stream = sys.stderr if stream is None else (stream or None)
        self.label, self.total, self.width, self.done = label, total, width, 0
        self._live = bool(self.stream is not None and getattr(self.stream, "isatty", lambda: False)())

    def _line(self) -> str:
        if not self.total:
            return f"{self.label} {self.done / 1024:.0f} KiB"
        filled = min(self.width, self.width * self.done // self.total)
        bar = "#" * filled + "." * (self.width - filled)
        return f"{self.label} [{bar}] {self.done / 1024:.0f}/{self.total / 1024:.0f} KiB"

    def __call__(self, n: int) -> None:
        self.done += n
        if self._live:
            self.stream.write("\r" + self._line())
            self.stream.flush()

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.write(("\r" if self._live else "") + self._line() + "\n")
            self.stream.flush()


def download(url: str, dest: Path, model: ModelFile = YUNET, *, timeout: float = 30.0,
             progress: Callable[[str, int | None], Progress] | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, checking length and SHA-256 against ``model``.

    Every failure (no network, HTTP error, short body, wrong bytes) is a one-line ``UserError`` naming the
    URL, and ``dest``'s folder is left as it was.
    """
    make_progress = progress or (lambda label, total: Progress(label, total))
    h = hashlib.sha256()
    received = 0
    with atomic.atomic_path(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                cap = MAX_SIZE_FACTOR * model.size
                if expected is not None and expected > cap:
                    raise UserError(f"{url}: the server offers {expected:,} bytes, more than {MAX_SIZE_FACTOR}x the "
                                    f"{model.size:,} bytes of {model.name}; not downloaded (check --url)")
                bar = make_progress(f"downloading {model.name}", expected or model.size)
                try:
                    while True:
                        block = response.read(CHUNK)
                        if not block:
                            break
                        received += len(block)
                        if received > cap:
                            raise UserError(f"{url}: stopped after {received:,} bytes, more than {MAX_SIZE_FACTOR}x "
                                            f"the {model.size:,} bytes of {model.name} (check --url)")
                        out.write(block)
                        h.update(block)
                        bar(len(block))
                finally:
                    bar.finish()
        except urllib.error.HTTPError as e:
            raise UserError(f"{url}: HTTP {e.code} {e.reason} (expected {model.name}, {model.size:,} bytes)") from None
        except http.client.IncompleteRead as e:
            raise UserError(f"{url}: download cut short after {received + len(e.partial):,} bytes "
                            f"(expected {model.size:,})") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            reason = getattr(e, "reason", None) or e
            raise UserError(f"{url}: cannot download ({reason}); no network? Copy {model.name} onto this "
                            f"machine and run '{install_command(model)}'") from None
        if expected is not None and received != expected:
            raise UserError(f"{url}: download cut short after {received:,} bytes (expected {expected:,})")
        _check(url, received, h.hexdigest(), model)
    return dest


def install_from(source: str | os.PathLike, dest: Path, model: ModelFile = YUNET) -> Path:
    """Copy a hand-carried file into ``dest`` atomically after checking its size and SHA-256."""
    source = Path(source).expanduser()
    if not source.is_file():
        raise UserError(f"--from {source}: no such file (expected {model.name})")
    data = source.read_bytes()
    _check(f"--from {source}", len(data), hashlib.sha256(data).hexdigest(), model)
    return atomic.write_bytes(dest, data)


def is_installed(path: Path, model: ModelFile = YUNET) -> bool:
    """True when ``path`` holds exactly the expected bytes."""
    return path.is_file() and path.stat().st_size == model.size and sha256_of(path) == model.sha256
