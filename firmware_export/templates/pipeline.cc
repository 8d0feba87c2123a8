${banner}
// The camera-to-expression pipeline (see ${name}_pipeline.h). Each step names the Python it reproduces.

#include "${name}_pipeline.h"

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "${loc}_data.h"
#include "${loc}_ops.h"
#include "${name}_data.h"
#include "${name}_ops.h"
#include "fer_image.h"

namespace ${name} {
namespace {

// edge.core.spec.Framing.margin of the expression model, as a double (Python's float)
constexpr double kMargin = $margin;
constexpr int kLocCols = ${LOC}_INPUT_COLS, kLocRows = ${LOC}_INPUT_ROWS;
constexpr int kGridRows = ${LOC}_GRID_ROWS, kGridCols = ${LOC}_GRID_COLS, kChannels = 5;
constexpr int kScratch = kLocCols > ${NAME}_INPUT_COLS ? kLocCols : ${NAME}_INPUT_COLS;
// edge.locator: box coordinates in 1/kSub of an input pixel, boxes at least kMinSide, K's fraction bits
constexpr int kSub = 16, kMinSide = 32, kShift = 16;

alignas(16) uint8_t locator_arena[${loc}::kTensorArenaSize];
alignas(16) uint8_t classifier_arena[${name}::kTensorArenaSize];
fer_image::Tap taps[kScratch];
uint32_t acc[kScratch];
int8_t locator_table[256];     // edge.locator.input_table
int8_t classifier_table[256];  // edge.frame_pipeline.quantize_table
tflite::MicroInterpreter* locator = nullptr;
tflite::MicroInterpreter* classifier = nullptr;

bool TensorIs(const TfLiteTensor* t, size_t bytes) { return t != nullptr && t->type == kTfLiteInt8 && t->bytes == bytes; }

int Setup() {
  static int status = 1;  // 1: not tried yet
  if (status != 1) return status;
  for (int p = 0; p < 256; ++p) {
    locator_table[p] = ${loc}_quantize_pixel(static_cast<unsigned char>(p));
    classifier_table[p] = ${name}_quantize_pixel(static_cast<unsigned char>(p));
  }
  static ${loc}::OpResolver locator_ops;
  static ${name}::OpResolver classifier_ops;
  if (${loc}::RegisterOps(locator_ops) != kTfLiteOk || ${name}::RegisterOps(classifier_ops) != kTfLiteOk) {
    return status = kSetupFailed;
  }
  static tflite::MicroInterpreter locator_interpreter(tflite::GetModel(${loc}_data), locator_ops, locator_arena,
                                                      sizeof(locator_arena));
  static tflite::MicroInterpreter classifier_interpreter(tflite::GetModel(${name}_data), classifier_ops,
                                                         classifier_arena, sizeof(classifier_arena));
  if (locator_interpreter.AllocateTensors() != kTfLiteOk || classifier_interpreter.AllocateTensors() != kTfLiteOk) {
    return status = kArenaTooSmall;
  }
  if (!TensorIs(locator_interpreter.input(0), kLocCols * kLocRows) ||
      !TensorIs(locator_interpreter.output(0), kGridRows * kGridCols * kChannels) ||
      !TensorIs(classifier_interpreter.input(0), ${NAME}_INPUT_COLS * ${NAME}_INPUT_ROWS) ||
      !TensorIs(classifier_interpreter.output(0), kNumClasses)) {
    return status = kSetupFailed;
  }
  locator = &locator_interpreter;
  classifier = &classifier_interpreter;
  return status = kOk;
}

uint32_t Now(Clock clock) { return clock ? clock() : 0; }

// edge.locator._value: a channel value in cells -> 1/16 input pixels, rounded half up
int64_t Value(int q) {
  const int64_t v = q - ${LOC}_OUTPUT_ZERO_POINT;
  return ((v > 0 ? v : 0) * static_cast<int64_t>(${LOC}_BOX_MULT) + (1 << (kShift - 1))) >> kShift;
}

// edge.locator._iou_exceeds
bool IouExceeds(const int64_t* a, const int64_t* b) {
  const int64_t iw = (a[2] < b[2] ? a[2] : b[2]) - (a[0] > b[0] ? a[0] : b[0]);
  const int64_t ih = (a[3] < b[3] ? a[3] : b[3]) - (a[1] > b[1] ? a[1] : b[1]);
  if (iw <= 0 || ih <= 0) return false;
  const int64_t inter = iw * ih;
  const int64_t uni = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return inter * 100 > static_cast<int64_t>(${LOC}_NMS_PCT) * uni;
}

// edge.locator.decode (steps 4-8): the raw grid -> faces in a width x height frame; returns how many.
int Decode(const int8_t* q, int width, int height, Face* faces) {
  // step 4: peaks, in raster order; a neighbour earlier in raster order must be strictly lower
  int16_t order[kGridRows * kGridCols];
  int found = 0;
  for (int r = 0; r < kGridRows; ++r) {
    for (int c = 0; c < kGridCols; ++c) {
      const int s = q[(r * kGridCols + c) * kChannels];
      if (s < ${LOC}_SCORE_MIN) continue;
      bool peak = true;
      for (int dr = -1; dr <= 1 && peak; ++dr) {
        for (int dc = -1; dc <= 1 && peak; ++dc) {
          const int nr = r + dr, nc = c + dc;
          if ((dr == 0 && dc == 0) || nr < 0 || nr >= kGridRows || nc < 0 || nc >= kGridCols) continue;
          const int n = q[(nr * kGridCols + nc) * kChannels];
          const bool earlier = dr < 0 || (dr == 0 && dc < 0);
          peak = earlier ? s > n : s >= n;
        }
      }
      if (peak) order[found++] = static_cast<int16_t>(r * kGridCols + c);
    }
  }
  // step 6's order: score descending, raster index ascending (a stable insertion sort of raster order)
  for (int i = 1; i < found; ++i) {
    const int16_t cell = order[i];
    const int s = q[cell * kChannels];
    int j = i;
    for (; j > 0 && q[order[j - 1] * kChannels] < s; --j) order[j] = order[j - 1];
    order[j] = cell;
  }
  // steps 5 and 6: boxes in 1/16 input pixels, greedy NMS, at most kMaxFaces
  int64_t kept[kMaxFaces][4];
  int count = 0;
  constexpr int64_t kCell = kSub * ${LOC}_STRIDE, kTop = kCell - 1;
  for (int k = 0; k < found && count < kMaxFaces; ++k) {
    const int r = order[k] / kGridCols, c = order[k] % kGridCols;
    const int8_t* v = q + order[k] * kChannels;
    const int64_t ox = Value(v[1]) < kTop ? Value(v[1]) : kTop, oy = Value(v[2]) < kTop ? Value(v[2]) : kTop;
    const int64_t cx = c * kCell + ox, cy = r * kCell + oy;
    const int64_t bw = Value(v[3]) > kMinSide ? Value(v[3]) : kMinSide;
    const int64_t bh = Value(v[4]) > kMinSide ? Value(v[4]) : kMinSide;
    int64_t* box = kept[count];
    box[0] = cx - bw / 2;
    box[1] = cy - bh / 2;
    box[2] = box[0] + bw;
    box[3] = box[1] + bh;
    bool overlaps = false;
    for (int i = 0; i < count && !overlaps; ++i) overlaps = IouExceeds(box, kept[i]);
    if (overlaps) continue;
    // step 7: clamp to the input, then to frame pixels rounding half up
    int64_t e[4];
    for (int i = 0; i < 4; ++i) {
      const int64_t limit = kSub * (i % 2 == 0 ? kLocCols : kLocRows);
      e[i] = box[i] < 0 ? 0 : (box[i] > limit ? limit : box[i]);
    }
    const int64_t xden = kSub * kLocCols, yden = kSub * kLocRows;
    const int x0 = static_cast<int>((e[0] * width + kSub / 2 * kLocCols) / xden);
    const int x1 = static_cast<int>((e[2] * width + kSub / 2 * kLocCols) / xden);
    const int y0 = static_cast<int>((e[1] * height + kSub / 2 * kLocRows) / yden);
    const int y1 = static_cast<int>((e[3] * height + kSub / 2 * kLocRows) / yden);
    // step 8: the square of side max(w, h) around the same centre (integers), clipped to the frame
    const int side = (x1 - x0) > (y1 - y0) ? (x1 - x0) : (y1 - y0);
    const int sx = x0 - (side - (x1 - x0)) / 2, sy = y0 - (side - (y1 - y0)) / 2;
    const int fx0 = sx > 0 ? sx : 0, fy0 = sy > 0 ? sy : 0;
    const int fx1 = sx + side < width ? sx + side : width, fy1 = sy + side < height ? sy + side : height;
    Face& f = faces[count++];
    f.x = fx0;
    f.y = fy0;
    f.w = fx1 - fx0;
    f.h = fy1 - fy0;
    f.face_score = v[0];
  }
  return count;
}

}  // namespace

int process_frame(const uint8_t* gray, int width, int height, FrameResult* result, Clock clock) {
  if (gray == nullptr || result == nullptr) return kBadArgument;
  result->num_faces = 0;
  result->ticks = PartTicks{0, 0, 0, 0, 0};
  if (width < kLocCols || height < kLocRows) return kFrameTooSmall;
  if (width > fer_image::kMaxSide || height > fer_image::kMaxSide) return kFrameTooLarge;
  const int setup = Setup();
  if (setup != kOk) return setup;
  PartTicks& t = result->ticks;

  uint32_t start = Now(clock);  // edge.locator.downscale + input_table
  fer_image::AreaResize<int8_t>(gray, width, width, height, kLocCols, kLocRows, locator_table,
                                locator->input(0)->data.int8, taps, acc);
  uint32_t now = Now(clock);
  t.downscale = now - start;
  start = now;
  if (locator->Invoke() != kTfLiteOk) return kInvokeFailed;
  now = Now(clock);
  t.locator = now - start;
  start = now;
  Face* faces = result->faces;
  const int found = Decode(locator->output(0)->data.int8, width, height, faces);
  now = Now(clock);
  t.decode = now - start;

  int count = 0;
  for (int i = 0; i < found; ++i) {
    start = Now(clock);  // edge.frame_pipeline.face_crop_box + face_pixels + quantize_table
    fer_image::Box crop;
    if (!fer_image::FaceCropBox(faces[i].x, faces[i].y, faces[i].w, faces[i].h, kMargin, width, height, &crop)) {
      t.crop += Now(clock) - start;
      continue;  // nothing of the framed square is left inside the frame
    }
    fer_image::AreaResize<int8_t>(gray + crop.y0 * width + crop.x0, width, crop.x1 - crop.x0, crop.y1 - crop.y0,
                                  ${NAME}_INPUT_COLS, ${NAME}_INPUT_ROWS, classifier_table,
                                  classifier->input(0)->data.int8, taps, acc);
    now = Now(clock);
    t.crop += now - start;
    start = now;
    if (classifier->Invoke() != kTfLiteOk) return kInvokeFailed;
    Face& f = faces[count++];
    f = faces[i];
    f.crop_x0 = crop.x0;
    f.crop_y0 = crop.y0;
    f.crop_x1 = crop.x1;
    f.crop_y1 = crop.y1;
    const int8_t* scores = classifier->output(0)->data.int8;
    for (int c = 0; c < kNumClasses; ++c) f.scores[c] = scores[c];
    f.label = ${name}_top_class(f.scores);
    f.score = (f.scores[f.label] - ${NAME}_OUTPUT_ZERO_POINT) * ${NAME}_OUTPUT_SCALE;
    t.classifier += Now(clock) - start;
  }
  result->num_faces = count;
  return count;
}

const char* status_message(int status) {
  switch (status) {
    case kBadArgument: return "process_frame: a null frame or result";
    case kFrameTooSmall: return "process_frame: the frame is smaller than the face locator's input";
    case kFrameTooLarge: return "process_frame: a frame side is over 2048 pixels";
    case kSetupFailed: return "process_frame: registering the ops failed or a model's tensors are not as exported";
    case kArenaTooSmall: return "process_frame: AllocateTensors failed, a tensor arena is too small";
    case kInvokeFailed: return "process_frame: Invoke failed";
    default: return status >= 0 ? "ok" : "process_frame: unknown status";
  }
}

int locator_arena_used() { return locator ? static_cast<int>(locator->arena_used_bytes()) : -1; }
int classifier_arena_used() { return classifier ? static_cast<int>(classifier->arena_used_bytes()) : -1; }

}  // namespace ${name}
