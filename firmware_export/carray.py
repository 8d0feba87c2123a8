"""Model bytes as C/C++ source: a 16-byte-aligned ``const unsigned char`` array and its size.

Pure functions returning text. ``<name>_data.cc`` (C++11, ``alignas``) and ``<name>_data.c``
(C99/C11, ``_Alignas`` or the GCC/Clang attribute) define the same symbols, declared with C
linkage in ``<name>_data.h``: add exactly one of the two source files to a project.
"""

from __future__ import annotations

ALIGNMENT = 16  # TFLM reads the flatbuffer in place; 16 bytes suits every kernel and the schema's own tables
BYTES_PER_LINE = 12


def emit_c_array(symbol: str, data: bytes, *, qualifier: str = "", per_line: int = BYTES_PER_LINE) -> str:
    """``<qualifier> const unsigned char <symbol>[] = {...};`` with ``per_line`` hex bytes per line."""
    lines = [", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) for i in range(0, len(data), per_line)]
    body = ",\n".join(f"    {line}" for line in lines)
    prefix = f"{qualifier} " if qualifier else ""
    return f"{prefix}const unsigned char {symbol}[] = {{\n{body}\n}};\n"


def data_header(name: str, size: int, banner: str) -> str:
    guard = f"{name.upper()}_DATA_H_"
    return f"""{banner}
#ifndef {guard}
#define {guard}

// Size of {name}_data in bytes, usable in constant expressions.
#define {name.upper()}_DATA_SIZE {size}u

#ifdef __cplusplus
extern "C" {{
#endif

// The .tflite flatbuffer, {ALIGNMENT}-byte aligned, for tflite::GetModel({name}_data).
extern const unsigned char {name}_data[];
extern const unsigned int {name}_data_size;

#ifdef __cplusplus
}}  // extern "C"
#endif

#endif  // {guard}
"""


def data_source(name: str, data: bytes, banner: str, *, language: str) -> str:
    """The definition file: ``language="c++"`` for ``<name>_data.cc``, ``"c"`` for ``<name>_data.c``."""
    if language == "c++":
        align = f"alignas({ALIGNMENT})"
        preamble = ""
    elif language == "c":
        align = f"{name.upper()}_DATA_ALIGN"
        preamble = f"""
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define {align} _Alignas({ALIGNMENT})
#else  // C99: the GCC/Clang attribute (arm-none-eabi-gcc, xtensa-gcc, clang)
#define {align} __attribute__((aligned({ALIGNMENT})))
#endif
"""
    else:
        raise ValueError(f"language must be 'c' or 'c++', got {language!r}")
    return (f"{banner}\n#include \"{name}_data.h\"\n{preamble}\n"
            f"{emit_c_array(f'{name}_data', data, qualifier=align)}\n"
            f"const unsigned int {name}_data_size = {len(data)}u;\n")
