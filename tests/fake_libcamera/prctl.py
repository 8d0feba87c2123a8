"""A stand-in for python-prctl (a C extension; picamera2's FfmpegOutput imports it): the one call
picamera2 makes, through libc's prctl(2)."""

import ctypes

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_libc = ctypes.CDLL(None, use_errno=True)


def set_pdeathsig(signal: int) -> None:
    if _libc.prctl(_PR_SET_PDEATHSIG, int(signal), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def set_name(name: str) -> None:
    _libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
