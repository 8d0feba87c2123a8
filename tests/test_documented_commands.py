"""Every command the README and the user guides show works from the installed package: the wheel, installed
non-editable in a clean venv per role (tests/wheel_kit.py: edge, what a Pi installs; edge+mobile, an app developer's
workstation), RUNS each documented ``fer-edge`` command literally, from a folder outside the checkout with its own
home folder, on the shipped models, a generated clip and generated faces. A documented command that fails fails
here. What is not run is listed below by name with what it needs (a camera, a network, a Pi, another role), and a
documented command that is neither run nor listed fails too: a new line in a guide gets classified.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import cv2
import pytest
from conftest import missing_modules
from edge_testkit import demo_frames
from test_docs import commands, shell_blocks
from wheel_kit import ROOT, role_venv

from edge.core.spec import LABELS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

DOCS = ("README.md", "docs/raspberry-pi.md", "docs/mobile-and-web.md", "docs/collect-and-fine-tune.md",
        "docs/live-view.md")

#: documented commands this test does not run, by their first words, and what they need
NOT_RUN = {
    ("git", "clone"): "a network (the repository)",
    ("cd",): "the clone (this test runs from a folder outside it)",
    ("python3", "-m", "venv"): "nothing: this test makes the role's venv itself (offline)",
    (".",): "nothing: this test calls the venv's fer-edge directly",
    ("pip", "install"): "a network (PyPI); this test installs the wheel itself, offline",
    ("make",): "the clone (tests/test_docs.py checks the targets exist)",
    ("apt",): "a Pi's system packages (root and a network)",
    ("rpicam-hello",): "a Pi's camera",
    ("rsync",): "another machine",
    ("mkdir", "-p", "~/.config/systemd/user"): "a Pi's systemd (tests/test_deploy_unit.py runs the unit's commands)",
    ("cp", "edge/deploy/fer-edge.service"): "a Pi's systemd (tests/test_deploy_unit.py runs the unit's commands)",
    ("systemctl",): "a Pi's systemd", ("loginctl",): "a Pi's systemd", ("journalctl",): "a Pi's systemd",
    ("fer-edge", "mobile-env"): "a network (MediaPipe from PyPI; tests/test_mobile_env.py makes one offline)",
}
#: fer-edge commands of the workstation roles (the train and micro extras), not installed in these venvs
OTHER_ROLES = {"data", "train", "quantize", "tune", "export-firmware", "model-card"}


def documented() -> list[tuple[str, list[str]]]:
    return [(doc, words) for doc in DOCS for block in shell_blocks((ROOT / doc).read_text())
            for words in commands(block)]


def role_of(words: list[str]) -> str | None:
    """Which venv runs a documented fer-edge command: 'edge', 'mobile', or None (see why_not)."""
    if words[0] != "fer-edge" or why_not(words):
        return None
    return "mobile" if words[1] == "export-mobile" else "edge"


def why_not(words: list[str]) -> str | None:
    """Why a documented command is not run here, or None when it is."""
    for prefix, reason in NOT_RUN.items():
        if tuple(words[:len(prefix)]) == prefix:
            return reason
    if words[0] != "fer-edge":
        return None
    source = words[words.index("--source") + 1] if "--source" in words else ""
    if source == "picamera2" or source.startswith("usb:"):
        return "a camera"
    if words[1] in OTHER_ROLES:
        return f"the train or micro extra (a workstation role; their tests train tiny models): {words[1]}"
    if words[1] == "evaluate" and words[2].startswith("runs/") and "int8" not in words:
        return "the train extra (it scores the run's float .keras)"
    if words[1] == "fetch-models" and "--from" not in words:
        return "a network (the OpenCV Model Zoo)"
    return None


def test_every_documented_command_is_run_or_skipped_by_name():
    unknown = [f"{doc}: {' '.join(w)}" for doc, w in documented() if role_of(w) is None and why_not(w) is None]
    assert not unknown, "documented commands neither run nor listed in NOT_RUN:\n" + "\n".join(unknown)
    assert sum(role_of(w) == "edge" for _, w in documented()) >= 8
    assert sum(role_of(w) == "mobile" for _, w in documented()) >= 3


def _faces(folder: Path, count: int, seed: int) -> None:
    """Face crops of the demo scene in <class>/ folders, as 'fer-edge collect' writes them."""
    crops = [cv2.cvtColor(frame[y:y + h, x:x + w], cv2.COLOR_BGR2GRAY)
             for frame, boxes in demo_frames(count, seed=seed) for x, y, w, h in boxes][:count]
    for i, crop in enumerate(crops):
        (folder / LABELS[i % len(LABELS)]).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / LABELS[i % len(LABELS)] / f"{i}.png"), crop)


def _run_dir(folder: Path, model: Path) -> None:
    """A run directory as a workstation hands it to a Pi: the quantized model with its spec and the run's config."""
    from edge.core.spec import spec_path_for
    from train.config import TrainConfig

    folder.mkdir(parents=True)
    shutil.copy(model, folder / "model_int8.tflite")
    shutil.copy(spec_path_for(model), folder / "model_int8.spec.json")
    TrainConfig().save(folder)


