// Stand-in for the sdkconfig.h ESP-IDF generates (tests/board_stubs/README.md): an ESP32-S3 target.
#pragma once
#define CONFIG_IDF_TARGET_ESP32S3 1
#define CONFIG_IDF_TARGET_ESP32 0
#define CONFIG_IDF_TARGET_ESP32S2 0
