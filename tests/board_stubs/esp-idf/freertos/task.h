// Stand-in for ESP-IDF's freertos/task.h (tests/board_stubs/README.md).
#pragma once
#include "freertos/FreeRTOS.h"
#ifdef __cplusplus
extern "C" {
#endif
void vTaskDelay(const TickType_t ticks);
#ifdef __cplusplus
}
#endif