@pytest.fixture(scope="module")
def world(tmp_path_factory, yunet_model_or_none):
    """A home folder and the inputs the guides assume (the clip, a video to label, faces, run directories)."""
    from edge_testkit import demo_video

    from edge.core.rundir import DEFAULT_MODEL

    base = tmp_path_factory.mktemp("documented")
    home = base / "home"
    _faces(home / "my_faces", 28, seed=3)
    _faces(home / "my_faces_heldout", 14, seed=4)
    inputs = base / "inputs"
    demo_video(inputs / "demo.mp4", 30, fps=15, faces="2")
    demo_video(inputs / "happy.mp4", 20, fps=15, faces="1")
    for run in ("demo", "mine"):
        _run_dir(inputs / "runs" / run, DEFAULT_MODEL)
    if yunet_model_or_none is not None:  # a copy brought to an offline machine
        for where in (home, inputs):
            shutil.copy(yunet_model_or_none, where / yunet_model_or_none.name)
    return {"base": base, "home": home, "inputs": inputs}


@pytest.fixture(scope="module")
def yunet_model_or_none():
    from conftest import YUNET_MODEL

    return Path(YUNET_MODEL) if os.path.isfile(YUNET_MODEL) else None


def _mobile_python() -> str | None:
    """A MediaPipe environment made before (offline here): $FER_EDGE_MOBILE_PYTHON or the clone's .venv-mobile."""
    if os.environ.get("FER_EDGE_MOBILE_PYTHON"):
        return os.environ["FER_EDGE_MOBILE_PYTHON"]
    venv = ROOT / ".venv-mobile"
    return str(venv / "bin" / "python") if (venv / ".installed-mediapipe").is_file() else None


@pytest.mark.parametrize("role", ["edge", "mobile"])
def test_documented_commands_run_from_the_installed_package(role, built_wheel, world, tmp_path):
    needs = {"edge": ("cv2", "numpy"), "mobile": ("cv2", "numpy", "tensorflow", "tf_keras", "flatbuffers")}[role]
    missing = missing_modules(*needs)
    if missing or missing_modules("ai_edge_litert") and missing_modules("tflite_runtime"):
        pytest.skip(f"the {role} role's dependencies are not installed here ({', '.join(missing) or 'LiteRT'})")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FER_EDGE_", "PYTHON", "XDG_CACHE")) and k not in ("VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV")}
    if role == "mobile":
        mobile_python = _mobile_python()
        if mobile_python is None:
            if os.environ.get("CI"):
                pytest.fail("no MediaPipe environment: CI makes it with 'make mobile-venv'")
            pytest.skip("no MediaPipe environment to use offline ('make mobile-venv' or $FER_EDGE_MOBILE_PYTHON)")
        env["FER_EDGE_MOBILE_PYTHON"] = mobile_python  # the documented variable (fer-edge mobile-env needs PyPI)
    bin_dir = role_venv(built_wheel[1], tmp_path / "venv", role)
    home = tmp_path / "home"
    shutil.copytree(world["home"], home)
    env.update(HOME=str(home), PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    ran = []
    for doc in DOCS:
        cwd = tmp_path / "work" / Path(doc).stem  # outside the checkout; each guide starts afresh
        shutil.copytree(world["inputs"], cwd)
        for words in (w for d, w in documented() if d == doc and role_of(w) == role):
            if "--from" in words and not (cwd / Path(words[words.index("--from") + 1]).name).exists():
                continue  # no YuNet copy here to install (the test environment has none)
            argv = [str(bin_dir / "fer-edge")] + [str(home) + w[1:] if w.startswith("~") else w for w in words[1:]]
            done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
            line = f"{doc}: {' '.join(words)}"
            assert done.returncode == 0 and "Traceback" not in done.stderr, \
                f"{line}\nexit {done.returncode}\n{done.stdout[-1500:]}\n{done.stderr[-3000:]}"
            ran.append(line)
            for flag in ("--jsonl", "--out", "--out-dir", "--summary"):
                if flag in words:
                    out = Path(argv[words.index(flag) + 1])
                    assert (cwd / out).exists(), f"{line}: wrote no {out}"
    print(f"ran in the {role} venv:", *ran, sep="\n  ")  # pytest -s shows them
    assert len(ran) >= (3 if role == "mobile" else 8), ran
