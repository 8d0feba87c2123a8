"""A run's training state is checked when ``train --resume`` reads it (issue 36, case 14): every field of its exact
type, numbers finite and in range, and the checkpoint it names inside the run's own checkpoints/ folder."""

import json
import math
from pathlib import Path

import pytest
from edge_testkit import one_line_error

from edge.commands.dispatch import main

pytestmark = pytest.mark.requires("tensorflow", "tf_keras")


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(tmp_path, name="r"):
    from train.config import TrainConfig
    from train.fit import TrainState

    run = tmp_path / "runs" / name
    (run / "checkpoints").mkdir(parents=True)
    TrainConfig(epochs=3, synthetic_per_class=5).save(run)
    TrainState(epoch=1, checkpoint="ckpt-1", history=[{"epoch": 1, "loss": 1.0}]).save(run)
    return run


def _set_state(run, **changes):
    path = run / "checkpoints" / "state.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


@pytest.mark.parametrize("changes, needle", [
    ({"lr": "fast"}, "lr 'fast': expected a finite learning rate > 0"),
    ({"lr": math.nan}, "lr nan: expected a finite learning rate > 0"),
    ({"lr": -0.1}, "lr -0.1: expected a finite learning rate > 0"),
    ({"lr": True}, "lr True: expected a finite learning rate > 0"),
    ({"epoch": "one"}, "epoch 'one': expected an integer >= 0"),
    ({"epoch": 1.5}, "epoch 1.5: expected an integer >= 0"),
    ({"epoch": -1}, "epoch -1: expected an integer >= 0"),
    ({"best": math.inf}, "best inf: expected a finite number or null"),
    ({"best_epoch": 7}, "best_epoch 7 is after the last completed epoch 1"),
    ({"seconds": math.nan}, "seconds nan"),
    ({"history": {"epoch": 1}}, "history: expected a list of objects"),
    ({"checkpoint": "../../r1/checkpoints/ckpt-1"}, "checkpoint '../../r1/checkpoints/ckpt-1': expected the name of a "
                                                    "checkpoint in this run's checkpoints/"),
    ({"checkpoint": "/abs/ckpt-1"}, "checkpoint '/abs/ckpt-1'"),
    ({"checkpoint": ".."}, "checkpoint '..'"),
    ({"checkpoint": 3}, "checkpoint 3"),
    ({"surprise": 1}, "unreadable training state"),
])
def test_a_corrupt_state_is_one_line_and_changes_nothing(tmp_path, changes, needle, capsys):
    run = _run(tmp_path)
    _run(tmp_path, "r1")  # another run whose weights a state must never load
    _set_state(run, **changes)
    before = snapshot(tmp_path)
    assert main(["train", "--resume", str(run), "--epochs", "5"]) == 2
    one_line_error(capsys, f"{run / 'checkpoints' / 'state.json'}: ", needle)
    assert snapshot(tmp_path) == before


def test_a_state_that_is_not_an_object(tmp_path, capsys):
    run = _run(tmp_path)
    (run / "checkpoints" / "state.json").write_text("[1, 2]\n")
    assert main(["train", "--resume", str(run)]) == 2
    one_line_error(capsys, "state.json: expected a JSON object")


def test_a_sound_state_still_loads(tmp_path):
    from train.config import TrainConfig
    from train.fit import TrainState

    run = _run(tmp_path)
    state = TrainState.load(run, TrainConfig())
    assert state.epoch == 1 and state.checkpoint == "ckpt-1" and state.problem() == ""
