"""The shipped models, wherever they live (the checkout's models/ and the installed package), record no folder of
the machine that trained them; a card names earlier shipped models by SHA-256 and commit."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.core.rundir import DEFAULT_MODEL, shipped_models_dir

ROOT = Path(__file__).resolve().parents[1]
#: an absolute POSIX path of two or more parts, or a Windows drive path
ABSOLUTE = re.compile(r"(?:^|[\s`'\"(<=])(/(?:[\w.-]+/)+[\w.-]*|[A-Za-z]:\\[\w.\\-]+)")


def _model_dirs() -> list[Path]:
    dirs = {(ROOT / "models").resolve(), Path(shipped_models_dir()).resolve(), DEFAULT_MODEL.parent.resolve()}
    return sorted(d for d in dirs if d.is_dir())


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_the_checks_catch_what_they_look_for():
    assert ABSOLUTE.search("data: /work/data/fer2013 + expw") and ABSOLUTE.search("`C:\\Users\\me\\fer`")
    assert not ABSOLUTE.search("runs/pi_fer/firmware 100/100 outputs, float/int8, models/fer_micro.keras")


@pytest.mark.parametrize("folder", _model_dirs(), ids=str)
def test_shipped_specs_and_cards_hold_no_absolute_path(folder):
    specs, cards = sorted(folder.glob("*.spec.json")), sorted(folder.glob("*.md"))
    assert specs, f"{folder}: no shipped specs"
    for spec in specs:
        for s in _strings(json.loads(spec.read_text())):
            assert not ABSOLUTE.search(s) and not s.startswith("/"), f"{spec.name}: {s!r}"
    for card in cards:
        for n, line in enumerate(card.read_text().splitlines(), 1):
            assert not ABSOLUTE.search(line), f"{card.name}:{n}: {line.strip()}"


def test_a_model_the_card_replaces_or_that_changed_is_named_by_hash_and_commit(tmp_path):
    from edge.detector_model import sha256_of
    from model_card.provenance import model_refs
    from train.config import TrainConfig

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    old = repo / "models" / "fer_x_int8.tflite"
    old.write_bytes(b"old teacher bytes")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "ship x"], check=True)
    commit = subprocess.run(git[:3] + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    sha = sha256_of(old)
    cfg = TrainConfig(teacher=["zoo", str(old)])
    meta = {"teachers": [{"model": "zoo"}, {"model": old.name, "sha256": sha}]}

    assert model_refs(cfg, meta, set(), repo) == {"zoo": "zoo", str(old): "models/fer_x_int8.tflite"}
    replaced = model_refs(cfg, meta, {old}, repo)[str(old)]
    assert replaced == f"<fer_x_int8.tflite of commit {commit}, SHA-256 {sha[:16]}...>"
    old.write_bytes(b"a newer model under the same name")
    assert model_refs(cfg, meta, set(), repo)[str(old)] == f"<fer_x_int8.tflite, SHA-256 {sha[:16]}...>"
