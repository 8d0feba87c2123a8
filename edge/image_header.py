"""An image file's width and height from its header, without decoding it: so that a decompression bomb (a 1 MB
PNG of 30000x30000 pixels, 2.7 GB once decoded) is refused before OpenCV allocates it.

The formats of ``edge.sources.IMAGE_SUFFIXES``: PNG, JPEG, BMP, WebP, TIFF and PGM/PPM/PBM. Standard library only.
"""

from __future__ import annotations

import os
import struct

#: bytes read from the start of a file; a JPEG's frame header may come after large metadata (EXIF, ICC)
HEAD = 1 << 16


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the header of the image at ``path``; None if the format or header is not recognised."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD)
            if head[:2] == b"\xff\xd8":
                return _jpeg(f, head)
    except OSError:
        return None
    try:
        for parse in (_png, _bmp, _webp, _tiff, _pnm):
            size = parse(head)
            if size is not None:
                return size
    except (struct.error, ValueError, IndexError):
        return None
    return None


def _png(h: bytes):
    if h[:8] == b"\x89PNG\r\n\x1a\n" and h[12:16] == b"IHDR":
        return struct.unpack(">II", h[16:24])
    return None


def _bmp(h: bytes):
    if h[:2] != b"BM":
        return None
    if struct.unpack("<I", h[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        return struct.unpack("<HH", h[18:22])
    w, hgt = struct.unpack("<ii", h[18:26])
    return abs(w), abs(hgt)  # a negative height is a top-down bitmap


def _webp(h: bytes):
    if h[:4] != b"RIFF" or h[8:12] != b"WEBP":
        return None
    chunk = h[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(h[24:27], "little"), 1 + int.from_bytes(h[27:30], "little")
    if chunk == b"VP8L":
        bits = int.from_bytes(h[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":
        w, hgt = struct.unpack("<HH", h[26:30])
        return w & 0x3FFF, hgt & 0x3FFF
    return None


def _tiff(h: bytes):
    order = {b"II": "<", b"MM": ">"}.get(h[:2])
    if order is None or struct.unpack(order + "H", h[2:4])[0] != 42:
        return None
    ifd = struct.unpack(order + "I", h[4:8])[0]
    count = struct.unpack(order + "H", h[ifd:ifd + 2])[0]
    found = {}
    for i in range(count):
        tag, kind, _n, value = struct.unpack(order + "HHI4s", h[ifd + 2 + 12 * i:ifd + 14 + 12 * i])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT (3) or LONG (4)
            found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[:2 if kind == 3 else 4])[0]
    return (found[256], found[257]) if len(found) == 2 else None


def _pnm(h: bytes):
    if len(h) < 2 or h[:1] != b"P" or h[1:2] not in b"123456":
        return None
    fields, i = [], 2
    text = h.decode("latin-1")
    while len(fields) < 2 and i < len(text):
        if text[i] == "#":  # a comment runs to the end of its line
            i = text.find("\n", i)
            if i < 0:
                return None
        elif text[i].isspace():
            i += 1
        else:
            j = i
            while j < len(text) and text[j].isdigit():
                j += 1
            if j == i:
                return None
            fields.append(int(text[i:j]))
            i = j
    return (fields[0], fields[1]) if len(fields) == 2 else None


def _jpeg(f, head: bytes):
    """The size in the first start-of-frame marker (SOF0..SOF15 but DHT, JPG and DAC), walking the segments."""
    data, at = head, 2

    def need(n: int) -> bool:  # n bytes from ``at`` in ``data``, reading on (and skipping) as needed
        nonlocal data, at
        if at > len(data):
            f.seek(at - len(data), os.SEEK_CUR)
            data, at = b"", 0
        while at + n > len(data):
            more = f.read(HEAD)
            if not more:
                return False
            data, at = data[at:] + more, 0
        return True

    while need(4):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            at += 2
            continue
        length = struct.unpack(">H", data[at + 2:at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if not need(9):
                return None
            hgt, w = struct.unpack(">HH", data[at + 5:at + 9])
            return w, hgt
        if marker == 0xDA or length < 2:  # image data before any frame header: not a valid JPEG
            return None
        at += 2 + length
    return None
