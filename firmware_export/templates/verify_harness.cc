// fer-edge --verify-tflm harness (generated, not part of the export): runs int8 input tensors from a
// file through the exported model in TFLM's C++ interpreter, as a firmware would set it up, and writes
// the int8 outputs. Usage: harness INPUTS.bin OUTPUTS.bin
// Exit 3: AllocateTensors failed (the exported arena is too small); 1: any other failure.

#include <cstdint>
#include <cstdio>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "${name}_data.h"
#include "${name}_ops.h"
#include "${name}_settings.h"

namespace {
alignas(16) uint8_t tensor_arena[${name}::kTensorArenaSize];
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s INPUTS.bin OUTPUTS.bin\n", argv[0]);
    return 1;
  }
  static ${name}::OpResolver resolver;
  if (${name}::RegisterOps(resolver) != kTfLiteOk) {
    std::fprintf(stderr, "registering the model's ops failed\n");
    return 1;
  }
  static tflite::MicroInterpreter interpreter(tflite::GetModel(${name}_data), resolver, tensor_arena,
                                              sizeof(tensor_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) {
    std::fprintf(stderr, "AllocateTensors failed with a %d-byte arena\n", static_cast<int>(sizeof(tensor_arena)));
    return 3;
  }
  TfLiteTensor* input = interpreter.input(0);
  TfLiteTensor* output = interpreter.output(0);
  std::FILE* in = std::fopen(argv[1], "rb");
  std::FILE* out = std::fopen(argv[2], "wb");
  if (in == nullptr || out == nullptr) {
    std::fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
    return 1;
  }
  int count = 0;
  while (std::fread(input->data.int8, 1, input->bytes, in) == input->bytes) {
    if (interpreter.Invoke() != kTfLiteOk) {
      std::fprintf(stderr, "Invoke failed on input %d\n", count);
      return 1;
    }
    if (std::fwrite(output->data.int8, 1, output->bytes, out) != output->bytes) return 1;
    ++count;
  }
  std::fclose(in);
  if (std::fclose(out) != 0) return 1;
  std::printf("inputs %d input_bytes %d output_bytes %d\n", count, static_cast<int>(input->bytes),
              static_cast<int>(output->bytes));
  std::printf("arena_used_bytes %d\n", static_cast<int>(interpreter.arena_used_bytes()));
  return 0;
}
