"""``export-firmware --locator``: the face locator exported beside the expression model, and the C++ pipeline.

The locator is checked like the expression model (a full-int8 TFLite model, ops TFLM has, its spec beside it
and describing it), its tensor arena is measured in tflite-micro the same way, and the export gains:

- ``<name>_locator_data.h/.cc``, ``<name>_locator_ops.h``, ``<name>_locator_settings.h`` (input size, pixel
  quantization, the decoding constants of ``edge.locator.DecodeParams``, the arena size);
- ``<name>_pipeline.h/.cc`` and ``fer_image.h``: ``<name>::process_frame(gray, width, height, &result)``, the
  C++ of ``edge.frame_pipeline`` (frame -> locator -> boxes -> framed crops -> expressions).

Pure functions from the loaded facts to text; ``export.py`` writes them, ``pipeline_verify`` and
``pipeline_m4`` build them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from string import Template

from edge.core.errors import UserError
from edge.core.locator_spec import LocatorSpec, load_locator_spec_for
from edge.core.pixels import c_float, c_quantize_pixel
from edge.core.spec import ModelSpec
from edge.locator import DecodeParams
from firmware_export import arena as arena_mod
from firmware_export.carray import data_header, data_source
from firmware_export.ops import emit_ops_header, resolver_methods
from firmware_export.render import banner
from firmware_export.tflite_model import ModelInfo, read_model

OPTION = "--locator"


@dataclass(frozen=True)
class Locator:
    path: Path
    data: bytes
    info: ModelInfo
    spec: LocatorSpec
    params: DecodeParams
    arena: arena_mod.ArenaMeasurement

    @property
    def arena_size(self) -> int:
        return self.arena.recommended


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def check_locator(label: str, info: ModelInfo, spec: LocatorSpec) -> None:
    """The spec beside the locator must describe it: input, grid and quantization."""
    rows, cols = spec.grid
    want_in, want_out = (1, spec.input_height, spec.input_width, 1), (1, rows, cols, len(spec.channels))
    if info.input.shape != want_in:
        raise UserError(f"{label}: model input is {_shape(info.input.shape)}, its spec says {_shape(want_in)}")
    if info.output.shape != want_out:
        raise UserError(f"{label}: model output is {_shape(info.output.shape)}, its spec's grid is {_shape(want_out)} "
                        f"(stride {spec.stride}, channels {', '.join(spec.channels)})")
    if not spec.is_quantized:
        raise UserError(f"{label}: its spec records no int8 quantization (the spec of a float locator); use the "
                        "face_locator_int8.tflite that 'fer-edge quantize' writes, with its spec")
    for what, model_q, spec_q in (("input", info.input.quant, spec.input_quant),
                                  ("output", info.output.quant, spec.output_quant)):
        if abs(model_q.scale - spec_q.scale) > 1e-6 * model_q.scale or model_q.zero_point != spec_q.zero_point:
            raise UserError(f"{label}: the model's {what} quantization (scale {model_q.scale:.9g}, zero point "
                            f"{model_q.zero_point}) differs from its spec's (scale {spec_q.scale:.9g}, zero point "
                            f"{spec_q.zero_point}); the spec does not belong to this model")


def load_locator(path: str | Path) -> Locator:
    """Read, check and measure the face locator (every failure a one-line UserError naming ``--locator``)."""
    path = Path(path)
    label = f"{OPTION} {path}"
    if not path.is_file():
        raise UserError(f"{label}: no such file (expected the face locator's int8 .tflite, e.g. "
                        "models/face_locator_int8.tflite)")
    data = path.read_bytes()
    info = read_model(data, label)  # refuses float, dynamic-range, damaged and multi-output models
    resolver_methods(info.ops, label)
    try:
        spec = load_locator_spec_for(path)
    except UserError as e:
        raise UserError(f"{OPTION}: {e}") from None
    check_locator(label, info, spec)
    params = DecodeParams.from_spec(spec)
    probe = info.activation_bytes * 2 + info.size * 2 + 256 * 1024
    arena = arena_mod.measure_arena(data, probe, arena_mod.optimized_scratch_bytes(info.layers),
                                    info.input.shape, label)
    return Locator(path, data, info, spec, params, arena)


def c_double(value: float) -> str:
    """A C ``double`` literal of a Python float, exactly (repr round-trips)."""
    text = repr(float(value))
    return text if any(c in text for c in ".en") else text + ".0"


def emit_locator_settings(loc: str, locator: Locator, banner: str) -> str:
    """``<loc>_settings.h``: input, pixel quantization, decoding constants and arena of the locator."""
    L, s, p = loc.upper(), locator.spec, locator.params
    guard = f"{L}_SETTINGS_H_"
    return f"""{banner}
