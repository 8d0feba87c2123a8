${banner}
// ESP32-S3-EYE (OV2640 camera, 8 MB octal PSRAM), ESP-IDF >= 5.1: reads the faces in front of the camera and
// their expressions, continuously.
//
// Every frame: esp_camera_fb_get() (grayscale ${camera_size}, in PSRAM), ${name}::process_frame() (face locator
// -> framed face crops -> expression model), one line per frame on the console (idf.py monitor):
//   "<label> <score>% box <x>,<y> <w>x<h> | <ms> ms" per face (or "no face | <ms> ms").
// The board's LCD is not driven: the expression is shown on the console only.
//
// Build: idf.py set-target esp32s3 && idf.py build flash monitor, in this folder (main/idf_component.yml pulls
// espressif/esp32-camera and espressif/esp-tflite-micro from the ESP component registry).

#include <cstdio>
#include <cstring>

#include "esp_camera.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"

#include "${name}_pipeline.h"

namespace {

// ESP32-S3-EYE camera pins, as esp32-camera's own test/test_camera.c gives them (BOARD_CAMERA_MODEL_ESP32_S3_EYE)
camera_config_t camera_config() {
  camera_config_t c;
  std::memset(&c, 0, sizeof(c));
  c.pin_pwdn = 43;
  c.pin_reset = 44;
  c.pin_xclk = 15;
  c.pin_sccb_sda = 4;
  c.pin_sccb_scl = 5;
  c.pin_d7 = 16;  // Y9
  c.pin_d6 = 17;
  c.pin_d5 = 18;
  c.pin_d4 = 12;
  c.pin_d3 = 11;
  c.pin_d2 = 10;
  c.pin_d1 = 9;
  c.pin_d0 = 8;  // Y2
  c.pin_vsync = 6;
  c.pin_href = 7;
  c.pin_pclk = 13;
  c.xclk_freq_hz = 20000000;
  c.ledc_timer = LEDC_TIMER_0;
  c.ledc_channel = LEDC_CHANNEL_0;
  c.pixel_format = PIXFORMAT_GRAYSCALE;  // one byte a pixel: what process_frame reads
  c.frame_size = ${camera_framesize};  // ${camera_size}
  c.jpeg_quality = 12;
  c.fb_count = 2;
  c.fb_location = CAMERA_FB_IN_PSRAM;
  c.grab_mode = CAMERA_GRAB_LATEST;
  c.sccb_i2c_port = -1;
  return c;
}

${name}::FrameResult result;

}  // namespace

extern "C" void app_main(void) {
  const camera_config_t config = camera_config();
  const esp_err_t err = esp_camera_init(&config);
  if (err != ESP_OK) {
    std::printf("esp_camera_init failed: 0x%x\n", static_cast<unsigned>(err));
    return;
  }
  while (true) {
    camera_fb_t* fb = esp_camera_fb_get();
    if (fb == nullptr || fb->format != PIXFORMAT_GRAYSCALE) {
      std::printf("no grayscale frame from the camera\n");
      if (fb != nullptr) esp_camera_fb_return(fb);
      vTaskDelay(pdMS_TO_TICKS(100));
      continue;
    }
    const int64_t start = esp_timer_get_time();
    const int faces = ${name}::process_frame(fb->buf, static_cast<int>(fb->width), static_cast<int>(fb->height),
                                             &result);
    const int64_t us = esp_timer_get_time() - start;
    esp_camera_fb_return(fb);
    if (faces < 0) {
      std::printf("%s\n", ${name}::status_message(faces));
      vTaskDelay(pdMS_TO_TICKS(1000));
      continue;
    }
    if (faces == 0) std::printf("no face | ");
    for (int i = 0; i < faces; ++i) {
      const ${name}::Face& f = result.faces[i];
      std::printf("%s %d%% box %d,%d %dx%d | ", ${name}_label(f.label), static_cast<int>(f.score * 100.0f + 0.5f),
                  f.x, f.y, f.w, f.h);
    }
    std::printf("%d ms\n", static_cast<int>(us / 1000));
  }
}
