// fer-edge --measure-m4 --locator firmware (generated, not part of the export): runs the exported
// ${name}::process_frame on camera frames built into the firmware, timing each part with the board's 25 MHz
// timer 0 (under qemu-system-arm -icount shift=0 one tick is 40 instructions; a spin loop of known length
// calibrates that first). The first frame is processed once untimed (it sets the interpreters up). Prints
// "calibration <instructions> <ticks>", then per frame
//   "frame <i> <faces> ticks <downscale> <locator> <decode> <crop> <classifier> <total>"
//   "face <x> <y> <w> <h> <crop x0> <crop y0> <crop x1> <crop y1> <face score> <label> <int8 scores...>"
// then "arena <locator bytes used> <classifier bytes used>", and exits through semihosting (0 = all ran).

#include <cstdint>
#include <cstdio>

#include "tensorflow/lite/micro/cortex_m_generic/debug_log_callback.h"
#include "tensorflow/lite/micro/micro_log.h"

#include "${name}_pipeline.h"
#include "pipeline_frames.h"

extern "C" {
void fer_semihost_write(const char* text);
void fer_timer_start(void);
uint32_t fer_timer_elapsed(void);
void fer_spin(uint32_t n);
}

namespace {
constexpr uint32_t kSpin = 1000000;  // 2,000,000 instructions
${name}::FrameResult result;
}  // namespace

int main() {
  RegisterDebugLogCallback(fer_semihost_write);
  fer_timer_start();
  const uint32_t before = fer_timer_elapsed();
  fer_spin(kSpin);
  MicroPrintf("calibration %lu %lu", static_cast<unsigned long>(2 * kSpin),
              static_cast<unsigned long>(fer_timer_elapsed() - before));
  int status = ${name}::process_frame(kFramePixels[0], kFrameSize[0][0], kFrameSize[0][1], &result);
  if (status < 0) {
    MicroPrintf("error: %s", ${name}::status_message(status));
    return status == ${name}::kArenaTooSmall ? 3 : 1;
  }
  for (int i = 0; i < kNumFrames; ++i) {
    const uint32_t start = fer_timer_elapsed();
    status = ${name}::process_frame(kFramePixels[i], kFrameSize[i][0], kFrameSize[i][1], &result, fer_timer_elapsed);
    const uint32_t total = fer_timer_elapsed() - start;
    if (status < 0) {
      MicroPrintf("error: frame %d: %s", i, ${name}::status_message(status));
      return 1;
    }
    const ${name}::PartTicks& t = result.ticks;
    MicroPrintf("frame %d %d ticks %lu %lu %lu %lu %lu %lu", i, status, static_cast<unsigned long>(t.downscale),
                static_cast<unsigned long>(t.locator), static_cast<unsigned long>(t.decode),
                static_cast<unsigned long>(t.crop), static_cast<unsigned long>(t.classifier),
                static_cast<unsigned long>(total));
    for (int f = 0; f < status; ++f) {
      const ${name}::Face& face = result.faces[f];
      char line[200];
      int n = std::snprintf(line, sizeof(line), "face %d %d %d %d %d %d %d %d %d %d", face.x, face.y, face.w, face.h,
                            face.crop_x0, face.crop_y0, face.crop_x1, face.crop_y1, face.face_score, face.label);
      for (int c = 0; c < ${name}::kNumClasses && n < static_cast<int>(sizeof(line)) - 8; ++c) {
        n += std::snprintf(line + n, sizeof(line) - n, " %d", face.scores[c]);
      }
      MicroPrintf("%s", line);
    }
  }
  MicroPrintf("arena %d %d", ${name}::locator_arena_used(), ${name}::classifier_arena_used());
  return 0;
}
