"""A non-editable install finds its shipped models: the wheel carries the int8 models (not the float ones),
and ``fer-edge run`` in a clean venv classifies a clip from another folder with the shipped default model.

Nothing is downloaded: the wheel is built without build isolation, installed with --no-deps and --no-index,
and the clean venv borrows its dependencies (NumPy, OpenCV, LiteRT) from the environment running the tests
through a .pth file (a path line in a .pth does not run that folder's own .pth files, so an editable
install of the checkout there stays invisible).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from conftest import missing_modules
from wheel_kit import role_venv

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = {"fer_micro_int8.tflite", "fer_micro_int8.spec.json", "fer_pi_int8.tflite", "fer_pi_int8.spec.json"}


def test_package_list_covers_every_package_in_the_tree():
    """pyproject.toml lists its packages (to map models/ to fer_edge_models): a new subpackage must be listed."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    from setuptools import find_namespace_packages

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set(find_namespace_packages(str(ROOT), include=["edge*", "train*", "firmware_export*", "quantize*",
                                                            "mobile_export*", "model_card*"],
                                        exclude=["*.__pycache__", "*.node_modules*"]))
    assert found | {"fer_edge_models"} == listed


@pytest.fixture(scope="module")
def source_copy(built_wheel) -> Path:
    return built_wheel[0]


@pytest.fixture(scope="module")
def wheel(built_wheel) -> Path:
    return built_wheel[1]


@pytest.mark.slow
def test_wheel_carries_the_int8_models_and_not_the_float_ones(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    models = {Path(n).name for n in names if n.startswith("fer_edge_models/")}
    assert SHIPPED <= models
    assert not any(n.endswith(".keras") for n in names), "float .keras models stay out of the wheel"
    assert not any(n.startswith("models/") for n in names), "no top-level 'models' package in site-packages"
    from test_shipped_models import ABSOLUTE

    with zipfile.ZipFile(wheel) as z:  # the shipped specs and cards, as installed, name no trainer's folder
        for n in names:
            if n.startswith("fer_edge_models/") and n.endswith((".spec.json", ".md")):
                text = z.read(n).decode()
                assert not ABSOLUTE.search(text), f"{n}: {ABSOLUTE.search(text).group(0)}"


@pytest.mark.slow
def test_sdist_carries_the_int8_models_and_not_the_float_ones(wheel, source_copy):
    """After the wheel (so setuptools is known to be there); the sdist through setuptools itself, offline."""
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "sdist", "--dist-dir",
                    str(source_copy.parent / "sdist")], check=True, cwd=source_copy, capture_output=True)
    (sdist,) = (source_copy.parent / "sdist").glob("fer*edge-*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
    assert SHIPPED <= {Path(n).name for n in names if "/models/" in n}
    assert not any(n.endswith(".keras") for n in names)


@pytest.mark.slow
def test_clean_venv_runs_the_shipped_model_from_another_folder(wheel, tmp_path):
    missing = missing_modules("cv2", "numpy")
    if missing or missing_modules("ai_edge_litert") and missing_modules("tflite_runtime"):
        pytest.skip(f"the edge dependencies are not installed here ({', '.join(missing) or 'LiteRT'})")
    bin_dir = role_venv(wheel, tmp_path / "venv", "edge")
    py = bin_dir / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "FER_EDGE_DETECTOR_MODEL")}
    env["FER_EDGE_CACHE"] = str(tmp_path / "cache")
    fer_edge = str(bin_dir / "fer-edge")

    def run(*argv):
        return subprocess.run([fer_edge, *argv], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)

    where = subprocess.run([py, "-c", "import edge.core.rundir as r; print(r.DEFAULT_MODEL)"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where) == site / "fer_edge_models" / "fer_micro_int8.tflite", "the installed copy, not the checkout"
    made = run("demo-video", "clip.mp4", "--frames", "12", "--fps", "12")
    assert made.returncode == 0, made.stderr
    done = run("run", "--source", "clip.mp4", "--headless", "--jsonl", "clip.jsonl")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (elsewhere / "clip.jsonl").read_text().splitlines()]
    assert len(records) == 12 and sum(len(r["faces"]) for r in records) >= 6
    assert all(face["label"] for r in records for face in r["faces"])
