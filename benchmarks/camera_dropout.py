"""What a camera dropout costs, measured through picamera2's own code over tests/fake_libcamera:

- a camera whose link drops after ``--stall-after`` frames and comes back ``--outage`` seconds later
  (``--dropouts`` times): frames lost per dropout (the sensor's frame slots with no frame delivered)
  and the time from the last frame before it to the first frame after it;
- a camera that never comes back: ``fer-edge run --source picamera2`` end to end, the time from its
  last frame to the process's exit, the retries it spent and the line it printed (with the
  command's own --backoff, 0.5 s).

    python -m benchmarks.camera_dropout [--stall-after 60] [--outage 1 3] [--dropouts 3]
        [--camera-timeout 2] [--retries 5] [--backoff 0.5] [--json OUT]

Needs picamera2 from PyPI (``make picamera2-test-deps``); the defaults are fer-edge run's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edge.picam import PicameraSource
from edge.sources import Reconnecting

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "tests" / "fake_libcamera"  # libcamera's stand-ins, for picamera2's own code


def recovering(stall_after: int, outage: float, dropouts: int, timeout: float, retries: int,
               backoff: float) -> dict:
    import fake_camera
    from picamera2 import Picamera2

    sensor = fake_camera.reset(video=None, stall_after=stall_after, outage_s=outage)
    Picamera2._cm._cms = None
    source = Reconnecting(PicameraSource(timeout=timeout), retries, backoff)
    source.open()
    times, starts, recovered = [], [], 0
    try:  # until the camera has recovered from --dropouts dropouts, and 10 frames more
        while recovered < dropouts or starts[-10] != starts[-1]:
            times.append(source.read().timestamp)
            starts.append(sensor.starts)
            recovered += len(starts) > 1 and starts[-1] > starts[-2]
    finally:
        source.close()
    gaps = np.diff(times)
    interval = float(np.median(gaps))
    reopened = [i for i in range(len(gaps)) if starts[i + 1] > starts[i]]
    hiccups = [i for i in np.nonzero(gaps > 3 * interval)[0] if starts[i + 1] == starts[i]]
    return {"outage_s": outage, "frame_interval_s": round(interval, 4), "dropouts": len(reopened),
            "frames_lost": [int(round(gaps[i] / interval)) - 1 for i in reopened],
            "recover_s": [round(float(gaps[i]), 2) for i in reopened],
            "reopens": [starts[i + 1] - starts[i] for i in reopened],
            # gaps over 3 frame intervals with no dropout: the machine was busy (not the camera)
            "busy_gaps_s": [round(float(gaps[i]), 2) for i in hiccups]}


def never_back(stall_after: int, timeout: float, retries: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "p.jsonl"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKES), str(ROOT)]),
               "FAKE_CAMERA_STALL_AFTER": str(stall_after)}
        env.pop("FAKE_CAMERA_OUTAGE_S", None)
        proc = subprocess.run([sys.executable, "-m", "edge.commands", "run", "--source", "picamera2", "--headless",
                               "--jsonl", str(jsonl), "--camera-timeout", str(timeout), "--retries", str(retries)],
                              env=env, capture_output=True, text=True, timeout=600)
        exited = time.time()
        records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    return {"frames": len(records), "exit_code": proc.returncode,
            "last_frame_to_exit_s": round(exited - records[-1]["t"], 2),
            "retries_spent": len(re.findall(r"retry \d+/\d+ in", proc.stderr)), "error_lines": errors}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stall-after", type=int, default=60)
    p.add_argument("--outage", type=float, nargs="+", default=[1.0, 3.0])
    p.add_argument("--dropouts", type=int, default=3)
    p.add_argument("--camera-timeout", type=float, default=2.0)
    p.add_argument("--retries", type=int, default=5)
    p.add_argument("--backoff", type=float, default=0.5)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    if str(FAKES) not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        # picamera2 must import libcamera's stand-ins: run again with them first on PYTHONPATH (no sys.path edit)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(FAKES), str(ROOT), os.environ.get("PYTHONPATH")]))}
        return subprocess.run([sys.executable, "-m", "benchmarks.camera_dropout",
                               *(sys.argv[1:] if argv is None else argv)], env=env).returncode
    logging.basicConfig(level=logging.WARNING, format="%(levelname).1s %(name)s: %(message)s")
    logging.getLogger("picamera2").setLevel(logging.ERROR)
    results = {"settings": {k: v for k, v in vars(args).items() if k != "json"}, "recovering": [
        recovering(args.stall_after, outage, args.dropouts, args.camera_timeout, args.retries, args.backoff)
        for outage in args.outage]}
    results["never_back"] = never_back(args.stall_after, args.camera_timeout, args.retries)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
