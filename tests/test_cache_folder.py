"""One cache folder for every stage (``edge.core.cache``): ``$FER_EDGE_CACHE``, else
``$XDG_CACHE_HOME/fer-edge``, else ``~/.cache/fer-edge``; the detector, the dataset cache and the TFLM builds land there."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge import detector_model
from edge.core import cache

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    monkeypatch.delenv(cache.ENV_CACHE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "fer-edge"


def test_fer_edge_cache_wins_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.ENV_CACHE, str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "own"
    monkeypatch.delenv(cache.ENV_CACHE)
    assert cache.cache_dir() == tmp_path / "xdg" / "fer-edge"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "fer-edge"


def test_detector_lands_under_xdg_cache_home(xdg):
    assert detector_model.cached_path() == xdg / detector_model.YUNET.name


def test_dataset_cache_lands_under_xdg_cache_home(xdg, tmp_path):
    from train.datasets import load_dataset

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for name in ("happy", "sad"):
            (tmp_path / "ds" / split / name).mkdir(parents=True)
            cv2.imwrite(str(tmp_path / "ds" / split / name / "0.png"), rng.integers(0, 256, (48, 48), dtype=np.uint8))
    load_dataset(str(tmp_path / "ds"))
    assert [p.suffix for p in xdg.iterdir()] == [".npz"]


def test_tflm_builds_land_under_xdg_cache_home(xdg, tmp_path):
    from firmware_export.tflm import tree

    assert tree.build_root(tmp_path / "tflite-micro", "0123456789abcdef").parent == xdg / "tflm-build"


def test_no_other_module_computes_the_cache_folder():
    """Only edge/core/cache.py spells the default folder out; everything else asks it."""
    spelled = [str(p.relative_to(ROOT)) for top in ("edge", "train", "quantize", "firmware_export", "mobile_export",
                                                     "model_card", "benchmarks", "tools")
               for p in (ROOT / top).rglob("*.py")
               if p != ROOT / "edge" / "core" / "cache.py"
               and re.search(r"""["']\.cache["']|["']XDG_CACHE_HOME["']|environ[^\n]*FER_EDGE_CACHE""", p.read_text())]
    assert spelled == []
