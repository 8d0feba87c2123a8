"""A run's folder: its name is a plain name (never a path out of --runs-dir), --force replaces only a run
(never a folder of the user's), and a run that fails before its first epoch leaves no half run folder."""

from pathlib import Path

import pytest
from edge_testkit import one_line_error

from edge.commands.dispatch import main


def snapshot(folder: Path) -> dict:
    """Every file and folder under ``folder`` with its bytes and modification time: what 'nothing changed' means."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@pytest.mark.requires("tensorflow", "tf_keras")
@pytest.mark.parametrize("name", ["../../victim", "/tmp/victim", "..", "a/b"])
def test_a_run_name_is_a_plain_name(tmp_path, name, capsys):
    before = snapshot(tmp_path)
    assert main(["train", "--runs-dir", str(tmp_path / "runs"), "--name", name, "--force", "--epochs", "1"]) == 2
    one_line_error(capsys, f"--name {name!r}: expected a plain name")
    assert snapshot(tmp_path) == before


@pytest.mark.requires("tensorflow", "tf_keras")
def test_force_replaces_only_a_run(tmp_path, capsys):
    thesis = tmp_path / "runs" / "mine" / "thesis.txt"
    thesis.parent.mkdir(parents=True)
    thesis.write_text("years of work\n")
    assert main(["train", "--runs-dir", str(tmp_path / "runs"), "--name", "mine", "--force", "--epochs", "1"]) == 2
    one_line_error(capsys, "is not a run", "--force replaces only a run")
    assert thesis.read_text() == "years of work\n"


@pytest.mark.requires("tensorflow", "tf_keras")
def test_a_failed_run_leaves_no_half_run_folder(tmp_path):
    from train.training_run import _clean_failed

    run = tmp_path / "run"
    (run / "checkpoints" / "ckpt-1_temp").mkdir(parents=True)
    (run / "train_config.json").write_text("{}")
    _clean_failed(run)
    assert not run.exists(), "no epoch completed: nothing to resume"
    (run / "checkpoints" / "ckpt-2_temp").mkdir(parents=True)
    (run / "checkpoints" / "state.json").write_text("{}")
    _clean_failed(run)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["state.json"], "resumable; temp dirs gone"
