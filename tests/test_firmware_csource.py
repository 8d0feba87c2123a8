"""The generated C/C++ compiles (host gcc/g++ and arm-none-eabi), holds the exact model bytes and values.

TFLM's own headers are not available here (no download), so the op-resolver header and the examples
compile against small stubs of the TFLM API written below; the data and settings files need none.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool

from edge.commands.dispatch import main as fer_edge
from firmware_export import ops
from firmware_export.carray import emit_c_array

WARN = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
NAME = "fer_model"


@pytest.fixture(scope="module")
def exported(tiny_models, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("csource") / "fw"
    assert fer_edge(["export-firmware", str(tiny_models["int8"]), "--out-dir", str(out), "--parity-samples", "20"]) == 0
    return out


def run(cmd: list[str], **kw) -> str:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_emit_c_array_is_exact():
    assert emit_c_array("m", bytes([0, 1, 255]), qualifier="alignas(16)") == (
        "alignas(16) const unsigned char m[] = {\n    0x00, 0x01, 0xff\n};\n")
    text = emit_c_array("m", bytes(range(25)), per_line=12)
    assert text.count("\n") == 5 and text.rstrip().endswith("0x18\n};")


ROUNDTRIP = r"""
#include <stdint.h>
#include <stdio.h>
#include "fer_model_data.h"
int main(int argc, char** argv) {
  FILE* f = fopen(argv[argc - 1], "wb");
  if (!f) return 2;
  fwrite(fer_model_data, 1, fer_model_data_size, f);
  fclose(f);
  printf("%u %u %d\n", fer_model_data_size, FER_MODEL_DATA_SIZE, (int)((uintptr_t)fer_model_data % 16));
  return 0;
}
"""


@pytest.mark.parametrize("compiler, std, source", [
    ("gcc", "-std=c99", "fer_model_data.c"),
    ("gcc", "-std=c11", "fer_model_data.c"),
    ("g++", "-std=c++11", "fer_model_data.cc"),
])
def test_data_file_compiles_and_round_trips_the_model(exported, tiny_models, tmp_path, compiler, std, source):
    cc = require_tool(compiler)
    main = tmp_path / ("main.c" if compiler == "gcc" else "main.cc")
    main.write_text(ROUNDTRIP)
    exe, back = tmp_path / "roundtrip", tmp_path / "back.tflite"
    run([cc, std, *WARN, "-I", exported, main, exported / source, "-o", exe])
    size, macro, misalign = run([exe, back]).split()
    model = tiny_models["int8"].read_bytes()
    assert back.read_bytes() == model
    assert int(size) == int(macro) == len(model) and misalign == "0"
    assert f"SHA-256: {hashlib.sha256(model).hexdigest()}" in (exported / source).read_text()


SETTINGS_PROBE = r"""
#include <stdio.h>
#include "fer_model_settings.h"
int main(void) {
  static const signed char scores[FER_MODEL_NUM_CLASSES] = {-128, 5, 7, 7, -3, 0, 1};
  int i;
  printf("%d %d %d %.9g %d %.9g %d %.9g %.9g %d %d\n", FER_MODEL_INPUT_ROWS, FER_MODEL_INPUT_COLS,
         FER_MODEL_INPUT_CHANNELS, FER_MODEL_INPUT_SCALE, FER_MODEL_INPUT_ZERO_POINT, FER_MODEL_OUTPUT_SCALE,
         FER_MODEL_OUTPUT_ZERO_POINT, FER_MODEL_PIXEL_SCALE, FER_MODEL_PIXEL_OFFSET, FER_MODEL_NUM_CLASSES,
         FER_MODEL_TENSOR_ARENA_SIZE);
  for (i = 0; i <= FER_MODEL_NUM_CLASSES; ++i) printf("%s\n", fer_model_label(i));
  for (i = 0; i < 256; ++i) printf("%d ", fer_model_quantize_pixel((unsigned char)i));
  printf("\n%d\n", fer_model_top_class(scores));
  return 0;
}
"""


@pytest.mark.parametrize("compiler, std, ext", [("gcc", "-std=c99", "c"), ("g++", "-std=c++11", "cc")])
def test_settings_header_compiles_and_holds_the_models_values(exported, tiny_models, tmp_path, compiler, std, ext):
    import numpy as np

    from edge.core.spec import load_spec_for
    from edge.runtime import TFLiteClassifier

    probe = tmp_path / f"probe.{ext}"
    probe.write_text(SETTINGS_PROBE + ("static_assert(fer_model::kTensorArenaSize % 16 == 0, \"aligned\");\n"
                                       if ext == "cc" else ""))
    run([require_tool(compiler), std, *WARN, "-I", exported, probe, "-o", tmp_path / "probe"])
    first, *labels, pixels, top = run([tmp_path / "probe"]).splitlines()
    values = first.split()
    clf, spec = TFLiteClassifier(tiny_models["int8"]), load_spec_for(tiny_models["int8"])
    record = json.loads((exported / "export.json").read_text())
    assert [int(v) for v in values[:3]] == [48, 48, 1]
    assert float(values[3]) == np.float32(clf.input_quant.scale) and int(values[4]) == clf.input_quant.zero_point
    assert float(values[5]) == np.float32(clf.output_quant.scale) and int(values[6]) == clf.output_quant.zero_point
    assert float(values[7]) == np.float32(spec.pixel_scale) and float(values[8]) == spec.pixel_offset
    assert int(values[9]) == spec.num_classes
    assert int(values[10]) == record["arena"]["recommended"] and int(values[10]) % 16 == 0
    assert labels == [*spec.labels, "?"]
    # the firmware's pixel -> int8 input is exactly edge.core.preprocess + TFLiteClassifier.quantize_input
    from edge.core.preprocess import normalize

    expected = clf.quantize_input(normalize(np.arange(256, dtype=np.uint8), spec)).reshape(-1)
    assert [int(v) for v in pixels.split()] == expected.tolist()
    assert int(top) == 2


def resolver_stub(root: Path) -> Path:
    """A stand-in for TFLM's micro_mutable_op_resolver.h that records the Add* calls."""
    methods = "\n".join(f'  TfLiteStatus {m}() {{ return Add("{m}"); }}' for m in sorted(set(ops.TFLM_OPS.values())))
    header = root / "tensorflow/lite/micro/micro_mutable_op_resolver.h"
    header.parent.mkdir(parents=True, exist_ok=True)
    header.write_text(f"""#pragma once
typedef enum {{ kTfLiteOk = 0, kTfLiteError = 1 }} TfLiteStatus;
namespace tflite {{
class MicroOpResolver {{}};
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {{
 public:
{methods}
  unsigned int count() const {{ return len_; }}
  const char* name(unsigned int i) const {{ return names_[i]; }}
 private:
  TfLiteStatus Add(const char* n) {{
    if (len_ >= tOpCount) return kTfLiteError;
    names_[len_++] = n;
    return kTfLiteOk;
  }}
  const char* names_[tOpCount] = {{}};
  unsigned int len_ = 0;
}};
}}  // namespace tflite
""")
    return root