#ifndef {guard}
#define {guard}

#include <math.h>

// Input: one {s.input_height}x{s.input_width}x1 int8 tensor, the grayscale frame shrunk to that size (integer
// area resize, fer_image.h); each pixel p (0..255) becomes {loc}_quantize_pixel(p).
#define {L}_INPUT_ROWS {s.input_height}
#define {L}_INPUT_COLS {s.input_width}
#define {L}_PIXEL_SCALE {c_float(s.pixel_scale)}
#define {L}_PIXEL_OFFSET {c_float(s.pixel_offset)}
#define {L}_INPUT_SCALE {c_float(s.input_quant.scale)}
#define {L}_INPUT_ZERO_POINT ({s.input_quant.zero_point})

// Output: a {p.grid_rows}x{p.grid_cols} grid (one cell per {s.stride}x{s.stride} input pixels) of 5 int8 channels:
// {", ".join(s.channels)}; scale {s.output_quant.scale:.9g}, zero point {s.output_quant.zero_point}.
// Decoding (edge.locator.DecodeParams, derived once from the spec): a cell is a face centre when its score is
// at least {L}_SCORE_MIN (sigmoid >= {s.score_threshold:g}) and a local peak; sizes in 1/16 input pixels
// are (q - zero point) * {L}_BOX_MULT >> 16; boxes overlapping a better one by IoU > {L}_NMS_PCT % go.
#define {L}_STRIDE {s.stride}
#define {L}_GRID_ROWS {p.grid_rows}
#define {L}_GRID_COLS {p.grid_cols}
#define {L}_OUTPUT_SCALE {c_float(s.output_quant.scale)}
#define {L}_OUTPUT_ZERO_POINT ({p.zero_point})
#define {L}_SCORE_MIN ({p.score_min})
#define {L}_BOX_MULT {p.box_mult}LL
#define {L}_NMS_PCT {p.nms_pct}
#define {L}_MAX_FACES {p.max_faces}

// Recommended tensor arena in bytes: {locator.arena.note}
#define {L}_TENSOR_ARENA_SIZE {locator.arena_size}

// One pixel (0..255) of the shrunk frame -> the locator's int8 input value.
{c_quantize_pixel(loc, L)}

// The face probability of an int8 score (for display: the pipeline itself compares integers).
static inline float {loc}_face_probability(int score) {{
  return 1.0f / (1.0f + expf(-(float)(score - {L}_OUTPUT_ZERO_POINT) * {L}_OUTPUT_SCALE));
}}

#ifdef __cplusplus
namespace {loc} {{
constexpr int kTensorArenaSize = {L}_TENSOR_ARENA_SIZE;
}}  // namespace {loc}
#endif

