// Stand-in for the Arduino core's Arduino.h (tests/board_stubs/README.md): declarations only.
#pragma once
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LOW 0x0
#define HIGH 0x1
#define OUTPUT 0x1
#define A0 14  // the Nano 33 BLE's analog pins, as the mbed core numbers them
#define A1 15
#define LEDR 22  // the Nano 33 BLE's RGB LED (active low)
#define LEDG 23
#define LEDB 24

void pinMode(int pin, int mode);
void digitalWrite(int pin, int value);
void delay(unsigned long ms);
unsigned long millis(void);

class HardwareSerialStub {
 public:
  void begin(unsigned long baud);
  explicit operator bool() const;
  size_t print(const char* text);
  size_t print(unsigned long value);
  size_t print(int value);
  size_t print(float value, int digits = 2);
  size_t println(const char* text);
  size_t println(unsigned long value);
};
extern HardwareSerialStub Serial;
