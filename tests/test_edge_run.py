"""``fer-edge run`` / ``bench`` end to end on generated videos: outputs, model checks, clean stops."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from edge_testkit import demo_frames, demo_video, help_options, one_line_error, write_no_face_frames

from edge.commands.dispatch import main
from edge.core.spec import DEFAULT_SPEC, LABELS, spec_path_for
from edge.detect import FaceDetector
from edge.recognize import Recognizer
from edge.timing import StageTimer


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("video") / "faces.mp4"
    truth = demo_video(path, 20, fps=15)
    return path, truth


def _frames_in(path):
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    return n, cap.get(cv2.CAP_PROP_FRAME_COUNT)


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_run_writes_annotated_video_jsonl_and_config(int8_model, video, tmp_path, capsys):
    path, truth = video
    out, jsonl = tmp_path / "out" / "annotated.mp4", tmp_path / "out" / "predictions.jsonl"
    assert main(["run", str(int8_model), "--source", str(path), "--headless",
                 "--out", str(out), "--jsonl", str(jsonl)]) == 0
    assert _frames_in(out) == (20, 20)
    records = _records(jsonl)
    assert [r["frame"] for r in records] == list(range(20))
    assert all(r["faces"] for r in records), "a face is found in every frame of the demo video"
    found = sum(len(r["faces"]) for r in records)
    assert found >= 0.6 * sum(len(t) for t in truth)
    face = records[0]["faces"][0]
    assert set(face) == {"box", "track", "label", "confidence", "scores"}
    assert face["label"] in LABELS and list(face["scores"]) == list(LABELS)
    assert abs(sum(face["scores"].values()) - 1) < 0.05 and face["confidence"] == max(face["scores"].values())
    saved = json.loads((tmp_path / "out" / "annotated.config.json").read_text())
    assert saved["model"] == str(int8_model) and saved["out"] == str(out)
    assert json.loads((tmp_path / "out" / "predictions.config.json").read_text()) == saved
    printed = capsys.readouterr().out
    for stage in ("capture", "detect", "preprocess", "infer", "draw", "write"):
        assert f"| {stage} |" in printed
    assert "outside detect+infer" in printed


def test_run_dir_and_float_model(tiny_models, video, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(tiny_models["float"], run_dir / "model_int8.tflite")  # any model under the run-dir name
    shutil.copy(spec_path_for(tiny_models["float"]), run_dir / "model_int8.spec.json")
    assert main(["run", str(run_dir), "--source", str(video[0]), "--max-frames", "3",
                 "--jsonl", str(tmp_path / "p.jsonl")]) == 0
    assert len(_records(tmp_path / "p.jsonl")) == 3


def test_image_folder_source_of_mixed_sizes(int8_model, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i, (image, _) in enumerate(demo_frames(6, seed=1, faces=2)[:3]):
        cv2.imwrite(str(images / f"{i}.jpg"), cv2.resize(image, None, fx=1 + i / 4, fy=1 + i / 4))
    jsonl, out = tmp_path / "out" / "p.jsonl", tmp_path / "out" / "a.mp4"
    assert main(["run", str(int8_model), "--source", str(images), "--jsonl", str(jsonl),
                 "--out", str(out)]) == 0
    assert [len(r["faces"]) for r in _records(jsonl)] == [2, 2, 2]
    assert _frames_in(out) == (3, 3), "frames of other sizes are letterboxed, not dropped"


def _convert(model, path):
    import tensorflow as tf

    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    DEFAULT_SPEC.save(spec_path_for(path))
    return path


@pytest.mark.requires("tensorflow", "tf_keras")
def test_models_that_do_not_fit_the_contract_are_refused(tmp_path, capsys):
    import tf_keras as keras

    wrong_input = keras.Sequential([keras.layers.Input((64, 64, 1)), keras.layers.Flatten(),
                                    keras.layers.Dense(7, activation="softmax")])
    wrong_output = keras.Sequential([keras.layers.Input((48, 48, 1)), keras.layers.Flatten(),
                                     keras.layers.Dense(5, activation="softmax")])
    m_in, m_out = _convert(wrong_input, tmp_path / "in.tflite"), _convert(wrong_output, tmp_path / "out.tflite")
    for model, message in ((m_in, "model input is 64x64x1, expected 48x48x1 as in its spec"),
                           (m_out, "model outputs 5 classes, expected 7")):
        assert main(["run", str(model), "--source", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--source", "{video}", "--serve", "0.0.0.0:8000"], "listens on the network: add --listen-network"),
    (["--source", "{video}", "--token", "abcdefgh"], "--token is only used with --listen-network"),
    (["--source", "{video}", "--lores", "321x240"], "width and height must be even"),
    (["--source", "{video}", "--main", "320x240", "--lores", "640x480"], "may not exceed --main"),
    (["--source", "usb:front"], "expected usb:N"),
    (["--source", "{video}", "--smooth-alpha", "0"], "--smooth-alpha 0.0"),
    (["--source", "{video}", "--display"], "--display needs"),
    (["--source", "{video}", "--out", "annotated"], "--out annotated: expected a video file name ending in .mp4"),
])
def test_bad_arguments_are_one_line_errors(int8_model, video, argv, message, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    argv = [a.replace("{video}", str(video[0])) for a in argv]
    assert main(["run", str(int8_model), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_video_writer_failure_leaves_nothing(int8_model, video, tmp_path, capsys, monkeypatch):
    class Closed:  # what cv2.VideoWriter is when the container or folder cannot be written
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

    monkeypatch.setattr(cv2, "VideoWriter", Closed)
    out = tmp_path / "out"
    out.mkdir()
    argv = ["run", str(int8_model), "--source", str(video[0]), "--out", str(out / "a.mp4")]
    assert main(argv) == 2
    assert "OpenCV cannot write mp4v video there" in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_model_path_errors(int8_model, tmp_path, capsys):
    (tmp_path / "m.tflite").write_bytes(int8_model.read_bytes())
    (tmp_path / "m.keras").write_bytes(b"PK\x03\x04")  # the name is what is refused, before any reading
    cases = [(tmp_path / "m.tflite", "no spec beside the model"), (tmp_path / "m.keras", "expected a .tflite model"),
             (tmp_path, "run directory has no model_int8.tflite"), (tmp_path / "nope", "no such model file")]
    for model, message in cases:
        assert main(["run", str(model), "--source", str(tmp_path)]) == 2
        assert message in capsys.readouterr().err


def test_detect_every_n_frames_classifies_every_frame():
    calls = []

    class Detector(FaceDetector):
        name, model_path = "scripted", None

        def detect_faces(self, gray, min_face=None):
            calls.append(gray.shape)
            return np.array([[10, 10, 60, 60]], np.int32), None

    class Classifier:
        def predict(self, batch):
            return np.full((len(batch), 7), 1 / 7, np.float32)

    class Frame:
        gray, scale = np.zeros((120, 160), np.uint8), (2.0, 2.0)

    timer = StageTimer()
    recognize = Recognizer(Detector(), Classifier(), DEFAULT_SPEC, timer=timer, detect_every=3)
    for _ in range(7):
        timer.begin()
        faces = recognize(Frame())
        assert [f.box for f in faces] == [(20, 20, 120, 120)], "boxes in display coordinates"
    assert len(calls) == 3
    assert faces[0].label == LABELS[0] and faces[0].track_id == 1


def test_bench_prints_and_saves_timings(int8_model, video, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", str(video[0]), "--model", str(int8_model), "--json", str(out),
                 "--infer-runs", "20"]) == 0
    summary = json.loads(out.read_text())
    assert summary["frames"] == 20 and summary["fps"] > 0 and summary["inference_only_per_s"] > 0
    assert {"capture", "detect", "preprocess", "infer", "draw", "encode"} <= set(summary["ms_per_frame"])
    assert 0 < summary["outside_core_share"] < 1
    assert "inference only:" in capsys.readouterr().out


def test_bench_times_what_run_runs_unless_asked_for_detection_only(video, tmp_path, capsys):
    """Without --model, bench classifies with run's default model, so its fps is the whole pipeline's."""
    out = tmp_path / "bench.json"
    assert main(["bench", str(video[0]), "--json", str(out), "--infer-runs", "5", "--max-frames", "5"]) == 0
    assert "infer" in json.loads(out.read_text())["ms_per_frame"]
    printed = capsys.readouterr().out
    assert "; model " in printed and "fer_micro_int8.tflite" in printed
    assert main(["bench", str(video[0]), "--json", str(out), "--detect-only", "--max-frames", "5"]) == 0
    assert "infer" not in json.loads(out.read_text())["ms_per_frame"]
    assert "detection only (--detect-only)" in capsys.readouterr().out


@pytest.mark.slow
def test_sigterm_finalizes_the_video_and_jsonl(int8_model, tmp_path):
    source = tmp_path / "slow.mp4"
    demo_video(source, 60, fps=10)
    out, jsonl = tmp_path / "a.mp4", tmp_path / "p.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "edge", str(int8_model), "--source", str(source),
                             "--realtime", "--out", str(out), "--jsonl", str(jsonl)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not jsonl.exists() or len(jsonl.read_text().splitlines()) < 8):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert "SIGTERM received" in stderr and "stopped (signal)" in stderr
    records = _records(jsonl)
    assert 8 <= len(records) < 60, "stopped early, every line complete"
    assert _frames_in(out) == (len(records), len(records)), "video finalized with every frame"
    assert "| detect |" in stdout
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p], "no temporary file left behind"


def test_systemd_unit_runs_a_valid_command():
    import configparser
    import shlex
    from pathlib import Path

    import edge
    from edge.commands.dispatch import build_parser
    from edge.commands.run import config_from_args

    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.read(Path(edge.__file__).parent / "deploy" / "fer-edge.service")
    assert unit["Service"]["KillSignal"] == "SIGTERM" and unit["Install"]["WantedBy"] == "default.target"
    argv = shlex.split(unit["Service"]["ExecStart"].replace("%h", "/home/me"))
    assert argv[0] == "/home/me/fer-edge/.venv/bin/fer-edge"
    args = build_parser().parse_args(argv[1:])
    config = config_from_args(args)
    assert config.source == "picamera2" and config.serve == "127.0.0.1:8000" and not config.display
    assert config.detect_every == 2


def test_loop_replays_a_file_with_media_time_running_on(int8_model, tmp_path):
    video, jsonl = tmp_path / "faces.mp4", tmp_path / "p.jsonl"
    demo_video(video, 6, fps=15, faces="1")
    assert main(["run", str(int8_model), "--source", str(video), "--loop", "--max-frames", "14", "--jsonl",
                 str(jsonl), "--detector", "haar"]) == 0
    records = _records(jsonl)
    assert [r["frame"] for r in records] == list(range(14)), "the file played 2 1/3 times"
    assert [r["t"] for r in records] == pytest.approx([i / 15 for i in range(14)], abs=2e-3), "time runs on"
    assert main(["run", str(int8_model), "--source", "usb:0", "--loop"]) == 2


def test_out_video_and_its_overlay_carry_the_files_frame_rate(int8_model, tmp_path, monkeypatch):
    """Not the processing rate (~100 fps on a 15 fps clip): the file's own 15 fps, in the container and drawn."""
    import edge.loop

    drawn = []
    real = edge.loop.draw_faces
    monkeypatch.setattr(edge.loop, "draw_faces",
                        lambda image, faces, fps=None: drawn.append(fps) or real(image, faces, fps))
    video, out = tmp_path / "faces.mp4", tmp_path / "annotated.mp4"
    demo_video(video, 5, fps=15, faces="1")
    assert main(["run", str(int8_model), "--source", str(video), "--out", str(out), "--detector", "haar"]) == 0
    assert drawn == [15.0] * 5
    assert cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FPS) == pytest.approx(15.0)


