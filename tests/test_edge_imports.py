"""The edge package is what a Raspberry Pi installs: it must work with TensorFlow and the other
stages absent. A subprocess blocks those imports and then imports every edge module, shows
``fer-edge run --help`` and runs the whole loop on a short video."""

import ast
import json
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import edge
from edge_testkit import demo_video

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


UPPER = ("train", "quantize", "firmware_export", "mobile_export", "model_card", "benchmarks")
EDGE_DIR = Path(edge.__file__).parent
#: a module path of an upper package, as import_module or an entry point would take it
UPPER_MODULE = re.compile(rf"^({'|'.join(UPPER)})((\.[A-Za-z_]\w*)+(:\w+)?|:\w+)$")


def _edge_sources():
    return sorted(EDGE_DIR.rglob("*.py"))


def test_edge_source_imports_no_upper_package():
    """Static: no ``import``/``from`` of a package above edge anywhere in edge, including inside functions."""
    found = []
    for path in _edge_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in UPPER]
    assert not found, found


def test_edge_source_names_no_upper_module_as_a_string():
    """By any means: no ``importlib.import_module("train.x")``, ``__import__``, entry-point-like "pkg.mod:attr" or
    module path string in edge; its commands come from the installed entry points."""
    found = []
    for path in _edge_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and UPPER_MODULE.match(node.value.strip()):
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                if str(node.args[0].value).split(".")[0] in UPPER:
                    found.append(f"{path.name}:{node.lineno} import of {node.args[0].value!r}")
    assert not found, found


def test_the_string_check_catches_a_dynamic_import():
    """The string check above is not vacuous: it flags the dispatch table edge/commands/dispatch.py used to have."""
    tree = ast.parse('importlib.import_module("quantize.cli")\nCOMMANDS = {"train": "train.cli"}')
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    assert [s for s in strings if UPPER_MODULE.match(s)] == ["quantize.cli", "train.cli"]
