"""The edge package is what a Raspberry Pi installs: it must work with TensorFlow and the other
stages absent. A subprocess blocks those imports and then imports every edge module, shows
``fer-edge run --help`` and runs the whole loop on a short video. (``test_layers.py`` checks the imports
statically, in every package.)"""

import json
import os
import pkgutil
import subprocess
import sys
import textwrap

from edge_testkit import demo_video

import edge

BLOCKED = ("tensorflow", "tf_keras", "keras", "train", "quantize", "firmware_export", "mobile_export", "model_card")

BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys
    BLOCKED = {BLOCKED!r}
    class Blocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"blocked import of {{name}} (edge must not import it)")
    sys.meta_path.insert(0, Blocker())
""")


def _run_blocked(code: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=120)


def test_every_edge_module_imports_without_tensorflow_or_other_stages(tmp_path):
    modules = sorted(m.name for m in pkgutil.walk_packages(edge.__path__, "edge."))
    assert {"edge.loop", "edge.picam", "edge.live.server", "edge.commands.run", "edge.commands.bench"} <= set(modules)
    proc = _run_blocked(f"""
        import importlib, sys
        for name in {modules!r}:
            if not name.endswith("__main__"):
                importlib.import_module(name)
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        from edge.commands.dispatch import main
        try:
            main(["run", "--help"])
        except SystemExit as e:
            assert e.code == 0, e.code
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "--source" in proc.stdout and "--listen-network" in proc.stdout


def test_whole_loop_runs_with_tensorflow_blocked(int8_model, tmp_path):
    video = tmp_path / "faces.mp4"
    demo_video(video, 12)
    proc = _run_blocked(f"""
        import sys
        from edge.commands.dispatch import main
        code = main(["run", {str(int8_model)!r}, "--source", {str(video)!r}, "--headless",
                     "--jsonl", "p.jsonl", "--out", "a.mp4"])
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not leaked, leaked
        sys.exit(code)
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(lines) == 12 and all(rec["faces"] for rec in lines)
    assert "| detect |" in proc.stdout

