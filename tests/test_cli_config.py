"""The command line <-> config dataclass binding (``edge.core.cliconfig``): for every stage, a config whose every
field differs from its default is written as arguments (``to_argv``) and parsed back into the same config
(``config_from_args``); the configs are built by walking the dataclasses' fields, so a new field is covered (or
the test names it as having no option)."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path

import pytest

from edge.core import cliconfig
from edge.core.deprecated import warn_deprecated

#: fields that have no command-line option, on purpose
NOT_OPTIONS = {"QuantizeConfig": {"format"}}


def _stage(name):
    """(command module, config class, arguments every parse needs besides the config's)."""
    if name == "train":
        pytest.importorskip("train.config")
        from train import cli
        from train.config import TrainConfig
        return cli, TrainConfig, []
    if name == "tune":
        from train import tune_cli
        from train.tune_config import TuneConfig
        return tune_cli, TuneConfig, []
    if name == "quantize":
        from quantize import cli
        from quantize.config import QuantizeConfig
        return cli, QuantizeConfig, ["runs/r"]
    if name == "export-firmware":
        from firmware_export import cli
        from firmware_export.config import ExportConfig
        return cli, ExportConfig, []
    from edge.collect_options import CollectOptions
    from edge.commands import collect
    return collect, CollectOptions, ["--source", "x.mp4"]


STAGES = ("train", "tune", "quantize", "export-firmware", "collect")


def _other(b, default, n: int = 0):
    """A valid value other than ``default`` for option ``b``."""
    opt = b.option
    if isinstance(default, bool):
        return not default
    if opt.choices:
        return next(c for c in opt.choices if c != default)
    if isinstance(default, (tuple, list)) and default:
        return type(default)(_other(b, v) for v in default)
    if isinstance(default, float):
        return default / 2 if default else 0.05
    if isinstance(default, int):
        return default + 1
    if isinstance(default, str):
        return default + "x"
    if opt.text is cliconfig.comma_text:  # one list of numbers per occurrence
        return [0.5, 1.5]
    if opt.type in (None, str, Path):
        return (opt.type or str)(f"/no/such/{b.name}{n}")
    return opt.type(str(2 + n))  # a number, read as the option reads it


def every_field_changed(cls):
    """A ``cls`` config whose every bound option differs from its default (repeated ones: given twice)."""
    values = {}
    for b in cliconfig.bound_options(cls):
        default = None if b.default is dataclasses.MISSING else b.default
        if b.option.repeat:
            values[b.dest] = [_other(b, None, n) for n in range(2)]
        else:
            values[b.dest] = _other(b, default)
    return cliconfig.config_from_args(argparse.Namespace(**values), cls)


def _unchanged(config, prefix=""):
    """The fields of ``config`` (nested ones too) still at their dataclass default."""
    out = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out += _unchanged(value, f"{prefix}{f.name}.")
        elif f.default is not dataclasses.MISSING:
            out += [prefix + f.name] if value == f.default else []
        elif f.default_factory is not dataclasses.MISSING:
            out += [prefix + f.name] if value == f.default_factory() else []
    return out


@pytest.mark.parametrize("stage", STAGES)
def test_a_config_with_every_field_changed_round_trips_through_the_command_line(stage):
    module, cls, extra = _stage(stage)
    config = every_field_changed(cls)
    unchanged = set(_unchanged(config))
    if stage == "tune":  # tune takes a subset of the train options; the others are searched or fixed
        from train.tune_config import TRAIN_OPTIONS
        unchanged = {u for u in unchanged if not (u.startswith("train.") and u.split(".")[1] not in TRAIN_OPTIONS)}
    assert unchanged == NOT_OPTIONS.get(cls.__name__, set()), "fields with no option (or a value left at default)"

    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    argv = module.to_argv(config)
    assert module.config_from_args(parser.parse_args(extra + argv)) == config, argv
    if stage not in ("export-firmware", "collect"):  # (those have required fields)
        default = cls()
        assert module.config_from_args(parser.parse_args(extra + module.to_argv(default))) == default


@pytest.mark.parametrize("stage", STAGES)
def test_the_defaults_and_choices_come_from_the_dataclass(stage):
    module, cls, extra = _stage(stage)
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    actions = {a.dest: a for a in parser._actions}
    for b in cliconfig.bound_options(cls):
        if b.dest not in actions:  # added by a shared helper (collect's --min-face)
            continue
        if b.option.choices is not None:
            assert tuple(actions[b.dest].choices) == tuple(b.option.choices)
        assert "%(default)s" not in (actions[b.dest].help or "")
    args = parser.parse_args(extra + (["--out-dir", "o"] if stage in ("export-firmware", "collect") else []))
    config = module.config_from_args(args)
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            assert getattr(config, f.name) == f.default, f.name


def test_the_model_card_reproduces_every_train_option():
    """The card's Reproduce line is train's to_argv, with the data and models shown by name."""
    pytest.importorskip("tf_keras")
    from model_card.card import train_command
    from train import cli
    from train.config import TrainConfig

    config = every_field_changed(TrainConfig)
    line = train_command(config, "run1")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(shlex.split(line)[2:])
    assert args.name == "run1"
    shown = dataclasses.replace(config, data=[f"<{Path(d).name}>" for d in config.sources],
                                init=f"<{Path(config.init).name}>", teacher=[f"<{Path(t).name}>" for t in config.teachers])
    assert cli.config_from_args(args) == shown


def test_tune_prints_the_best_trial_as_a_train_command():
    from train import cli
    from train.config import TrainConfig

    best = TrainConfig(preset="pi", lr=0.0012345678901, preset_options={"width": 8, "depth": 2, "dropout": 0.35})
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.config_from_args(parser.parse_args(cli.to_argv(best))) == best  # every digit of the lr kept
    assert cli.to_argv(best)[:2] == ["--preset", "pi"]


def test_a_dict_key_without_an_option_cannot_be_written():
    from train import cli
    from train.config import TrainConfig

    with pytest.raises(ValueError, match="hidden"):
        cli.to_argv(TrainConfig(preset="seed", preset_options={"hidden": 64}))


def test_deprecated_spellings_still_work(caplog):
    import logging

    from train import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--expw-margin", "0.3"])
    assert cli.config_from_args(args).framing_margin == 0.3
    with caplog.at_level(logging.WARNING):
        warn_deprecated(args, logging.getLogger("t"))
    assert [r.message for r in caplog.records] == [
        "--expw-margin is deprecated and will be removed in the next release: use --framing-margin"]
    for stage in ("export-firmware", "collect"):
        module, _, extra = _stage(stage)
        parser = argparse.ArgumentParser()
        module.add_arguments(parser)
        assert module.config_from_args(parser.parse_args(extra + ["--out", "o"])).out == type(
            module.config_from_args(parser.parse_args(extra + ["--out-dir", "o"])).out)("o")