def test_ops_header_registers_exactly_the_models_ops(exported, tiny_models, tmp_path):
    from test_firmware_model import litert_ops

    stub = resolver_stub(tmp_path / "stub")
    probe = tmp_path / "ops.cc"
    probe.write_text('#include <cstdio>\n#include "fer_model_ops.h"\nint main() {\n'
                     "  static fer_model::OpResolver r;\n  const TfLiteStatus s = fer_model::RegisterOps(r);\n"
                     '  std::printf("%u %u %d\\n", fer_model::kNumOps, r.count(), static_cast<int>(s));\n'
                     '  for (unsigned int i = 0; i < r.count(); ++i) std::printf("%s\\n", r.name(i));\n}\n')
    run([require_tool("g++"), "-std=c++11", *WARN, "-I", stub, "-I", exported, probe, "-o", tmp_path / "ops"])
    first, *called = run([tmp_path / "ops"]).splitlines()
    expected = [ops.TFLM_OPS[op] for op in dict.fromkeys(litert_ops(tiny_models["int8"]))]
    assert first.split() == [str(len(expected)), str(len(expected)), "0"]
    assert called == expected


TFLM_STUBS = {
    "tensorflow/lite/schema/schema_generated.h": """#pragma once
#include <cstdint>
namespace tflite { struct Model { uint32_t version() const; }; const Model* GetModel(const void* buf); }
""",
    "tensorflow/lite/micro/micro_interpreter.h": """#pragma once
#include <cstddef>
#include <cstdint>
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
struct TfLiteTensor { union { int8_t* int8; float* f; } data; };
namespace tflite {
class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& resolver, uint8_t* arena, size_t arena_size);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor* input(size_t index);
  TfLiteTensor* output(size_t index);
  size_t arena_used_bytes() const;
};
}  // namespace tflite
""",
    "tensorflow/lite/micro/micro_log.h": "#pragma once\nvoid MicroPrintf(const char* format, ...);\n",
    "tensorflow/lite/micro/system_setup.h": "#pragma once\nnamespace tflite { void InitializeTarget(); }\n",
    "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h": """#pragma once
extern "C" { typedef void (*DebugLogCallback)(const char* s); void RegisterDebugLogCallback(DebugLogCallback cb); }
""",
    "TensorFlowLite.h": """#pragma once
#include <cmath>
#include <cstdint>
struct SerialStub { void begin(long); explicit operator bool() const; void print(const char*);
  void print(float, int); void println(const char*); void println(unsigned long); };
extern SerialStub Serial;
void delay(unsigned long ms);
unsigned long millis();
unsigned long micros();
""",
}


