"""The floors of docs/layout.md hold in the code: every package imports only packages on floors below its own
(never sideways, never up), by ``import``, ``from``, ``importlib.import_module``/``__import__`` or a module path
written as a string (an entry-point-like "pkg.mod:attr"); inside ``edge``, ``edge.core`` imports nothing else of
``edge`` and only ``edge/__main__.py`` imports ``edge.commands``. Statically, every ``.py`` file of every package,
imports inside functions included; ``test_edge_imports.py`` checks at run time that edge works with the others
absent."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "docs" / "layout.md"
#: top-level folders that hold no code of their own
NOT_CODE = {"tests", "docs", "models"}
FLOOR_ROW = re.compile(r"^\| (\d+) \| `(\w+)/` \|", re.M)


def floors() -> dict[str, int]:
    """{package: floor} from the table in docs/layout.md."""
    return {name: int(floor) for floor, name in FLOOR_ROW.findall(LAYOUT.read_text(encoding="utf-8"))}


def code_packages() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and p.name not in NOT_CODE and any(p.glob("*.py")))


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path, packages, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, module) for every module ``path`` imports or names as a module path of one of ``packages``."""
    module = module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    string_module = re.compile(rf"^({'|'.join(packages)})((\.[A-Za-z_]\w*)+(:\w+)?|:\w+)$")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, a.name) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package this module is in
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            else:
                found.add((node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and string_module.match(node.value.strip()):
            found.add((node.lineno, node.value.strip().split(":")[0]))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            found.add((node.lineno, str(node.args[0].value)))
    return sorted(found)


def violations(package: str, floor_of: dict[str, int], root: Path = ROOT) -> list[str]:
    """Every import in ``package`` of a package not on a floor below it, and (in edge) across its own rules."""
    found = []
    for path in sorted((root / package).rglob("*.py")):
        where = path.relative_to(root)
        importer = module_name(path, root)
        for line, name in imported_names(path, list(floor_of), root):
            top = name.split(".")[0]
            if top in floor_of and top != package and floor_of[top] >= floor_of[package]:
                found.append(f"{where}:{line} imports {name} (floor {floor_of[top]}; {package} is on floor "
                             f"{floor_of[package]})")
            if top == "edge" == package:
                if importer.startswith("edge.core") and not (name == "edge" or name.startswith("edge.core")):
                    found.append(f"{where}:{line} imports {name} (edge.core imports nothing else of edge)")
                if name.startswith("edge.commands") and not importer.startswith("edge.commands") \
                        and importer != "edge.__main__":
                    found.append(f"{where}:{line} imports {name} (only edge/__main__.py imports edge.commands)")
    return found


def test_every_package_has_a_floor_in_the_layout():
    floor_of = floors()
    assert {"edge", "train", "firmware_export", "quantize", "mobile_export", "model_card"} <= set(floor_of)
    assert sorted(floor_of) == code_packages(), "docs/layout.md's table lists every package, and only those"
    assert floor_of["edge"] == 1 and floor_of["train"] == floor_of["firmware_export"] < floor_of["quantize"]


@pytest.mark.parametrize("package", code_packages())
def test_package_imports_only_floors_below(package):
    assert violations(package, floors()) == []


def test_models_holds_no_code():
    assert [p.name for p in (ROOT / "models").rglob("*.py")] == ["__init__.py"]
    assert not imported_names(ROOT / "models" / "__init__.py", list(floors()))


def test_the_check_catches_each_kind_of_import(tmp_path):
    """Not vacuous: an upward import inside a function, a sideways one, a dynamic one and a module path string are
    each found, and so are edge.core reaching into edge and edge reaching into edge.commands."""
    files = {
        "train/a.py": "def f():\n    import quantize.cli\n",
        "train/b.py": "from firmware_export import arena\n",
        "train/c.py": "import importlib\nimportlib.import_module('model_card.card')\n__import__('quantize')\n",
        "train/d.py": "COMMANDS = {'x': 'mobile_export.cli:main'}\n",
        "train/ok.py": "from edge.core import spec\nfrom . import a\nimport numpy\nNAME = 'quantize'\n",
        "edge/core/x.py": "from edge.detect import FaceDetector\nfrom ..core import errors\n",
        "edge/loop.py": "from edge.commands import dispatch\n",
        "edge/__main__.py": "from edge.commands.dispatch import main\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    floor_of = {"edge": 1, "train": 2, "firmware_export": 2, "quantize": 3, "mobile_export": 4, "model_card": 4}
    assert [v.split(" (")[0] for v in violations("train", floor_of, tmp_path)] == [
        "train/a.py:2 imports quantize.cli", "train/b.py:1 imports firmware_export",
        "train/c.py:2 imports model_card.card", "train/c.py:3 imports quantize",
        "train/d.py:1 imports mobile_export.cli"]
    assert [v.split(" (")[0] for v in violations("edge", floor_of, tmp_path)] == [
        "edge/core/x.py:1 imports edge.detect", "edge/loop.py:1 imports edge.commands"]
