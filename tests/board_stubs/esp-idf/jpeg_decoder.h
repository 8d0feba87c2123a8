// Stand-in for the esp_jpeg component's jpeg_decoder.h (tests/board_stubs/README.md): the type
// esp32-camera's img_converters.h uses.
#pragma once
typedef enum { JPEG_IMAGE_SCALE_0 = 0, JPEG_IMAGE_SCALE_1_2, JPEG_IMAGE_SCALE_1_4, JPEG_IMAGE_SCALE_1_8 } esp_jpeg_image_scale_t;