# TFLM's cortex_m_generic target defines these; there main.cc must register a debug-log callback
CORTEX_M_GENERIC = ["-DTF_LITE_MCU_DEBUG_LOG", "-DCPU_M4=1"]


@pytest.mark.parametrize("example, defines", [("main.cc", []), ("main.cc", CORTEX_M_GENERIC),
                                              ("arduino/fer_model/fer_model.ino", [])])
def test_examples_compile_against_the_tflm_api(exported, tmp_path, example, defines):
    """Syntax and API use of main.cc and the sketch, against stubs of the TFLM calls they make."""
    stub = resolver_stub(tmp_path / "stub")
    for rel, text in TFLM_STUBS.items():
        (stub / rel).parent.mkdir(parents=True, exist_ok=True)
        (stub / rel).write_text(text)
    source = exported / example
    cmd = [require_tool("g++"), "-std=c++11", *WARN, *defines, "-x", "c++", "-I", stub, "-I", source.parent]
    run([*cmd, "-fsyntax-only", source])
    # which TFLM functions the example calls: the callback is registered on cortex_m_generic only
    calls = run([*cmd, "-E", source])
    assert ("RegisterDebugLogCallback(write_debug_log)" in calls) == (defines == CORTEX_M_GENERIC)


def test_sketch_folder_is_self_contained(exported):
    sketch = exported / "arduino" / NAME
    for name in ("fer_model_data.h", "fer_model_data.c", "fer_model_settings.h", "fer_model_ops.h"):
        assert (sketch / name).read_bytes() == (exported / name).read_bytes()
    assert not list(sketch.glob("*.cc")), "Arduino would compile the model twice"


def test_data_file_cross_compiles_for_cortex_m4(exported, tiny_models, tmp_path):
    cc, size_tool, objdump = (require_tool(t) for t in ("arm-none-eabi-gcc", "arm-none-eabi-size",
                                                        "arm-none-eabi-objdump"))
    obj = tmp_path / "data.o"
    run([cc, "-mcpu=cortex-m4", "-mthumb", "-Os", "-std=c99", *WARN, "-fdata-sections", "-c",
         exported / "fer_model_data.c", "-o", obj])
    sections = dict(re.findall(r"^(\.rodata\S*)\s+(\d+)", run([size_tool, "-A", obj]), re.M))
    model = len(tiny_models["int8"].read_bytes())
    array = int(sections[f".rodata.{NAME}_data"])
    assert model <= array < model + 16, sections
    assert sum(int(v) for v in sections.values()) < model + 64
    headers = run([objdump, "-h", obj])
    align = re.search(rf"\.rodata\.{NAME}_data\s.*?\s2\*\*(\d+)", headers)
    assert align and int(align.group(1)) >= 4, headers  # 2**4 = 16-byte alignment
    print(f"arm-none-eabi sections of {NAME}_data.o: {sections} (model {model} bytes), alignment 2**{align.group(1)}")


def test_settings_header_escapes_any_label(tmp_path):
    """Labels are plain class names (the spec refuses '/', '\\' and control characters), but quotes,
    apostrophes, trigraphs and UTF-8 survive into C."""
    from edge.core.spec import ModelSpec, Quant
    from firmware_export.settings import emit_settings_header, settings_from

    labels = ('say "hi"', "it's", "what??=", "naïve", "😀")
    spec = ModelSpec(labels=labels)
    header = emit_settings_header("odd", settings_from(spec, Quant(0.5, 3), Quant(0.25, -1), 1024, "test"), "// t")
    (tmp_path / "odd_settings.h").write_text(header)
    probe = tmp_path / "probe.c"
    probe.write_text('#include <stdio.h>\n#include "odd_settings.h"\n'
                     'int main(void) { int i; for (i = 0; i < ODD_NUM_CLASSES; ++i) printf("%s\\n", odd_label(i)); '
                     "return 0; }\n")
    run([require_tool("gcc"), "-std=c99", *WARN, "-I", tmp_path, probe, "-o", tmp_path / "probe"])
    out = subprocess.run([tmp_path / "probe"], capture_output=True, check=True).stdout.decode("utf-8")
    assert out.splitlines() == list(labels)
