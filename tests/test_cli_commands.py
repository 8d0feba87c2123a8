"""``fer-edge`` lists the commands installed as ``fer_edge.commands`` entry points (pyproject.toml) and names no
package itself: a command plugs in by registering, and one whose extra is missing says what to install."""

import importlib.metadata
import sys
import types

import pytest

from edge.commands import dispatch as cli


def _entry_points(*pairs):
    return [importlib.metadata.EntryPoint(name, value, cli.GROUP) for name, value in pairs]


@pytest.fixture
def plugin(monkeypatch):
    """A command module of a package edge has never heard of, registered next to the installed ones."""
    module = types.ModuleType("fer_plugin_cmd")
    module.HELP = "say hello from a plug-in"
    module.add_arguments = lambda p: p.add_argument("--who", default="world")
    module.run = lambda args: print(f"hello {args.who}") or 0
    monkeypatch.setitem(sys.modules, "fer_plugin_cmd", module)
    installed = list(importlib.metadata.entry_points(group=cli.GROUP))
    monkeypatch.setattr(cli.importlib.metadata, "entry_points",
                        lambda group: [*installed, *_entry_points(("hello", "fer_plugin_cmd"))])
    return module


def test_every_command_of_pyproject_is_installed_and_listed(capsys):
    installed = cli.commands()
    assert {"data", "train", "evaluate", "tune", "quantize", "model-card", "export-firmware", "export-mobile",
            "collect", "run", "bench", "fetch-models", "demo-video"} <= set(installed)
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "quantization-aware training" in out and "export-firmware" in out and "demo-video" in out


def test_a_registered_command_plugs_in(plugin, capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "say hello from a plug-in" in capsys.readouterr().out
    assert cli.main(["hello", "--who", "pi"]) == 0
    assert capsys.readouterr().out == "hello pi\n"


def test_a_missing_extra_gives_the_one_line_hint(monkeypatch, capsys):
    real = cli.importlib.util.find_spec
    present = {"tensorflow", "tf_keras"}  # as on a workstation that lacks only tfmot (also in the edge-only venv)
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow_model_optimization"
                        else (object() if name in present else real(name, *a)))
    assert cli.main(["quantize", "runs/x"]) == cli.NOT_INSTALLED
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fer-edge: 'quantize' needs tensorflow_model_optimization, which is not installed here: "
                   "pip install 'fer-edge[train]'"]


def test_several_missing_modules_read_as_a_sentence(monkeypatch, capsys):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name in ("tensorflow", "tf_keras", "flatbuffers") else real(name, *a))
    assert cli.main(["export-mobile", "micro", "--out-dir", "x"]) == cli.NOT_INSTALLED
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "needs tensorflow, tf_keras and flatbuffers, which are not installed here" in line


def test_a_command_whose_module_is_gone_says_so(monkeypatch, capsys):
    monkeypatch.setattr(cli.importlib.metadata, "entry_points",
                        lambda group: _entry_points(("gone", "fer_no_such_package.cli")))
    assert cli.main(["gone"]) == cli.NOT_INSTALLED
    assert capsys.readouterr().err.strip().splitlines() == [
        "fer-edge: 'gone' needs fer_no_such_package, which is not installed here: pip install fer-edge"]


def test_no_registered_commands_is_one_line_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setattr(cli.importlib.metadata, "entry_points", lambda group: [])
    assert cli.main(["run"]) == cli.NOT_INSTALLED
    assert "no commands are registered" in capsys.readouterr().err
