"""A model's spec is checked where it is read (issue 36, cases 2, 9, 10, 18): class names are plain names, numbers
are finite, in range and of their exact type; a spec that is not a regular file is refused, never waited on."""

import json
import math
import os
import shutil
import subprocess
import sys

import pytest
from edge_testkit import one_line_error, write_no_face_frames

from edge.commands.dispatch import main
from edge.core.errors import UserError
from edge.core.spec import DEFAULT_SPEC, ModelSpec, check_label, spec_path_for


def _spec_file(tmp_path, **changes):
    path = tmp_path / "m.spec.json"
    path.write_text(json.dumps({**DEFAULT_SPEC.to_dict(), **changes}))  # json writes NaN and Infinity as such
    return path


@pytest.mark.parametrize("changes, needle", [
    ({"pixel_scale": math.nan}, "pixel_scale must be a number"),
    ({"pixel_scale": math.inf}, "pixel_scale must be a number"),
    ({"pixel_scale": "0.5"}, "pixel_scale must be a number"),
    ({"pixel_scale": True}, "pixel_scale must be a number"),
    ({"pixel_scale": 0}, "pixel_scale must be a number"),
    ({"pixel_offset": 1e308}, "pixel_offset must be a number"),
    ({"pixel_offset": -math.inf}, "pixel_offset must be a number"),
    ({"labels": "abcdefg"}, "labels must be a list of class names"),
    ({"labels": list(range(1, 8))}, "spec label 1: expected a class name (a string), got int"),
    ({"labels": ["../../escaped", "b"]}, "spec label '../../escaped': expected a plain class name"),
    ({"labels": ["/tmp/abs", "b"]}, "spec label '/tmp/abs'"),
    ({"labels": ["..", "b"]}, "spec label '..'"),
    ({"labels": [".hidden", "b"]}, "spec label '.hidden'"),
    ({"labels": ["", "b"]}, "spec label ''"),
    ({"labels": ["a\nb", "b"]}, "spec label 'a\\nb'"),
    ({"labels": [" happy", "b"]}, "spec label ' happy'"),
    ({"labels": ["a\\b", "b"]}, "spec label 'a\\\\b'"),
    ({"labels": ["x" * 65, "b"]}, "1..64 characters"),
    ({"labels": ["a", "a"]}, "at least two distinct names"),
    ({"framing": {"margin": True, "align": False}}, "framing margin"),
    ({"framing": {"margin": math.nan, "align": False}}, "framing margin"),
    ({"framing": "wide"}, "spec framing must be an object"),
    ({"input_channels": True}, "input_channels must be 1 or 3"),
    ({"input_height": 48.0}, "input_height must be an integer"),
    ({"input_quant": {"scale": 0.1, "zero_point": True}}, "zero_point must be an integer"),
    ({"input_quant": {"scale": "0.1", "zero_point": 0}}, "scale must be a positive finite number"),
    ({"input_quant": {"scale": math.nan, "zero_point": 0}}, "scale must be a positive finite number"),
    ({"interpolation": ["area"]}, "interpolation must be one of"),
    ({"meta": []}, "meta must be an object"),
])
def test_a_spec_is_checked_when_read(tmp_path, changes, needle):
    path = _spec_file(tmp_path, **changes)
    with pytest.raises(UserError) as info:
        ModelSpec.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and needle in message and "\n" not in message, message


def test_good_specs_still_load(tmp_path):
    spec = ModelSpec.load(_spec_file(tmp_path, labels=["happy face", "sad", "Überrascht"], pixel_scale=1 / 127.5,
                                     pixel_offset=-1, framing={"margin": -0.05, "align": True}))
    assert spec.labels == ("happy face", "sad", "Überrascht") and spec.pixel_offset == -1
    assert check_label("neutral") == "neutral"


@pytest.fixture
def model_copy(int8_model, tmp_path):
    """The test int8 model with a spec of our own beside it."""
    folder = tmp_path / "model"
    folder.mkdir()
    model = folder / "m.tflite"
    shutil.copy(int8_model, model)
    shutil.copy(spec_path_for(int8_model), spec_path_for(model))
    return model


def _rewrite_spec(model, **changes):
    path = spec_path_for(model)
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))


def test_collect_cannot_write_outside_its_out_dir_through_a_label(model_copy, tmp_path, capsys):
    labels = json.loads(spec_path_for(model_copy).read_text())["labels"]
    _rewrite_spec(model_copy, labels=["../../escaped", *labels[1:]])
    frames = write_no_face_frames(tmp_path / "frames", 2)
    out = tmp_path / "deep" / "er" / "faces"
    code = main(["collect", "--model", str(model_copy), "--source", str(frames), "--out-dir", str(out),
                 "--label", "../../escaped", "--max-frames", "1"])
    assert code == 2
    one_line_error(capsys, "spec label '../../escaped': expected a plain class name", str(spec_path_for(model_copy)))
    assert not (tmp_path / "deep" / "escaped").exists() and not out.exists()


@pytest.mark.parametrize("command", ["collect", "run"])
def test_numeric_labels_are_one_line_not_a_traceback(model_copy, tmp_path, command, capsys):
    _rewrite_spec(model_copy, labels=list(range(1, 8)))
    frames = write_no_face_frames(tmp_path / "frames", 2)
    args = (["collect", "--model", str(model_copy), "--out-dir", str(tmp_path / "faces"), "--serve", "127.0.0.1:0"]
            if command == "collect" else ["run", str(model_copy)])
    assert main([*args, "--source", str(frames), "--max-frames", "1"]) == 2
    one_line_error(capsys, "spec label 1: expected a class name (a string), got int")


def test_run_refuses_a_nan_pixel_scale(model_copy, tmp_path, capsys):
    _rewrite_spec(model_copy, pixel_scale=math.nan)
    frames = write_no_face_frames(tmp_path / "frames", 2)
    assert main(["run", str(model_copy), "--source", str(frames), "--max-frames", "1"]) == 2
    one_line_error(capsys, "pixel_scale must be a number in (0, 1000], got nan")


def test_c_float_refuses_what_c_cannot_read():
    from firmware_export.settings import c_float

    assert c_float(0.5) == "0.5f"
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            c_float(bad)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_the_spec_is_refused_at_once(model_copy, tmp_path):
    spec = spec_path_for(model_copy)
    spec.unlink()
    os.mkfifo(spec)
    frames = write_no_face_frames(tmp_path / "frames", 1)
    proc = subprocess.run([sys.executable, "-m", "edge.commands", "run", str(model_copy), "--source", str(frames)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f"{spec}: not a regular file" in proc.stderr, proc.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_place_of_the_model_is_refused_at_once(tmp_path, capsys):
    model = tmp_path / "m.tflite"
    os.mkfifo(model)
    frames = write_no_face_frames(tmp_path / "frames", 1)
    assert main(["run", str(model), "--source", str(frames)]) == 2
    one_line_error(capsys, f"{model}: not a regular file (a pipe or device")
