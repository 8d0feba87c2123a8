// Stand-in for the Arduino_TensorFlowLite library's umbrella header (tests/board_stubs/README.md).
#pragma once