def test_quiet_hides_litert_delegate_line(int8_model, tmp_path):
    """LiteRT's C++ code prints "Created TensorFlow Lite XNNPACK delegate" on stderr: -q drops it (and only it)."""
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), demo_frames(1)[0][0])
    cmd = [sys.executable, "-m", "edge.commands", "-q", "run", str(int8_model), "--source", str(folder),
           "--detector", "haar"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "XNNPACK" not in done.stderr and "Created TensorFlow Lite" not in done.stderr, done.stderr


def test_each_flag_name_has_one_meaning_and_old_spellings_warn_once(capsys, caplog):
    """--model is a model path, --out an output file, --out-dir a folder; evaluate's {float,int8} is --variant and
    fetch-models' choice is --which; the old spellings still parse, with one deprecation warning."""
    from edge.commands.dispatch import build_parser

    parser = build_parser()
    evaluate, fetch = help_options("evaluate"), help_options("fetch-models")
    assert evaluate["--variant"].startswith("--variant {float,int8}") and "--model" not in evaluate
    assert fetch["--which"].startswith("--which {all,detector,teacher}") and "--model" not in fetch
    assert "teacher" in " ".join(parser.format_help().split()).split("fetch-models", 1)[1].split("\n")[0]
    assert parser.parse_args(["evaluate", "run", "--model", "int8"]).kind == "int8"
    assert parser.parse_args(["evaluate", "run", "--variant", "int8"]).kind == "int8"
    assert parser.parse_args(["fetch-models", "--model", "teacher"]).which == "teacher"
    for name in ("run", "bench"):
        assert help_options(name)["--out"].startswith("--out VIDEO.mp4 "), name
    assert "--out" not in help_options("collect"), "collect's old --out (now --out-dir) is not shown"
    for name in ("collect", "bench"):
        model = help_options(name)["--model"]
        assert model.startswith("--model MODEL ") and "run directory" in model, name
    for name in ("export-firmware", "export-mobile", "model-card"):  # their output folders: --out-dir too
        options = help_options(name)
        assert options["--out-dir"].startswith("--out-dir DIR ") and "--out" not in options, name
        assert parser.parse_args([name, "m", "--name", "n", "--out", "old"]).out == "old"
    assert main(["fetch-models", "--model", "detector", "--from", "/nonexistent/yunet.onnx"]) != 0
    warnings = [r.getMessage() for r in caplog.records if "deprecated" in r.getMessage()]
    assert warnings == ["--model is deprecated and will be removed in the next release: use --which"]


def test_run_says_loudly_at_start_that_it_fell_back_to_haar(int8_model, video, tmp_path):
    """No YuNet anywhere (the tests' empty cache): the first thing run says is that it uses Haar, why and the fix;
    -q does not hide it. --detector haar, asked for, is quiet."""
    argv = [sys.executable, "-m", "edge.commands", "run", str(int8_model), "--source", str(video[0]), "--headless"]
    done = subprocess.run([*argv, "-q"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first = [line for line in done.stderr.splitlines() if "XNNPACK" not in line][0]  # LiteRT's own line aside
    assert "FALLING BACK TO THE HAAR FACE DETECTOR" in first and "no YuNet model found" in first
    assert "nothing at " + os.environ["FER_EDGE_CACHE"] in first
    assert "'fer-edge fetch-models'" in first and "'fer-edge fetch-models --from " in first
    asked = subprocess.run([*argv, "-q", "--detector", "haar"], capture_output=True, text=True, timeout=300)
    assert asked.returncode == 0 and "HAAR" not in asked.stderr


@pytest.mark.parametrize("args, message", [(["--max-frames", "1", "--detect-every", "0"], "--detect-every 0:"),
                                           (["--camera-timeout", "nan"], "--camera-timeout nan:")])
def test_messages_name_the_flags(int8_model, tmp_path, args, message, capsys):
    frames = write_no_face_frames(tmp_path / "frames", 2)
    assert main(["run", str(int8_model), "--source", str(frames), "--headless", *args]) == 2
    err = one_line_error(capsys, message)
    assert "detect_every" not in err and "camera timeout" not in err
