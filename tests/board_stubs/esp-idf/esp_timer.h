// Stand-in for ESP-IDF's esp_timer.h (tests/board_stubs/README.md).
#pragma once
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif
int64_t esp_timer_get_time(void);
#ifdef __cplusplus
}
#endif
