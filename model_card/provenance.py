"""How a card names the models a run started from (``--init``) or learnt from (``--teacher``).

``models/`` moves on: publishing a fine-tune over the model it started from replaces that file, and a later card
replaces a teacher. So a model is named by its path in the repository only while that file is still, byte for byte,
the one the run used (its SHA-256, recorded in the spec at training time, else read when the card is made) and this
card does not replace it. Otherwise it is named by file name, SHA-256 and, when the repository's history holds it,
the commit that shipped it (``git show COMMIT:models/NAME`` gets it back).
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path

from edge.core.errors import UserError
from edge.core.rundir import resolve_model
from edge.detector_model import sha256_of
from train.config import TrainConfig

log = logging.getLogger(__name__)


def model_refs(cfg: TrainConfig, meta: dict, replacing: set[Path], repo: Path | None = None) -> dict[str, str]:
    """``{model as the run's config gives it: how the card names it}`` for ``--init`` and every ``--teacher``."""
    recorded = ([meta.get("init")] if cfg.init else []) + list(meta.get("teachers") or [None] * len(cfg.teachers))
    models = ([cfg.init] if cfg.init else []) + cfg.teachers
    replacing = {p.resolve() for p in replacing}
    return {m: _ref(m, (r or {}).get("sha256"), replacing, repo) for m, r in zip(models, recorded)}


def _ref(model: str, recorded_sha: str | None, replacing: set[Path], repo: Path | None) -> str:
    if model == "zoo":  # the OpenCV Zoo expression model, pinned by SHA-256 in fetch-models
        return "zoo"
    name = Path(model).name
    try:
        path = resolve_model(model, "model", kinds=(".keras", ".tflite"))
    except UserError:  # gone since training: only what the spec recorded is left
        path = None
    current = sha256_of(path) if path else None
    sha = recorded_sha or current
    if path is not None and path.parent.name == "models" and current == sha and path.resolve() not in replacing:
        return f"models/{path.name}"
    if sha is None:
        return f"<{name}>"
    commit = _commit_of(path, repo) if path is not None and current == sha else None
    where = f" of commit {commit}" if commit else ""
    return f"<{path.name if path else name}{where}, SHA-256 {sha[:16]}...>"


def _commit_of(path: Path, repo: Path | None) -> str | None:
    """The first commit of ``repo`` that holds ``path``'s exact bytes (any path), or None."""
    if repo is None or not (repo / ".git").exists():
        return None
    data = path.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git's object id of those bytes
    try:
        out = subprocess.run(["git", "-C", str(repo), "log", "--all", "--reverse", "--format=%h",
                              f"--find-object={blob}"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    commits = out.stdout.split() if out.returncode == 0 else []
    return commits[0] if commits else None
