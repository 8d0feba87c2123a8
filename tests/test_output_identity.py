"""An output is never an input, by file identity as well as by name (issue 36, cases 4, 5, 6): a hard link to the
model, an image of the image-folder source, and a --jsonl another run is writing are refused in one line before
anything is written."""

import fcntl
import os
import shutil

import pytest
from edge_testkit import one_line_error, write_no_face_frames

from edge.commands.dispatch import main
from edge.core.spec import spec_path_for


@pytest.fixture
def frames(tmp_path):
    return write_no_face_frames(tmp_path / "frames", 2)


@pytest.fixture
def model(int8_model, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(int8_model, folder / "m.tflite")
    shutil.copy(spec_path_for(int8_model), spec_path_for(folder / "m.tflite"))
    return folder / "m.tflite"


def _run(model, frames, *extra):
    return main(["run", str(model), "--source", str(frames), "--headless", "--max-frames", "1", *extra])


@pytest.mark.parametrize("target", ["model", "spec"])
def test_a_hard_link_to_an_input_is_that_input(model, frames, tmp_path, target, capsys):
    linked = model if target == "model" else spec_path_for(model)
    before = linked.read_bytes()
    out = tmp_path / "out.jsonl"
    os.link(linked, out)
    assert _run(model, frames, "--jsonl", str(out)) == 2
    what = "the model" if target == "model" else "the model's spec"
    one_line_error(capsys, f"--jsonl {out}: is the same file as {what} ({linked}, a hard link to it)")
    assert linked.read_bytes() == before


def test_two_outputs_that_are_one_file_are_refused(model, frames, tmp_path, capsys):
    (tmp_path / "a.png").write_bytes(b"")
    os.link(tmp_path / "a.png", tmp_path / "a.mp4")
    assert _run(model, frames, "--out", str(tmp_path / "a.mp4"), "--summary", str(tmp_path / "a.png")) == 2
    one_line_error(capsys, "is the same file as --out")


def test_a_summary_onto_an_image_of_the_source_folder(model, frames, capsys):
    image = sorted(frames.iterdir())[0]
    before = image.read_bytes()
    image.rename(image.with_suffix(".png"))  # the frames are PNG already; keep the name explicit
    image = image.with_suffix(".png")
    assert _run(model, frames, "--summary", str(image)) == 2
    one_line_error(capsys, f"--summary {image}: is also the input --source's image {image.name}")
    assert image.read_bytes() == before


def test_a_jsonl_another_run_writes_is_refused_and_kept(model, frames, tmp_path, capsys):
    out = tmp_path / "shared.jsonl"
    out.write_text('{"frame":0}\n')
    with open(out, "a") as other:  # another fer-edge run holds it
        fcntl.flock(other, fcntl.LOCK_EX)
        assert _run(model, frames, "--jsonl", str(out)) == 2
    one_line_error(capsys, f"--jsonl {out}: another fer-edge is writing to it")
    assert out.read_text() == '{"frame":0}\n', "not emptied"
    assert _run(model, frames, "--jsonl", str(out)) == 0, "free again once the other run ends"
    assert out.read_text().count("\n") == 1 and '"faces"' in out.read_text()


@pytest.mark.parametrize("args, needle", [
    (["--source", ""], "--source '': expected picamera2, usb:N"),
    (["--source", "  "], "--source '  ': expected picamera2, usb:N"),
    (["--source", "{frames}", "--threads", "5000000000"], "--threads 5000000000: expected a positive integer up to"),
    (["--source", "{frames}", "--threads", "0"], "--threads 0: expected a positive integer"),
])
def test_bad_run_values_are_one_line(model, frames, args, needle, capsys):
    args = [a.replace("{frames}", str(frames)) for a in args]
    assert main(["run", str(model), *args, "--max-frames", "1"]) == 2
    one_line_error(capsys, needle)
