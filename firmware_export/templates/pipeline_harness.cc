// fer-edge --verify-tflm --parity-video harness (generated, not part of the export): runs the exported
// ${name}::process_frame on every frame of FRAMES.bin (per frame: int32 width, int32 height, then the
// grayscale pixels) and prints what it returns, one line per frame and per face:
//   frame <i> <status or face count>
//   face <x> <y> <w> <h> <crop x0> <crop y0> <crop x1> <crop y1> <face score> <label> <int8 scores...>
// then "arena <locator bytes used> <classifier bytes used>". Usage: harness FRAMES.bin

#include <cstdint>
#include <cstdio>
#include <vector>

#include "${name}_pipeline.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s FRAMES.bin\n", argv[0]);
    return 1;
  }
  std::FILE* in = std::fopen(argv[1], "rb");
  if (in == nullptr) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  static ${name}::FrameResult result;
  std::vector<uint8_t> pixels;
  int32_t size[2];
  for (int i = 0; std::fread(size, 4, 2, in) == 2; ++i) {
    pixels.resize(static_cast<size_t>(size[0]) * static_cast<size_t>(size[1]));
    if (std::fread(pixels.data(), 1, pixels.size(), in) != pixels.size()) {
      std::fprintf(stderr, "frame %d: truncated\n", i);
      return 1;
    }
    const int n = ${name}::process_frame(pixels.data(), size[0], size[1], &result);
    std::printf("frame %d %d\n", i, n);
    for (int f = 0; f < n; ++f) {
      const ${name}::Face& face = result.faces[f];
      std::printf("face %d %d %d %d %d %d %d %d %d %d", face.x, face.y, face.w, face.h, face.crop_x0, face.crop_y0,
                  face.crop_x1, face.crop_y1, face.face_score, face.label);
      for (int c = 0; c < ${name}::kNumClasses; ++c) std::printf(" %d", face.scores[c]);
      std::printf("\n");
    }
  }
  std::fclose(in);
  std::printf("arena %d %d\n", ${name}::locator_arena_used(), ${name}::classifier_arena_used());
  return 0;
}
