${banner}
// Portable example: quantize one 48x48 grayscale frame, run the model, print the label and score.
// Build it with your TensorFlow Lite Micro project (see README.md); replace make_test_frame() with
// your camera's face crop, already resized to ${NAME}_INPUT_COLS x ${NAME}_INPUT_ROWS.

#include <cstdint>
#include <cstdio>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "${name}_data.h"
#include "${name}_ops.h"
#include "${name}_settings.h"

#ifndef TFLITE_SCHEMA_VERSION  // defined by a different header in different TFLM trees
#define TFLITE_SCHEMA_VERSION 3
#endif

// TFLM's cortex_m_generic target (TARGET=cortex_m_generic) sends MicroPrintf's text to a callback the
// application registers, and drops it until one is: this example registers one that writes to stdout
// (retarget newlib's _write to your UART, or link with semihosting). The target's Makefile defines
// TF_LITE_MCU_DEBUG_LOG and CPU_<core>; host, Arduino and other targets print through their own DebugLog.
// Define ${NAME}_DEBUG_LOG_CALLBACK to 1 or 0 to force the choice (e.g. in a vendor build of that target).
#ifndef ${NAME}_DEBUG_LOG_CALLBACK
#if defined(TF_LITE_MCU_DEBUG_LOG) && !defined(ARDUINO) &&                                      \
    (defined(CPU_M0) || defined(CPU_M0plus) || defined(CPU_M3) || defined(CPU_M4) ||            \
     defined(CPU_M7) || defined(CPU_M33) || defined(CPU_M55) || defined(CPU_M85))
#define ${NAME}_DEBUG_LOG_CALLBACK 1
#else
#define ${NAME}_DEBUG_LOG_CALLBACK 0
#endif
#endif

#if ${NAME}_DEBUG_LOG_CALLBACK
#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#endif

namespace {

constexpr int kFramePixels = ${NAME}_INPUT_ROWS * ${NAME}_INPUT_COLS;
alignas(16) uint8_t tensor_arena[${name}::kTensorArenaSize];
uint8_t frame[kFramePixels];

// A stand-in for a camera frame: a diagonal gradient.
void make_test_frame(uint8_t* pixels) {
  for (int y = 0; y < ${NAME}_INPUT_ROWS; ++y) {
    for (int x = 0; x < ${NAME}_INPUT_COLS; ++x) {
      pixels[y * ${NAME}_INPUT_COLS + x] =
          static_cast<uint8_t>((x + y) * 255 / (${NAME}_INPUT_ROWS + ${NAME}_INPUT_COLS - 2));
    }
  }
}

#if ${NAME}_DEBUG_LOG_CALLBACK
void write_debug_log(const char* text) {
  std::fputs(text, stdout);
  std::fflush(stdout);
}
#endif

}  // namespace

int main() {
#if ${NAME}_DEBUG_LOG_CALLBACK
  RegisterDebugLogCallback(write_debug_log);  // before anything can call MicroPrintf
#endif
  tflite::InitializeTarget();
  const tflite::Model* model = tflite::GetModel(${name}_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    MicroPrintf("model schema version %d, this TFLM expects %d", static_cast<int>(model->version()),
                TFLITE_SCHEMA_VERSION);
    return 1;
  }
  static ${name}::OpResolver resolver;
  if (${name}::RegisterOps(resolver) != kTfLiteOk) {
    MicroPrintf("registering the model's ops failed");
    return 1;
  }
  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, sizeof(tensor_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    MicroPrintf("AllocateTensors failed: the arena (%d bytes) is too small", ${name}::kTensorArenaSize);
    return 1;
  }
  MicroPrintf("arena: %d of %d bytes used", static_cast<int>(interpreter.arena_used_bytes()),
              ${name}::kTensorArenaSize);

  make_test_frame(frame);
  TfLiteTensor* input = interpreter.input(0);
  for (int i = 0; i < kFramePixels; ++i) input->data.int8[i] = ${name}_quantize_pixel(frame[i]);

  if (interpreter.Invoke() != kTfLiteOk) {
    MicroPrintf("Invoke failed");
    return 1;
  }
  const int8_t* scores = interpreter.output(0)->data.int8;
  const int best = ${name}_top_class(scores);
  const float score = (scores[best] - ${NAME}_OUTPUT_ZERO_POINT) * ${NAME}_OUTPUT_SCALE;
  MicroPrintf("%s %d%%", ${name}_label(best), static_cast<int>(score * 100.0f + 0.5f));
  return 0;
}
