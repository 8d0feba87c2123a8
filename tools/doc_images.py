"""The documentation's pictures of the live view, made from the page as it is: ``docs/live_view.png`` (the page in
headless Chromium while ``fer-edge run --serve`` plays a two-face demo video) and ``docs/session_summary.png``
(what ``--summary`` wrote when that run was stopped). Run it from the repository root after changing the page or
the summary image:

    python -m tools.doc_images [--out-dir docs] [--model micro] [--chromium chromium]

Needs fer-edge installed (the edge extra) and Chromium (``apt install chromium``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
import base64
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tools.chromium import Chromium

#: the page's width in the screenshot (its two columns side by side)
WIDTH = 1280
#: wait until two face cards and their timelines show, then a few seconds more so the timelines have grown
READY = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const ready = () => document.querySelectorAll("#faces .face").length === 2 &&
                      document.querySelectorAll("#timelines .strip").length >= 2;
  for (let i = 0; i < 600 && !ready(); i++) await sleep(100);
  if (!ready()) return null;
  await sleep(%d);
  return {height: Math.ceil(document.querySelector("main").getBoundingClientRect().bottom) + 16};
})()"""


def _serve(argv: list[str], lines: list[str]) -> tuple[subprocess.Popen, str]:
    """Start ``fer-edge run ... --serve 127.0.0.1:0``; the process and its live-view URL."""
    proc = subprocess.Popen([sys.executable, "-m", "edge.commands", *argv, "--serve", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = [m.group(0) for line in list(lines) if (m := re.search(r"http://127\.0\.0\.1:\d+/", line))]
        if found:
            return proc, found[0]
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("fer-edge run did not start its live view:\n" + "".join(lines))


def make_images(out_dir: Path, model: str, chromium: str, grow_s: float = 6.0) -> list[Path]:
    from edge.synthetic.video import VideoConfig, write_video

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video, summary = tmp / "two_faces.mp4", tmp / "summary.png"
        write_video(video, VideoConfig(frames=300, width=640, height=480, fps=15.0, min_faces=2, max_faces=2, seed=1))
        lines: list[str] = []
        proc, url = _serve(["run", model, "--source", str(video), "--realtime", "--summary", str(summary)], lines)
        browser = Chromium(chromium, tmp / "profile")
        try:
            page = browser.open(url)
            browser.send("Emulation.setDeviceMetricsOverride", page, width=WIDTH, height=600, deviceScaleFactor=1,
                         mobile=False)
            size = browser.evaluate(page, READY % int(grow_s * 1000))
            if size is None:
                raise SystemExit("the live view never showed two faces:\n" + "".join(lines))
            clip = {"x": 0, "y": 0, "width": WIDTH, "height": size["height"], "scale": 1}
            shot = browser.send("Page.captureScreenshot", page, format="png", clip=clip)["data"]
        finally:
            browser.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        if proc.returncode != 0 or not summary.is_file():
            raise SystemExit(f"fer-edge run ended with {proc.returncode}:\n" + "".join(lines))
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "live_view.png").write_bytes(base64.b64decode(shot))
        shutil.copyfile(summary, out_dir / "session_summary.png")
    return [out_dir / "live_view.png", out_dir / "session_summary.png"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out-dir", type=Path, default=Path("docs"), help="where the two PNGs go (default docs)")
    p.add_argument("--model", default="micro", help="the model the page shows (default micro)")
    p.add_argument("--chromium", default=shutil.which("chromium") or "chromium", help="the Chromium binary")
    p.add_argument("--grow", type=float, default=6.0, metavar="S",
                   help="seconds of timelines to let grow before the screenshot (default 6)")
    args = p.parse_args(argv)
    for path in make_images(args.out_dir, args.model, args.chromium, args.grow):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
