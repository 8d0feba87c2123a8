// fer-edge --measure-m4 (generated, not part of the export): the smallest bare-metal runtime for the
// Cortex-M4 of QEMU's mps2-an386 board: a vector table, a reset handler that sets up .data/.bss and
// static constructors, semihosting text output and exit, and the board's CMSDK timer 0 as a clock.

#include <stdint.h>

extern uint32_t __stack_top, __data_load, __data_start, __data_end, __bss_start__, __bss_end__;
extern void __libc_init_array(void);
extern int main(void);

// ARM semihosting: r0 = operation, r1 = argument block; QEMU runs it with -semihosting.
static int semihost(int op, const void* arg) {
  register int r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void fer_semihost_write(const char* text) { semihost(0x04, text); }  // SYS_WRITE0

void fer_semihost_exit(int code) {
  // SYS_EXIT_EXTENDED with ADP_Stopped_ApplicationExit: QEMU exits with the subcode as its status
  const uint32_t block[2] = {0x20026u, (uint32_t)code};
  semihost(0x20, block);
  for (;;) {
  }
}

// CMSDK APB timer 0: counts down from RELOAD at the 25 MHz peripheral clock.
#define TIMER0_CTRL (*(volatile uint32_t*)0x40000000u)
#define TIMER0_VALUE (*(volatile uint32_t*)0x40000004u)
#define TIMER0_RELOAD (*(volatile uint32_t*)0x40000008u)

void fer_timer_start(void) {
  TIMER0_CTRL = 0;
  TIMER0_RELOAD = 0xFFFFFFFFu;
  TIMER0_VALUE = 0xFFFFFFFFu;
  TIMER0_CTRL = 1;  // enable, no interrupt
}

uint32_t fer_timer_elapsed(void) { return 0xFFFFFFFFu - TIMER0_VALUE; }

// A loop of exactly 2 * n instructions (subs, bne), to calibrate instructions per timer tick.
void fer_spin(uint32_t n) {
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
}

static void fault(void) {
  fer_semihost_write("fer-edge: hard fault\n");
  fer_semihost_exit(4);
}

void Reset_Handler(void) {
  uint32_t* src = &__data_load;
  for (uint32_t* dst = &__data_start; dst < &__data_end;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  __libc_init_array();
  fer_semihost_exit(main());
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&__stack_top, Reset_Handler, fault, fault, fault, fault, fault, 0, 0, 0, 0, fault, fault, 0,
    fault, fault};

// linked with -nostartfiles, so without crtbegin.o: the handle static destructors register against
void* __dso_handle = &__dso_handle;

// __libc_init_array calls these (constructors come from .init_array)
void _init(void) {}
void _fini(void) {}

// newlib's few system calls: only the heap is used (by printf's internals, if at all).
extern char __heap_start, __heap_end;
void* _sbrk(int increment) {
  static char* brk = &__heap_start;
  if (brk + increment > &__heap_end) return (void*)-1;
  char* old = brk;
  brk += increment;
  return old;
}
