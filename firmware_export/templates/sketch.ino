${banner}
// Arduino sketch: runs the model on a test frame once a second and prints the label and score.
// Needs the Arduino_TensorFlowLite library (Library Manager) or your board's TFLM port; on ESP32
// boards use the TensorFlowLite_ESP32 library and include <TensorFlowLite_ESP32.h> instead.
// Replace make_test_frame() with your camera's face crop, resized to ${NAME}_INPUT_COLS x ${NAME}_INPUT_ROWS.

#include <TensorFlowLite.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "${name}_data.h"
#include "${name}_ops.h"
#include "${name}_settings.h"

#ifndef TFLITE_SCHEMA_VERSION  // defined by a different header in different TFLM trees
#define TFLITE_SCHEMA_VERSION 3
#endif

namespace {
constexpr int kFramePixels = ${NAME}_INPUT_ROWS * ${NAME}_INPUT_COLS;
alignas(16) uint8_t tensor_arena[${name}::kTensorArenaSize];
uint8_t frame[kFramePixels];
${name}::OpResolver resolver;
tflite::MicroInterpreter* interpreter = nullptr;

void make_test_frame(uint8_t* pixels, int shift) {
  for (int y = 0; y < ${NAME}_INPUT_ROWS; ++y) {
    for (int x = 0; x < ${NAME}_INPUT_COLS; ++x) {
      pixels[y * ${NAME}_INPUT_COLS + x] = static_cast<uint8_t>((x + y + shift) * 4);
    }
  }
}

void fail(const char* what) {
  Serial.println(what);
  while (true) delay(1000);
}
}  // namespace

void setup() {
  Serial.begin(115200);
  while (!Serial && millis() < 3000) {
  }
  const tflite::Model* model = tflite::GetModel(${name}_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) fail("model schema version does not match this TFLM");
  if (${name}::RegisterOps(resolver) != kTfLiteOk) fail("registering the model's ops failed");
  static tflite::MicroInterpreter static_interpreter(model, resolver, tensor_arena, sizeof(tensor_arena));
  interpreter = &static_interpreter;
  if (interpreter->AllocateTensors() != kTfLiteOk) fail("AllocateTensors failed: arena too small");
  Serial.print("arena used: ");
  Serial.println(static_cast<unsigned long>(interpreter->arena_used_bytes()));
}

void loop() {
  static int shift = 0;
  make_test_frame(frame, shift++);
  TfLiteTensor* input = interpreter->input(0);
  for (int i = 0; i < kFramePixels; ++i) input->data.int8[i] = ${name}_quantize_pixel(frame[i]);
  const unsigned long start = micros();
  if (interpreter->Invoke() != kTfLiteOk) fail("Invoke failed");
  const unsigned long elapsed_us = micros() - start;
  const int8_t* scores = interpreter->output(0)->data.int8;
  const int best = ${name}_top_class(scores);
  Serial.print(${name}_label(best));
  Serial.print(" ");
  Serial.print((scores[best] - ${NAME}_OUTPUT_ZERO_POINT) * ${NAME}_OUTPUT_SCALE, 2);
  Serial.print("  (");
  Serial.print(elapsed_us / 1000.0f, 1);
  Serial.println(" ms)");
  delay(1000);
}
