${banner}
// Arduino Nano 33 BLE Sense (Lite) + OV7675 camera (the Arduino TinyML kit): reads the faces in front of the
// camera and their expressions, several times a second.
//
// Every frame: Camera.readFrame() (grayscale ${camera_size}), ${name}::process_frame() (face locator -> framed
// face crops -> expression model, all on the chip), one line per face on the Serial Monitor (115200 baud):
//   "<label> <score>% box <x>,<y> <w>x<h> | <ms> ms" (or "no face | <ms> ms"),
// and the expression of the first face on the board's RGB LED (see kColours; off when no face is seen).
//
// Libraries (Library Manager): Arduino_OV767X (the camera) and Arduino_TensorFlowLite (TFLM for Arm boards,
// github.com/tensorflow/tflite-micro-arduino-examples). The sketch folder holds the exported files. The
// camera's library says only 1 and 5 frames a second work on this board; it runs at 5.

#include <Arduino_OV767X.h>
#include <TensorFlowLite.h>

#include "${name}_pipeline.h"

namespace {

constexpr int kResolution = ${camera_resolution};  // ${camera_size}: ${camera_bytes} bytes a frame
constexpr int kFps = 5;
uint8_t frame[${camera_bytes}];
${name}::FrameResult result;

// RGB LED colour (red, green, blue on/off) per expression, by the model's label names; anything else: white.
struct Colour {
  const char* label;
  bool r, g, b;
};
constexpr Colour kColours[] = {{"happy", false, true, false},   {"sad", false, false, true},
                               {"angry", true, false, false},   {"surprise", true, true, false},
                               {"fear", true, false, true},     {"disgust", false, true, true},
                               {"neutral", true, true, true}};

void show(const char* label) {
  bool r = false, g = false, b = false;  // no face: off
  if (label != nullptr) {
    r = g = b = true;
    for (const Colour& c : kColours) {
      if (strcmp(c.label, label) == 0) {
        r = c.r;
        g = c.g;
        b = c.b;
      }
    }
  }
  digitalWrite(LEDR, r ? LOW : HIGH);  // the Nano 33 BLE's RGB LED is active low
  digitalWrite(LEDG, g ? LOW : HIGH);
  digitalWrite(LEDB, b ? LOW : HIGH);
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
  pinMode(LEDR, OUTPUT);
  pinMode(LEDG, OUTPUT);
  pinMode(LEDB, OUTPUT);
  show(nullptr);
  if (!Camera.begin(kResolution, GRAYSCALE, kFps, OV7675)) fail("OV7675 camera not found (Camera.begin failed)");
  if (Camera.width() * Camera.height() * Camera.bytesPerPixel() != static_cast<int>(sizeof(frame))) {
    fail("the camera's frame size is not the one this sketch was built for");
  }
}

void loop() {
  Camera.readFrame(frame);
  const unsigned long start = millis();
  const int faces = ${name}::process_frame(frame, Camera.width(), Camera.height(), &result);
  const unsigned long ms = millis() - start;
  if (faces < 0) fail(${name}::status_message(faces));
  if (faces == 0) {
    Serial.print("no face | ");
  }
  for (int i = 0; i < faces; ++i) {
    const ${name}::Face& f = result.faces[i];
    char line[96];
    snprintf(line, sizeof(line), "%s %d%% box %d,%d %dx%d | ", ${name}_label(f.label),
             static_cast<int>(f.score * 100.0f + 0.5f), f.x, f.y, f.w, f.h);
    Serial.print(line);
  }
  Serial.print(ms);
  Serial.println(" ms");
  show(faces > 0 ? ${name}_label(result.faces[0].label) : nullptr);
}
