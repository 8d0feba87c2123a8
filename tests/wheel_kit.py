"""Building the fer-edge wheel offline and installing it, non-editable, into a clean venv per role.

Nothing is downloaded: the wheel is built without build isolation and installed with --no-deps and --no-index. A
role's venv borrows its dependencies from the environment running the tests, through a folder of links to that
environment's installed packages less those the role does not install (an edge venv has no TensorFlow): a path in
a .pth file does not run that folder's own .pth files, so an editable install of the checkout there stays
invisible, and the links leave out the checkout's own distribution.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: what the wheel build does not need: environments, outputs, caches (the checkout may hold large ones)
IGNORE = shutil.ignore_patterns(".git", ".venv*", "node_modules", "runs", "build", "dist", "*.egg-info",
                                "__pycache__", ".pytest_cache", ".cache", "data")

#: what each role does not install (top-level module or distribution names; a trailing * is a prefix)
ROLE_LACKS = {
    # pip install 'fer-edge[edge]': OpenCV, NumPy, LiteRT
    "edge": ("tensorflow*", "tf_keras", "keras", "keras_tuner", "kt_legacy", "tensorboard*", "sklearn",
             "scikit_learn", "scipy", "matplotlib", "tflite_micro", "mediapipe", "jax", "jaxlib", "torch"),
    # pip install 'fer-edge[edge,mobile]': TensorFlow and tf_keras too, not the training tools
    "mobile": ("tensorflow_model_optimization", "keras_tuner", "kt_legacy", "sklearn", "scikit_learn",
               "matplotlib", "tflite_micro", "mediapipe"),
}
#: never linked: this checkout's own distribution and its editable-install hooks
OWN = ("fer_edge", "__editable__", "_fer_edge", "edge", "train", "quantize", "mobile_export", "firmware_export",
       "model_card", "benchmarks", "fer_edge_models", "models", "tools")


def copy_source(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=IGNORE)
    return dest


def build_wheel(src: Path, dist: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                    "--quiet", "--wheel-dir", str(dist), str(src)], check=True, cwd=src.parent)
    (built,) = dist.glob("fer_edge-*.whl")
    return built


def _top(name: str) -> str:
    return re.split(r"[-.]", name, maxsplit=1)[0].lower()


def _lacks(top: str, lacks: tuple[str, ...]) -> bool:
    return any(top.startswith(b[:-1]) if b.endswith("*") else top == b for b in lacks)


def site_dirs() -> list[Path]:
    """The test environment's installed-package folders, in import order (a venv may extend another by .pth)."""
    own = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    found = [Path(p) for p in sys.path if p.endswith(("site-packages", "dist-packages")) or p in own]
    return list(dict.fromkeys(p for p in found if p.is_dir() and p.resolve() != ROOT.resolve()))


def dependency_links(folder: Path, role: str) -> Path:
    """A folder of links to the test environment's packages that ``role`` installs."""
    folder.mkdir(parents=True)
    for site in site_dirs():
        for entry in site.iterdir():
            top = _top(entry.name)
            if (entry.suffix == ".pth" or entry.name == "__pycache__" or top in OWN or _lacks(top, ROLE_LACKS[role])
                    or (folder / entry.name).exists()):
                continue
            (folder / entry.name).symlink_to(entry)
    return folder


def role_venv(wheel: Path, venv: Path, role: str) -> Path:
    """A clean venv with the wheel installed (non-editable) and ``role``'s dependencies; its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    deps = dependency_links(venv / "deps", role)
    (site / "fer_edge_role_deps.pth").write_text(f"{deps}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                    "--quiet", str(wheel)], check=True)
    return venv / "bin"
