"""The browser check of an export-mobile file: MediaPipe Tasks for web in headless Chromium, fed by a fake camera.

``run_browser_check`` writes a Y4M video (each frame: a face crop on the left, its frame number as 8 bars
on the right), serves ``mobile_export/web/index.html``, the locally installed ``@mediapipe/tasks-vision``
and the model on 127.0.0.1, and starts Chromium with that video as its camera. The page posts back, per
frame, MediaPipe's scores and the exact RGB pixels it classified.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from pathlib import Path

import numpy as np

WEB = Path(__file__).resolve().parent.parent / "mobile_export" / "web"
TASKS_VISION = WEB / "node_modules" / "@mediapipe" / "tasks-vision"


def bt601_i420(bgr: np.ndarray) -> bytes:
    """BGR uint8 (H, W, 3) -> I420 bytes in video range (BT.601), what a camera's Y4M holds."""
    b, g, r = (bgr[..., i].astype(np.float64) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    sub = lambda c: c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2).mean(axis=(1, 3))  # noqa: E731
    planes = [y, sub(cb), sub(cr)]
    return b"".join(np.clip(np.round(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def write_y4m(path: Path, faces: np.ndarray, fps: int = 10) -> None:
    """Frames of (face | frame-number bars); faces are BGR uint8 (N, S, S, 3) with N <= 256."""
    n, side = len(faces), faces.shape[1]
    if n > 256:
        raise ValueError(f"8 bars number at most 256 frames, got {n}")
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{2 * side} H{side} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i, face in enumerate(faces):
            bars = np.zeros((side, side, 3), np.uint8)
            for bit in range(8):
                if (i >> (7 - bit)) & 1:
                    bars[:, bit * side // 8:(bit + 1) * side // 8] = 255
            f.write(b"FRAME\n" + bt601_i420(np.concatenate([face, bars], axis=1)))


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript",
                      ".js": "text/javascript", ".wasm": "application/wasm", ".tflite": "application/octet-stream"}
    routes: dict[str, Path] = {}
    result: dict = {}
    done = threading.Event()

    def translate_path(self, path):
        path = path.split("?", 1)[0]
        for prefix, target in self.routes.items():
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                return str(target / path[len(prefix):]) if prefix.endswith("/") else str(target)
        return "/nonexistent"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).result.update(json.loads(body))
        self.send_response(204)
        self.end_headers()
        type(self).done.set()

    def log_message(self, *args):
        pass


def run_browser_check(chromium: str, model: Path, faces: np.ndarray, tmp: Path, timeout: float = 180) -> dict:
    """The page's answer: {"ok", "frames": [{"index", "categories", "rgb", "size"}], ...} or {"ok": False, "error"}."""
    video = tmp / "camera.y4m"
    write_y4m(video, faces)
    handler = type("Handler", (_Handler,), {"routes": {"/index.html": WEB / "index.html", "/tasks-vision/": TASKS_VISION,
                                                       "/model.tflite": model},
                                            "result": {}, "done": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html?frames={len(faces)}"
    cmd = [chromium, "--headless=new", "--no-sandbox", "--no-first-run", "--disable-extensions",
           f"--user-data-dir={tmp / 'profile'}", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
           f"--use-file-for-fake-video-capture={video}", "--autoplay-policy=no-user-gesture-required",
           "--enable-unsafe-swiftshader", url]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        if not handler.done.wait(timeout):
            return {"ok": False, "error": f"no answer from the page within {timeout:.0f} s"}
        return dict(handler.result)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server.shutdown()
        server.server_close()
