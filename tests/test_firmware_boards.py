"""The board examples of ``export-firmware --locator``, compiled against the camera libraries' real headers.

The Arduino Nano 33 BLE Sense sketch and the ESP32-S3-EYE ``main.cc`` are compiled (not linked, not run) with
``arm-none-eabi-g++`` against checkouts of Arduino_OV767X and esp32-camera named by ``FER_EDGE_OV767X_DIR`` and
``FER_EDGE_ESP32_CAMERA_DIR``; what the boards' own toolchains provide (the Arduino core, ESP-IDF) is stood in
for by ``tests/board_stubs`` (declarations only). The sketch's copy of the pipeline is compiled for the Nano's
Cortex-M4F against ``FER_EDGE_TFLM_DIR``'s headers. Each part skips without its checkout or the compiler.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

pytestmark = pytest.mark.requires("tflite_micro", "tensorflow")
STUBS = Path(__file__).parent / "board_stubs"
NANO_FLAGS = ["-std=gnu++17", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Wall",
              "-Wextra", "-Werror", "-Os", "-ffunction-sections", "-fdata-sections", "-fno-exceptions", "-fno-rtti"]


def checkout(variable: str, probe: str) -> Path:
    path = os.environ.get(variable)
    if not path:
        pytest.skip(f"set {variable} to a checkout of the camera library to compile against its headers")
    if not (Path(path) / probe).is_file():
        pytest.fail(f"{variable}={path}: no {probe} there")
    return Path(path)


@pytest.fixture(scope="module")
def exported(int8_model, tmp_path_factory):
    from test_firmware_pipeline import build_tiny_locator

    from edge.commands.dispatch import main as fer_edge

    work = tmp_path_factory.mktemp("boards")
    locator, _ = build_tiny_locator(work)
    out = work / "fw"
    assert fer_edge(["export-firmware", str(int8_model), "--out-dir", str(out), "--locator", str(locator),
                     "--parity-samples", "2"]) == 0
    return out


def compile_cxx(source: Path, out: Path, *flags: str) -> None:
    gxx = require_tool("arm-none-eabi-g++")
    done = subprocess.run([gxx, *flags, "-c", str(source), "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert out.stat().st_size > 0


def test_the_nano_sketch_compiles_against_arduino_ov767x(exported, tmp_path):
    ov767x = checkout("FER_EDGE_OV767X_DIR", "src/Arduino_OV767X.h")
    sketch = exported / "arduino" / "fer_model_camera"
    text = (sketch / "fer_model_camera.ino").read_text()
    assert "Camera.begin(kResolution, GRAYSCALE, kFps, OV7675)" in text and "QQVGA" in text
    compile_cxx(sketch / "fer_model_camera.ino", tmp_path / "sketch.o", *NANO_FLAGS, "-x", "c++", f"-I{sketch}",
                f"-I{ov767x / 'src'}", f"-I{STUBS / 'arduino'}")


def test_the_nano_sketch_pipeline_compiles_for_a_cortex_m4f(exported, tmp_path):
    tflm = os.environ.get("FER_EDGE_TFLM_DIR")
    if not tflm:
        pytest.skip("set FER_EDGE_TFLM_DIR to a tflite-micro checkout (with its downloads) for TFLM's headers")
    downloads = Path(tflm) / "tensorflow/lite/micro/tools/make/downloads"
    sketch = exported / "arduino" / "fer_model_camera"
    compile_cxx(sketch / "fer_model_pipeline.cpp", tmp_path / "pipeline.o", *NANO_FLAGS, "-DTF_LITE_STATIC_MEMORY",
                f"-I{sketch}", "-isystem", tflm, "-isystem", str(downloads / "flatbuffers" / "include"),
                "-isystem", str(downloads / "gemmlowp"))  # TFLM's own headers: their warnings are not ours


def test_the_esp32s3_eye_example_compiles_against_esp32_camera(exported, tmp_path):
    camera = checkout("FER_EDGE_ESP32_CAMERA_DIR", "driver/include/esp_camera.h")
    main = exported / "esp32s3_eye" / "main"
    text = (main / "main.cc").read_text()
    assert "PIXFORMAT_GRAYSCALE" in text and "FRAMESIZE_QVGA" in text and "c.pin_xclk = 15;" in text
    assert "espressif/esp32-camera" in (main / "idf_component.yml").read_text()
    compile_cxx(main / "main.cc", tmp_path / "main.o", "-std=gnu++17", "-mcpu=cortex-m4", "-mthumb", "-Wall", "-Wextra",
                "-Werror", f"-I{main}", f"-I{camera / 'driver' / 'include'}",
                f"-I{camera / 'conversions' / 'include'}", f"-I{STUBS / 'esp-idf'}")
