"""A stand-in for pykms (the kms++ bindings picamera2's DRM preview imports): no display here.

picamera2 imports it at start-up for ``DrmPreview``; the camera loop never shows a DRM preview, so
only the names read at import time exist, and opening a card fails as it does without /dev/dri.
"""

import enum

PixelFormat = enum.Enum("PixelFormat", "RGB888 BGR888 XRGB8888 XBGR8888 ARGB8888 ABGR8888 YUV420 YVU420 NV12 "
                                       "NV21 YUYV YVYU UYVY VYUY")
PlaneType = enum.Enum("PlaneType", "Overlay Primary Cursor")


class Card:
    def __init__(self, path="/dev/dri/card0"):
        raise OSError(f"{path}: no DRM device (pykms stand-in)")
