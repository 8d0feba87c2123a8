"""``make pi-check``: the Raspberry Pi guide, followed on Debian bookworm arm64 under QEMU user mode.

No Pi is attached here, so this proves what a Pi runs on the code it runs:

1. ``mmdebstrap`` builds a Debian bookworm arm64 userland (cached in ``pi-check`` under the fer-edge
   cache folder, ``edge.core.cache``); binfmt_misc runs its binaries through ``qemu-aarch64-static``.
2. The checkout's tracked files are copied in, and the Pi guide's install runs in the chroot as
   written: ``python3 -m venv --system-site-packages .venv`` and ``pip install '.[edge,pi]'``.
3. A generated video is decoded once, here, into a folder of PNG frames, so both sides see identical
   pixels (MPEG-4 decoders on ARM and x86 differ by a few grey levels).
4. ``fer-edge run MODEL --source FRAMES --headless --jsonl`` runs on this machine and in the chroot as a
   Pi 5 (``QEMU_CPU=cortex-a76``) and a Pi 4 (``cortex-a72``), each with that Pi's ``/proc/cpuinfo``
   bind-mounted (LiteRT reads it at load time and crashes on the x86 host's).
5. Faces are matched per frame by box IoU; it prints label agreement and the largest score difference,
   and fails unless every face is found on both sides with the same label.

Needs root (mounts, chroot), mmdebstrap, qemu-user-static and binfmt-support (apt), and network access
to Debian's archive and PyPI. It takes minutes and stays out of ``make test``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from edge.core.cache import cache_dir  # fer-edge installed in the venv running this (make pi-check: .venv)
from edge.track import iou_matrix

ROOT = Path(__file__).resolve().parent.parent

MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
_PI_CORE = {  # what a Pi's arm64 kernel reports per core
    "cortex-a76": ("0x4", "0xd0b", "1", "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid "
                   "asimdrdm lrcpc dcpop asimddp"),
    "cortex-a72": ("0x0", "0xd08", "3", "fp asimd evtstrm crc32 cpuid"),
}
PIS = {"pi5": ("cortex-a76", "c04170", "Raspberry Pi 5 Model B Rev 1.0"),
       "pi4": ("cortex-a72", "c03115", "Raspberry Pi 4 Model B Rev 1.5")}


def cpuinfo(pi: str) -> str:
    cpu, revision, model = PIS[pi]
    variant, part, rev, features = _PI_CORE[cpu]
    cores = "".join(f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: {features}\nCPU implementer\t: 0x41\n"
                    f"CPU architecture: 8\nCPU variant\t: {variant}\nCPU part\t: {part}\nCPU revision\t: {rev}\n\n"
                    for i in range(4))
    return f"{cores}Revision\t: {revision}\nSerial\t\t: 100000000badc0de\nModel\t\t: {model}\n"


def say(message: str) -> None:
    print(f"[pi-check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def fail(message: str) -> None:
    print(f"pi-check: {message}", file=sys.stderr)
    sys.exit(2)


def sh(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def check_host() -> None:
    if os.geteuid() != 0:
        fail("needs root (mmdebstrap, mounts and chroot): run 'sudo make pi-check'")
    for tool, package in (("mmdebstrap", "mmdebstrap"), ("qemu-aarch64-static", "qemu-user-static"),
                          ("update-binfmts", "binfmt-support")):
        if not shutil.which(tool):
            fail(f"{tool} not found: apt-get install mmdebstrap qemu-user-static binfmt-support ({package})")
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], capture_output=True)
    if not (binfmt / "qemu-aarch64").exists() or "enabled" not in (binfmt / "qemu-aarch64").read_text():
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    entry = binfmt / "qemu-aarch64"
    if not entry.exists() or "enabled" not in entry.read_text():
        fail(f"arm64 binaries cannot run here: {entry} is not registered/enabled (binfmt_misc must be mountable "
             "and writable; 'update-binfmts --enable qemu-aarch64' failed)")


def rootfs(cache: Path, rebuild: bool) -> Path:
    target = cache / "bookworm-arm64"
    if target.is_dir() and (target / "usr/bin/python3").exists() and not rebuild:
        say(f"Debian bookworm arm64 userland: {target} (cached; --rebuild to make it again)")
        return target
    shutil.rmtree(target, ignore_errors=True)
    tmp = cache / "bookworm-arm64.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    say(f"mmdebstrap: Debian bookworm arm64 with {PACKAGES} (a few minutes under QEMU)")
    sh(["mmdebstrap", "--arch=arm64", "--variant=apt", f"--include={PACKAGES}", "bookworm", tmp, MIRROR])
    tmp.rename(target)
    return target


@contextlib.contextmanager
def mounted(root: Path):
    """/proc, /sys, /dev and the host's DNS setup inside the chroot; unmounted on the way out."""
    mounts = []
    try:
        for src, dst, args in (("proc", "proc", ["-t", "proc"]), ("sysfs", "sys", ["-t", "sysfs"]),
                               ("/dev", "dev", ["--rbind"])):
            sh(["mount", *args, src, root / dst])
            mounts.append(root / dst)
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        if Path(HOST_CA_BUNDLE).is_file():  # trust what the host trusts (e.g. a TLS-inspecting proxy's CA)
            shutil.copy(HOST_CA_BUNDLE, root / HOST_CA_BUNDLE.lstrip("/"))
        yield mounts
    finally:
        for path in reversed(mounts):
            subprocess.run(["umount", "-R", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def pi_cpuinfo(root: Path, pi: str, mounts: list[Path]):
    info = root / "root" / f"cpuinfo.{pi}"
    info.write_text(cpuinfo(pi))
    sh(["mount", "--bind", info, root / "proc/cpuinfo"])
    try:
        yield
    finally:
        subprocess.run(["umount", str(root / "proc/cpuinfo")], capture_output=True)


def in_chroot(root: Path, script: str, cpu: str, **kw) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8", "QEMU_CPU": cpu,
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_CERT": HOST_CA_BUNDLE}
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"  # looked up on the host's PATH, not env's
    return subprocess.run([chroot, str(root), "/bin/sh", "-ec", script], env=env, **kw)


def copy_checkout(root: Path) -> Path:
    """The checkout's tracked files (what 'git clone' gives the Pi user) as /root/fer-edge."""
    dest = root / "root" / "fer-edge"
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    files = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True, capture_output=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


def decode_frames(video: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    cap = cv2.VideoCapture(str(video))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        cv2.imwrite(str(out / f"{n:05d}.png"), frame)
        n += 1
    return n


def faces_by_frame(jsonl: Path) -> dict[int, list[dict]]:
    return {rec["frame"]: rec["faces"] for rec in map(json.loads, jsonl.read_text().splitlines())}


def compare(host: Path, pi: Path) -> dict:
    a, b = faces_by_frame(host), faces_by_frame(pi)
    total = agree = matched = 0
    max_diff = 0.0
    for frame in sorted(set(a) | set(b)):
        fa, fb = a.get(frame, []), b.get(frame, [])
        total += max(len(fa), len(fb))
        if not fa or not fb:
            continue
        iou = iou_matrix([f["box"] for f in fa], [f["box"] for f in fb])
        used = set()
        for i in np.argsort(-iou.max(axis=1)):
            j = int(iou[i].argmax())
            if iou[i, j] < 0.5 or j in used:
                continue
            used.add(j)
            matched += 1
            agree += fa[i]["label"] == fb[j]["label"]
            max_diff = max(max_diff, max(abs(fa[i]["scores"][k] - fb[j]["scores"][k]) for k in fa[i]["scores"]))
    return {"frames": len(set(a) | set(b)), "faces": total, "matched": matched, "label_agree": agree,
            "max_score_diff": max_diff}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="models/fer_micro_int8.tflite", help="model, relative to the checkout")
    p.add_argument("--frames", type=int, default=40, help="frames of the generated video (default 40)")
    p.add_argument("--pis", default="pi5,pi4", help="which Pis to emulate (default pi5,pi4)")
    p.add_argument("--rebuild", action="store_true", help="build the arm64 userland again")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    pis = args.pis.split(",")
    if not set(pis) <= set(PIS):
        fail(f"--pis {args.pis}: expected a comma-separated list of {', '.join(PIS)}")
    check_host()
    cache = cache_dir() / "pi-check"
    cache.mkdir(parents=True, exist_ok=True)
    root = rootfs(cache, args.rebuild)
    work = root / "root" / "pi-check"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    fer_edge = [sys.executable, "-m", "edge.commands"]
    say(f"test video: {args.frames} frames, decoded once into PNG frames for both sides")
    sh([*fer_edge, "-q", "demo-video", work / "video.mp4", "--frames", args.frames, "--seed", "3"], cwd=ROOT)
    decode_frames(work / "video.mp4", work / "frames")
    run_args = [args.model, "--source", "/root/pi-check/frames", "--headless"]
    say("x86 run on this machine")
    sh([*fer_edge, "-q", "run", *[a.replace("/root/pi-check", str(work)) for a in run_args],
        "--jsonl", work / "host.jsonl"], cwd=ROOT, stdout=subprocess.DEVNULL)
    copy_checkout(root)
    results = {}
    with mounted(root) as mounts:
        with pi_cpuinfo(root, pis[0], mounts):
            say("the Pi guide's install in the chroot: venv --system-site-packages, pip install '.[edge,pi]'")
            t0 = time.monotonic()
            done = in_chroot(root, "cd /root/fer-edge && python3 -m venv --system-site-packages .venv && "
                                   ". .venv/bin/activate && pip install -q '.[edge,pi]' && "
                                   "python -c 'import numpy, cv2, ai_edge_litert; print(numpy.__version__, "
                                   "cv2.__version__)'", PIS[pis[0]][0], capture_output=True, text=True)
            if done.returncode != 0:
                fail(f"pip install '.[edge,pi]' failed in the arm64 chroot: {done.stderr.strip()[-600:]}")
            say(f"installed in {time.monotonic() - t0:.0f} s: numpy, OpenCV {done.stdout.strip()}")
        for pi in pis:
            cpu = PIS[pi][0]
            with pi_cpuinfo(root, pi, mounts):
                say(f"{pi}: fer-edge run under QEMU_CPU={cpu}")
                t0 = time.monotonic()
                done = in_chroot(root, "cd /root/fer-edge && .venv/bin/fer-edge -q run " + " ".join(run_args)
                                 + f" --jsonl /root/pi-check/{pi}.jsonl", cpu, capture_output=True, text=True)
                if done.returncode != 0:
                    fail(f"{pi}: fer-edge run failed under QEMU ({cpu}): {done.stderr.strip()[-600:]}")
                results[pi] = {"qemu_cpu": cpu, "seconds": round(time.monotonic() - t0, 1),
                               **compare(work / "host.jsonl", work / f"{pi}.jsonl")}
    ok = True
    print(f"\n{args.model} on {args.frames} identical frames, x86 vs emulated arm64:")
    print("| Pi | QEMU_CPU | faces (x86) | matched | same label | max score diff | run s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for pi, r in results.items():
        print(f"| {pi} | {r['qemu_cpu']} | {r['faces']} | {r['matched']} | {r['label_agree']}/{r['matched']} | "
              f"{r['max_score_diff']:.4f} | {r['seconds']} |")
        ok &= r["matched"] == r["faces"] and r["label_agree"] == r["matched"] and r["faces"] > 0
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if not ok:
        print("pi-check: FAILED: a face was missed or labelled differently on arm64", file=sys.stderr)
        return 1
    print("pi-check: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
