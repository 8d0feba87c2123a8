${banner}
// The camera-to-expression pipeline: one call per grayscale frame finds the faces with the face locator
// ($loc_file) and reads each one's expression with the expression model ($model_file).
//
//   ${name}::FrameResult result;
//   int n = ${name}::process_frame(gray, width, height, &result);  // n faces, or a negative status
//   for (int i = 0; i < n; ++i) print(${name}_label(result.faces[i].label), result.faces[i].score, ...);
//
// What it computes is fer-edge's Python edge.frame_pipeline, step for step and byte for byte (checked on
// the frames of a video by export-firmware --verify-tflm --parity-video): the frame shrunk to the locator's
// ${LOC}_INPUT_COLS x ${LOC}_INPUT_ROWS input (integer area resize), the locator's grid decoded into boxes
// (integers), each face cut from the full-resolution frame as the expression model was trained (the square
// box, margin $margin_text), resized to ${NAME}_INPUT_COLS x ${NAME}_INPUT_ROWS (integer area resize),
// quantized and classified. Frames must be at least the locator's input and at most 2048 pixels a side.
// Memory: the two tensor arenas (${loc}::kTensorArenaSize + ${name}::kTensorArenaSize bytes) and a few
// hundred bytes of scratch, all static; no heap. Not reentrant: call it from one thread.
#ifndef ${NAME}_PIPELINE_H_
#define ${NAME}_PIPELINE_H_

#include <stdint.h>

#include "${loc}_settings.h"
#include "${name}_settings.h"

namespace ${name} {

constexpr int kMaxFaces = ${LOC}_MAX_FACES;

struct Face {
  int x, y, w, h;              // the face the locator found, in frame pixels
  int crop_x0, crop_y0;        // the rectangle [crop_x0, crop_x1) x [crop_y0, crop_y1) of the frame the
  int crop_x1, crop_y1;        //   expression model read (the square framing of its spec)
  int face_score;              // the locator's int8 score of the face; ${loc}_face_probability() converts it
  int label;                   // index of the highest expression score; ${name}_label(label) names it
  float score;                 // that score as a probability (0..1)
  int8_t scores[kNumClasses];  // the expression model's int8 outputs
};

// Ticks of the clock passed to process_frame spent in each part (all faces together), 0 without a clock.
struct PartTicks {
  uint32_t downscale;   // frame -> locator input (resize and quantize)
  uint32_t locator;     // the locator model
  uint32_t decode;      // its grid -> face boxes
  uint32_t crop;        // every face: crop, resize, quantize
  uint32_t classifier;  // every face: the expression model
};

struct FrameResult {
  int num_faces;  // faces[0..num_faces-1] are valid, in the locator's order (highest score first)
  Face faces[kMaxFaces];
  PartTicks ticks;
};

enum Status {
  kOk = 0,
  kBadArgument = -1,     // a null pointer
  kFrameTooSmall = -2,   // width < ${LOC}_INPUT_COLS or height < ${LOC}_INPUT_ROWS
  kFrameTooLarge = -3,   // a side over 2048 pixels
  kSetupFailed = -4,     // an op could not be registered, or a model's tensors are not what was exported
  kArenaTooSmall = -5,   // AllocateTensors failed: an arena is too small for this TFLM build
  kInvokeFailed = -6,
};

// A free-running counter (a cycle counter, a timer, millis()...) to time the parts with; may be null.
typedef uint32_t (*Clock)(void);

// Finds the faces in a width x height grayscale frame (one byte a pixel, rows one after another) and reads
// their expressions into *result. Returns the number of faces (0..kMaxFaces) or a negative Status. The
// first call sets the two TFLM interpreters up.
int process_frame(const uint8_t* gray, int width, int height, FrameResult* result, Clock clock = nullptr);

// One line naming a Status.
const char* status_message(int status);

// Bytes of each tensor arena the interpreters use (after the first process_frame; -1 before).
int locator_arena_used();
int classifier_arena_used();

}  // namespace ${name}

#endif  // ${NAME}_PIPELINE_H_