#endif  // {guard}
"""


def template(name: str) -> str:
    return resources.files("firmware_export").joinpath("templates", name).read_text(encoding="utf-8")


def render_pipeline_files(name: str, locator: Locator, spec: ModelSpec, info: ModelInfo,
                          model_file: str) -> dict[str, str]:
    """Relative path -> text of the locator's and the pipeline's files (``spec``: the expression model's)."""
    loc = f"{name}_locator"
    margin = spec.face_framing.margin
    subs = dict(name=name, NAME=name.upper(), loc=loc, LOC=loc.upper(), margin=c_double(margin),
                margin_text=f"{margin:g} of the side", loc_file=locator.path.name, model_file=model_file)

    def loc_banner(filename: str) -> str:
        return banner(filename, locator.info, locator.path.name)

    def pipeline(filename: str) -> str:
        head = banner(filename, info, model_file) + f"\n// Face locator: {locator.path.name} (SHA-256 {locator.info.sha256})"
        return Template(template(filename.replace(f"{name}_", "", 1))).substitute(subs, banner=head)

    return {
        f"{loc}_data.h": data_header(loc, locator.info.size, loc_banner(f"{loc}_data.h")),
        f"{loc}_data.cc": data_source(loc, locator.data, loc_banner(f"{loc}_data.cc"), language="c++"),
        f"{loc}_data.c": data_source(loc, locator.data, loc_banner(f"{loc}_data.c"), language="c"),
        f"{loc}_ops.h": emit_ops_header(loc, locator.info.ops, loc_banner(f"{loc}_ops.h")),
        f"{loc}_settings.h": emit_locator_settings(loc, locator, loc_banner(f"{loc}_settings.h")),
        f"{name}_pipeline.h": pipeline(f"{name}_pipeline.h"),
        f"{name}_pipeline.cc": pipeline(f"{name}_pipeline.cc"),
        "fer_image.h": template("fer_image.h"),
    }


def locator_record(locator: Locator) -> dict:
    info = locator.info
    return {"file": locator.path.name, "bytes": info.size, "sha256": info.sha256, "ops": info.op_counts,
            "macs": info.macs, "input": list(info.input.shape), "output": list(info.output.shape),
            "decode": locator.params.to_dict(), "arena": {**asdict(locator.arena), "used": locator.arena.used}}


def count_text(instructions: int) -> str:
    """An instruction count for a table: millions with two decimals, or thousands below 10,000."""
    return f"{instructions / 1e6:.2f} M" if instructions >= 10_000 else f"{instructions / 1e3:.1f} K"


def _ms(instructions: int, mhz: float, cpi: float) -> float:
    return instructions * cpi / (mhz * 1e3)


def pipeline_readme(name: str, record: dict, clocks: dict[str, float]) -> str:
    """The README section of the camera pipeline, from export.json's ``pipeline`` record."""
    loc = record["locator"]
    lines = [
        "", "## The camera pipeline: a grayscale frame in, faces and expressions out", "",
        f"`{name}_pipeline.h` / `{name}_pipeline.cc` (with `fer_image.h`, the `{name}_locator_*` files of the face "
        f"locator `{loc['file']}` and this model's files) give one call:", "",
        "```c++", f'#include "{name}_pipeline.h"',
        f"{name}::FrameResult result;",
        f"int n = {name}::process_frame(gray, width, height, &result);  // faces found, or a negative status",
        f"for (int i = 0; i < n; ++i) {{ const {name}::Face& f = result.faces[i];  // f.x f.y f.w f.h, f.label, f.score",
        f'  printf("%s %d%% at %d,%d %dx%d\\n", {name}_label(f.label), (int)(f.score * 100 + 0.5f), f.x, f.y, f.w, f.h); }}',
        "```", "",
        f"It shrinks the frame (at least {loc['input'][2]}x{loc['input'][1]}, at most 2048 pixels a side) into the "
        f"locator's input, runs the locator ({loc['macs']:,} MACs), decodes its {loc['output'][1]}x{loc['output'][2]} "
        "grid into faces, cuts each face from the full-resolution frame with this model's framing, resizes it "
        "(integer area resize), quantizes and classifies it: fer-edge's `edge.frame_pipeline`, byte for byte. "
        f"Tensor arenas: locator {loc['arena']['recommended']:,} bytes ({loc['arena']['used']:,} measured), this "
        "model's as above; both are static.", "",
        "### Board examples", "",
        f"- `arduino/{name}_camera/`: Arduino Nano 33 BLE Sense (Lite) with the OV7675 of the TinyML kit. Libraries: "
        "Arduino_OV767X and Arduino_TensorFlowLite. Grayscale QQVGA (160x120) at the 5 frames a second the camera "
        "library allows on this board; prints label, score, box and milliseconds per frame at 115200 baud and shows "
        "the first face's expression on the RGB LED.",
        "- `esp32s3_eye/`: an ESP-IDF (>= 5.1) project for the ESP32-S3-EYE: esp32-camera, grayscale QVGA (320x240) "
        "in PSRAM, espressif/esp-tflite-micro; prints the same line per frame on the console (`idf.py build flash "
        "monitor`). The LCD is not used.",
        "",
        "What fer-edge checked: both compile with `arm-none-eabi-g++` against the camera libraries' real headers "
        "(Arduino_OV767X e5dd28f, esp32-camera 2ac69a6), with the Arduino core and ESP-IDF declarations stood in for "
        "(fer-edge's `tests/test_firmware_boards.py`), and the sketch's pipeline compiles for the Nano's Cortex-M4F "
        "against TFLM's headers. Neither was built with its board's own toolchain (Arduino mbed core, ESP-IDF's "
        "Xtensa compiler), flashed or run on a board; the pipeline they call is the one `--verify-tflm` and "
        "`--measure-m4` check and count.",
        ""]
    parity = record.get("parity")
    if parity:
        lines += [f"**Checked** against TFLM's C++ (`--verify-tflm`, tree {str(parity['tflm_commit'])[:12]}) on "
                  f"{parity['frames_compared']} frames of {parity['video']} at {', '.join(parity['sizes'])}: "
                  f"{parity['frames_identical']} identical to the Python reference (same boxes, crops and int8 "
                  f"scores; {parity['faces']} faces in {parity['frames_with_faces']} frames). C++ arenas used: "
                  f"locator {parity['locator_arena_used']:,}, expression model {parity['classifier_arena_used']:,} "
                  "bytes.", ""]
    counted = record.get("measure_m4")
    if counted:
        lines += [f"**Counted** on an emulated Cortex-M4 (`--measure-m4`, QEMU `{counted['machine']}`, `-icount`), "
                  "instructions per frame (median of the frames listed in export.json, `pipeline.measure_m4`):", "",
                  "| kernels | frame | faces | shrink | locator | decode | crop+resize | expression model | total |"
                  " " + " | ".join(f"fps at {mhz:g} MHz ({label})" for label, mhz in clocks.items()) + " |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(clocks)]
        for k in ("cmsis_nn", "reference"):
            for size, p in counted.get(k, {}).get("per_size", {}).items():
                fps = [f"{1000 / _ms(p['total'], mhz, 1.4):.1f}-{1000 / _ms(p['total'], mhz, 1.0):.1f}"
                       for mhz in clocks.values()]
                cells = [count_text(p[part]) for part in ("downscale", "locator", "decode", "crop", "classifier")]
                lines.append(f"| {'CMSIS-NN' if k == 'cmsis_nn' else 'reference'} | {size} | "
                             f"{'/'.join(map(str, p['faces']))} | " + " | ".join(cells)
                             + f" | **{p['total'] / 1e6:.2f} M** | " + " | ".join(fps) + " |")
        agree = counted.get("agreement")
        lines += ["", "Frames per second assume 1.4-1.0 cycles per instruction (QEMU counts instructions, not cycles) "
                  "and no camera wait. The reference-kernel build gives the Python reference's faces and scores on "
                  f"{counted['python_identical']} of {len(counted['frames'])} frames"
                  + (f"; CMSIS-NN's equal the reference kernels' on {agree['frames_identical']} of {agree['frames']} "
                     f"(largest score difference {agree['max_lsb_diff']} LSB)" if agree else "") + ".", ""]
    return "\n".join(lines)


#: the camera setting each board example uses: (library constant, width, height)
NANO_CAMERA = ("QQVGA", 160, 120)  # Arduino_OV767X: QQVGA 160x120 (QCIF 176x144 also works: set kResolution)
ESP32_CAMERA = ("FRAMESIZE_QVGA", 320, 240)  # esp32-camera


def board_files(name: str, files: dict[str, str]) -> dict[str, str]:
    """The board examples (Nano 33 BLE Sense + OV7675 sketch, ESP32-S3-EYE ESP-IDF project), each folder
    holding the exported files it compiles, from ``files`` (the model's and the pipeline's)."""
    loc = f"{name}_locator"
    headers = [f"{name}_pipeline.h", "fer_image.h", f"{name}_settings.h", f"{name}_ops.h", f"{name}_data.h",
               f"{loc}_settings.h", f"{loc}_ops.h", f"{loc}_data.h"]
    out: dict[str, str] = {}
    const, w, h = NANO_CAMERA
    sketch = f"arduino/{name}_camera"
    out[f"{sketch}/{name}_camera.ino"] = Template(template("nano_camera.ino")).substitute(
        banner=f"// {name}_camera.ino: generated by fer-edge export-firmware; do not edit, re-export.", name=name,
        camera_resolution=const, camera_size=f"{w}x{h}", camera_bytes=w * h)
    for rel in headers:
        out[f"{sketch}/{rel}"] = files[rel]
    out[f"{sketch}/{name}_pipeline.cpp"] = files[f"{name}_pipeline.cc"]  # the Arduino IDE compiles .cpp and .c
    out[f"{sketch}/{name}_data.c"] = files[f"{name}_data.c"]
    out[f"{sketch}/{loc}_data.c"] = files[f"{loc}_data.c"]
    const, w, h = ESP32_CAMERA
    esp = "esp32s3_eye"
    subs = dict(name=name, camera_framesize=const, camera_size=f"{w}x{h}",
                banner="// main.cc: generated by fer-edge export-firmware; do not edit, re-export.")
    out[f"{esp}/CMakeLists.txt"] = Template(template("esp32s3_eye/CMakeLists.txt")).substitute(subs)
    out[f"{esp}/sdkconfig.defaults"] = template("esp32s3_eye/sdkconfig.defaults")
    out[f"{esp}/main/CMakeLists.txt"] = Template(template("esp32s3_eye/main_CMakeLists.txt")).substitute(subs)
    out[f"{esp}/main/idf_component.yml"] = template("esp32s3_eye/idf_component.yml")
    out[f"{esp}/main/main.cc"] = Template(template("esp32s3_eye/main.cc")).substitute(subs)
    for rel in [*headers, f"{name}_pipeline.cc", f"{name}_data.cc", f"{loc}_data.cc"]:
        out[f"{esp}/main/{rel}"] = files[rel]
    return out
