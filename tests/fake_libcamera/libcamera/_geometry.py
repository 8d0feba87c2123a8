"""libcamera's value types as its Python bindings expose them: geometry, transforms, colour spaces,
pixel formats, enums and control ids (libcamera/src/py/libcamera/py_*.cpp)."""

from __future__ import annotations

import enum


class Size:
    def __init__(self, width: int = 0, height: int = 0):
        self.width, self.height = int(width), int(height)

    def __eq__(self, other):
        return isinstance(other, Size) and (self.width, self.height) == (other.width, other.height)

    __hash__ = object.__hash__

    def __repr__(self):
        return f"libcamera.Size({self.width}, {self.height})"


class Rectangle:
    def __init__(self, x: int = 0, y: int = 0, width: int = 0, height: int = 0):
        self.x, self.y, self.width, self.height = int(x), int(y), int(width), int(height)

    def __eq__(self, other):
        return isinstance(other, Rectangle) and (self.x, self.y, self.width, self.height) == (
            other.x, other.y, other.width, other.height)

    __hash__ = object.__hash__


class Transform:
    def __init__(self, rotation=0, hflip=False, vflip=False, transpose=False):
        if isinstance(rotation, Transform):
            rotation, hflip, vflip, transpose = 0, rotation.hflip, rotation.vflip, rotation.transpose
        if rotation not in (0, 180):
            raise ValueError("Invalid rotation (this stand-in knows 0 and 180)")
        if rotation == 180:
            hflip, vflip = not hflip, not vflip
        self.hflip, self.vflip, self.transpose = bool(hflip), bool(vflip), bool(transpose)

    def __str__(self):  # picamera2 sets __repr__ = __str__ and supplies __eq__ itself
        flags = [n for n, on in (("hflip", self.hflip), ("vflip", self.vflip), ("transpose", self.transpose)) if on]
        return f"<libcamera.Transform '{'|'.join(flags) or 'identity'}'>"


class Orientation(enum.Enum):
    Rotate0 = 1
    Rotate0Mirror = 2
    Rotate180 = 3
    Rotate180Mirror = 4
    Rotate90Mirror = 5
    Rotate270 = 6
    Rotate270Mirror = 7
    Rotate90 = 8


class ColorSpace:
    class Primaries(enum.Enum):
        Raw, Smpte170m, Rec709, Rec2020 = range(4)

    class TransferFunction(enum.Enum):
        Linear, Srgb, Rec709 = range(3)

    class YcbcrEncoding(enum.Enum):
        Null, Rec601, Rec709, Rec2020 = range(4)

    class Range(enum.Enum):
        Full, Limited = range(2)

    def __init__(self, primaries, transferFunction=None, ycbcrEncoding=None, range=None):
        if isinstance(primaries, ColorSpace):
            primaries, transferFunction, ycbcrEncoding, range = primaries._fields()
        self.primaries, self.transferFunction = primaries, transferFunction
        self.ycbcrEncoding, self.range = ycbcrEncoding, range

    def _fields(self):
        return (self.primaries, self.transferFunction, self.ycbcrEncoding, self.range)

    def __str__(self):  # picamera2 sets __repr__ = __str__ and supplies __eq__ itself
        return f"<libcamera.ColorSpace '{'/'.join(f.name for f in self._fields())}'>"


# the named colour spaces, as ColorSpace.Sycc() etc.: primaries, transfer function, YCbCr encoding, range
for _name, _fields in {"Raw": ("Raw", "Linear", "Null", "Full"), "Srgb": ("Rec709", "Srgb", "Null", "Full"),
                       "Sycc": ("Rec709", "Srgb", "Rec601", "Full"),
                       "Smpte170m": ("Smpte170m", "Rec709", "Rec601", "Limited"),
                       "Rec709": ("Rec709", "Rec709", "Rec709", "Limited"),
                       "Rec2020": ("Rec2020", "Rec709", "Rec2020", "Limited")}.items():
    setattr(ColorSpace, _name, staticmethod(lambda f=_fields: ColorSpace(
        ColorSpace.Primaries[f[0]], ColorSpace.TransferFunction[f[1]], ColorSpace.YcbcrEncoding[f[2]],
        ColorSpace.Range[f[3]])))


class PixelFormat:
    def __init__(self, name: str = ""):
        self.name = str(name)

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"libcamera.PixelFormat('{self.name}')"

    def __eq__(self, other):
        return isinstance(other, PixelFormat) and self.name == other.name

    def __hash__(self):
        return hash(self.name)


class StreamRole(enum.Enum):
    StillCapture, Raw, VideoRecording, Viewfinder = range(4)


class ControlType(enum.Enum):
    Null, Bool, Byte, Integer32, Integer64, Float, String, Rectangle, Size = range(9)


class ControlId:
    def __init__(self, id_: int, name: str, type_: ControlType):
        self.id, self.name, self.type = id_, name, type_

    def __str__(self):
        return self.name

    def __repr__(self):
        return f"libcamera.ControlId({self.id}, libcamera.{self.name}, {self.type})"


class ControlInfo:
    def __init__(self, min_, max_, default=None):
        self.min, self.max, self.default = min_, max_, default
