// fer-edge --measure-m4 firmware (generated, not part of the export): sets the exported model up as a
// firmware would, then times Invoke() on each built-in input with the board's timer 0. Under
// qemu-system-arm -icount shift=0 every instruction advances the virtual clock by 1 ns, so one tick
// of the 25 MHz timer is 40 instructions; a spin loop of known length calibrates that ratio first.
// Prints "calibration <instructions> <ticks>", "arena_used_bytes <n>", then per input
// "input <i> ticks <t> output <v0> <v1> ..." (the first 40 values), and exits through semihosting (0 = all ran).

#include <cstdint>
#include <cstdio>

#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "${name}_data.h"
#include "${name}_ops.h"
#include "${name}_settings.h"
#include "measure_inputs.h"

extern "C" {
void fer_semihost_write(const char* text);
void fer_timer_start(void);
uint32_t fer_timer_elapsed(void);
void fer_spin(uint32_t n);
}

namespace {
alignas(16) uint8_t tensor_arena[${name}::kTensorArenaSize];
constexpr uint32_t kSpin = 1000000;  // 2,000,000 instructions
}  // namespace

int main() {
  RegisterDebugLogCallback(fer_semihost_write);
  fer_timer_start();
  const uint32_t before = fer_timer_elapsed();
  fer_spin(kSpin);
  MicroPrintf("calibration %lu %lu", static_cast<unsigned long>(2 * kSpin),
              static_cast<unsigned long>(fer_timer_elapsed() - before));

  static ${name}::OpResolver resolver;
  if (${name}::RegisterOps(resolver) != kTfLiteOk) {
    MicroPrintf("error: registering the model's ops failed");
    return 1;
  }
  static tflite::MicroInterpreter interpreter(tflite::GetModel(${name}_data), resolver, tensor_arena,
                                              sizeof(tensor_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    MicroPrintf("error: AllocateTensors failed with a %d-byte arena", static_cast<int>(sizeof(tensor_arena)));
    return 3;
  }
  MicroPrintf("arena_used_bytes %d", static_cast<int>(interpreter.arena_used_bytes()));
  TfLiteTensor* input = interpreter.input(0);
  TfLiteTensor* output = interpreter.output(0);
  for (int i = 0; i < kMeasureInputs; ++i) {
    for (size_t j = 0; j < input->bytes; ++j) input->data.int8[j] = kMeasureInput[i][j];
    const uint32_t start = fer_timer_elapsed();
    const TfLiteStatus status = interpreter.Invoke();
    const uint32_t ticks = fer_timer_elapsed() - start;
    if (status != kTfLiteOk) {
      MicroPrintf("error: Invoke failed on input %d", i);
      return 1;
    }
    char line[240];  // DebugLog formats at most 256 bytes
    int n = std::snprintf(line, sizeof(line), "input %d ticks %lu output", i, static_cast<unsigned long>(ticks));
    for (size_t j = 0; j < output->bytes && j < 40; ++j) {
      n += std::snprintf(line + n, sizeof(line) - n, " %d", static_cast<int>(output->data.int8[j]));
    }
    MicroPrintf("%s", line);
  }
  return 0;
}
