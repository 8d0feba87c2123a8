"""Messages that said the wrong thing (issue 36, cases 13, 15, 19): an oversized image (a decompression bomb) is
skipped with a warning as an unreadable one is; a folder of only unreadable images is an error, not "wrote"; a
1x1 frame with --out names the size, not the folder; an empty .tflite says it is empty; collect stopping at --max
says so; model-card --name is a plain name."""

import logging
import struct
import zlib

import cv2
import numpy as np
import pytest
from edge_testkit import demo_video, no_face_frame, one_line_error

from edge.commands.dispatch import main
from edge.sources import MAX_IMAGE_PIXELS, ImageFolderSource


def _png_header_only(path, width, height):
    """A small PNG whose header claims width x height (the first rows compressed, the rest missing): what a
    decompression bomb looks like before it is decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = zlib.compress(b"\0" * (width + 1) * 4)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
    return path


def test_an_image_bomb_is_skipped_with_a_warning_unread(tmp_path, caplog, monkeypatch):
    folder = tmp_path / "frames"
    folder.mkdir()
    _png_header_only(folder / "0_bomb.png", 30000, 30000)
    cv2.imwrite(str(folder / "1_ok.png"), no_face_frame(0, 64, 48))
    decoded = []
    real = cv2.imread
    monkeypatch.setattr(cv2, "imread", lambda p, *a: decoded.append(p) or real(p, *a))
    source = ImageFolderSource(folder)
    source.open()
    frame = source.read()
    assert frame.image.shape == (48, 64, 3) and source.read() is None
    assert decoded == [str(folder / "1_ok.png")], "the bomb is never handed to the decoder"
    assert "0_bomb.png: 30000x30000 pixels, over 64 million: skipped unread" in caplog.text
    assert 30000 * 30000 > MAX_IMAGE_PIXELS


def test_a_folder_of_only_unreadable_images_is_an_error(int8_model, tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(b"not an image")
    out, jsonl = tmp_path / "g0.mp4", tmp_path / "g0.jsonl"
    assert main(["run", str(int8_model), "--source", str(folder), "--detector", "haar", "--out", str(out),
                 "--jsonl", str(jsonl)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].endswith(f"{folder}: none of its 3 image(s) could be read (see the warnings "
                                                 "above); expected readable images"), err
    assert "Traceback" not in err and "wrote" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"], "no empty video, JSON lines or config"


def test_a_one_pixel_frame_names_its_size(int8_model, tmp_path, capsys):
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "dot.png"), np.zeros((1, 1, 3), np.uint8))
    out = tmp_path / "v.mp4"
    assert main(["run", str(int8_model), "--source", str(folder), "--detector", "haar", "--out", str(out)]) == 2
    one_line_error(capsys, f"--out {out}: the frames are 1x1 pixels; mp4v video needs at least 2x2")


def test_an_empty_model_file_says_it_is_empty(int8_model, tmp_path, capsys):
    import shutil

    from edge.core.spec import spec_path_for

    model = tmp_path / "m.tflite"
    model.write_bytes(b"")
    shutil.copy(spec_path_for(int8_model), spec_path_for(model))
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.png"), no_face_frame(0, 64, 48))
    assert main(["run", str(model), "--source", str(frames)]) == 2
    one_line_error(capsys, f"{model}: an empty file (0 bytes; expected a .tflite model")


def test_collect_reaching_max_says_so_not_signal(int8_model, tmp_path, caplog, capsys):
    video = tmp_path / "faces.mp4"
    demo_video(video, 30, fps=15, faces="1")
    with caplog.at_level(logging.INFO):
        assert main(["collect", "--model", str(int8_model), "--source", str(video), "--out-dir",
                     str(tmp_path / "faces"), "--label", "happy", "--max", "1", "--min-sharpness", "0",
                     "--min-change", "0", "--detector", "haar"]) == 0
    assert "stopped (--max 1 (happy faces saved))" in caplog.text and "stopped (signal)" not in caplog.text


@pytest.mark.requires("tensorflow", "tf_keras")
@pytest.mark.parametrize("name", ["../escaped_card", "/tmp/card", "a\\b", "..", "card\nx"])
def test_model_card_name_is_a_plain_name(name, tmp_path, capsys):
    assert main(["model-card", str(tmp_path), "--name", name, "--out-dir", str(tmp_path / "models")]) == 2
    one_line_error(capsys, f"--name {name!r}: expected a plain name")
    assert not (tmp_path / "models").exists()
