"""The pictures of the live view in docs/ are made by ``python -m tools.doc_images`` from the page and the summary
image as they are: the script runs here (headless Chromium, a served demo video), and docs/ holds its output."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from conftest import require_tool

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_the_script_makes_the_docs_pictures_from_the_page(tmp_path):
    chromium = require_tool("chromium")
    from tools import doc_images

    made = doc_images.make_images(tmp_path, "micro", chromium, grow_s=1.0)
    shot, summary = (cv2.imread(str(p)) for p in made)
    assert shot.shape[1] == doc_images.WIDTH and shot.shape[0] > 400 and shot.std() > 20, "the page, not a blank"
    assert summary.shape[1] > 600 and (summary[:, -10:] == 24).all(), "the summary, nothing cut off"
    docs_shot, docs_summary = (cv2.imread(str(ROOT / "docs" / p.name)) for p in made)
    assert docs_shot.shape[1] == doc_images.WIDTH, "docs/live_view.png comes from python -m tools.doc_images"
    # sized to its text (the title's digits may differ a little from run to run), not the old fixed 760 px
    assert abs(docs_summary.shape[1] - summary.shape[1]) < 40, "docs/session_summary.png comes from tools.doc_images"
