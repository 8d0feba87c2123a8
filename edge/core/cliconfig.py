"""One owner of the binding between a stage's command line and its config dataclass.

Each field of a config dataclass declares its option once, in its metadata (``field(metadata=option(...))``):
the flag, the help, the choices and how one value is read from the command line (``type``) and written back
(``text``). From that declaration come the argparse options with the dataclass's defaults and choices
(``add_options``), the config of parsed arguments (``config_from_args``) and the arguments that reproduce a
config (``to_argv``: every field that differs from its default), so ``config_from_args(parse(to_argv(c))) == c``
and a new field can never drop out of a printed command.

A field holding another config dataclass is bound field by field (``nested``, optionally a subset); a dict field
is bound key by key (``option(keys=...)``). In help texts ``%(default)s`` is the dataclass's default, also when
the options are added with ``suppress=True`` (unset options stay absent from the namespace, so a command can
tell what was given). Standard library only: command modules use it to build ``--help``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any

from edge.core.deprecated import add_alias

_KEY = "fer_edge.cli"


@dataclass(frozen=True)
class Option:
    flag: str | None = None  # "--name"; default: "--" + the field's name with '-' for '_'
    help: str | Callable[[], str] = ""  # a callable: help computed when the parser is built
    metavar: str | None = None
    choices: tuple | None = None
    type: Callable[[str], Any] | None = None  # reads one value (default: the type of the field's default)
    text: Callable[[Any], str] | None = None  # writes one value (default: ``text``)
    repeat: bool = False  # given once per item of a list value (a single item may be stored as the item)
    always: bool = False  # to_argv writes it even at its default (a command reads better with it, e.g. --preset)
    positional: bool = False  # an optional positional argument (nargs="?")
    required: bool = False
    deprecated: tuple[str, ...] = ()  # older spellings, accepted with a warning (edge.core.deprecated)
    keys: dict[str, Option] | None = None  # a dict field: one option per key (absent key: not given)
    group: str | None = None  # the argument group's title in --help
    dest: str | None = None  # the namespace attribute (default: the field's name)


@dataclass(frozen=True)
class Nested:
    """A field holding a config dataclass, bound field by field; ``only`` (field name -> help, or None for the
    nested field's own) limits which of its fields are options; the others keep their defaults."""
    only: dict[str, str | None] | None = None
    group: str | None = None  # the argument group of its fields (unless they name their own)


def option(flag: str | None = None, **kwargs) -> dict[str, Option]:
    """Field metadata binding the field to a command-line option (see ``Option``)."""
    return {_KEY: Option(flag, **kwargs)}


def nested(only: dict[str, str | None] | None = None, group: str | None = None) -> dict[str, Nested]:
    """Field metadata binding a field that holds a config dataclass, field by field (see ``Nested``)."""
    return {_KEY: Nested(only, group)}


def text(value: Any) -> str:
    """A value as a command-line word: numbers in their shortest exact form (0.25, 1, 1e-05)."""
    if isinstance(value, float):
        short = f"{value:g}"
        return short if float(short) == value else repr(value)
    return str(value)


def comma_separated(item: Callable[[str], Any] = float, n: int | None = None, what: str = "comma-separated numbers",
                    into: type = list) -> Callable[[str], Any]:
    """A ``type`` reading 'a,b,c' into ``into`` of ``item``s (exactly ``n`` of them when given); ``what`` names
    what was expected in the error."""
    def parse(word: str):
        try:
            values = into(item(v) for v in word.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {word!r}") from None
        if n is not None and len(values) != n:
            raise argparse.ArgumentTypeError(f"expected {n} {what}, got {word!r}")
        return values
    return parse


def comma_text(values) -> str:
    return ",".join(text(v) for v in values)


@dataclass(frozen=True)
class _Bound:
    path: tuple[str, ...]  # field names from the top config down to this option's field (or dict key)
    option: Option
    default: Any  # the dataclass's default (MISSING: the field has none)

    @property
    def name(self) -> str:  # the field's name (or the dict's key)
        return self.path[-1]

    @property
    def dest(self) -> str:
        return self.option.dest or self.name

    @property
    def flag(self) -> str:
        return self.option.flag or "--" + self.name.replace("_", "-")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def bound_options(cls: type, prefix: tuple[str, ...] = (), only: dict[str, str | None] | None = None,
                  group: str | None = None) -> list[_Bound]:
    """The options of config dataclass ``cls``, in field order (nested configs and dict keys in place)."""
    out: list[_Bound] = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(_KEY)
        if meta is None or (only is not None and f.name not in only):
            continue
        default = _default(f)
        if isinstance(meta, Nested):
            out += bound_options(type(default), prefix + (f.name,), meta.only, meta.group)
            continue
        if only is not None and only[f.name] is not None:
            meta = dataclasses.replace(meta, help=only[f.name])
        if only is not None or (group and not meta.group):  # a subset bound into another command: its groups
            meta = dataclasses.replace(meta, group=group)
        if meta.keys is not None:
            out += [_Bound(prefix + (f.name, k), dataclasses.replace(opt, group=opt.group or meta.group), MISSING)
                    for k, opt in meta.keys.items()]
        else:
            out.append(_Bound(prefix + (f.name,), meta, default))
    return out


def dests(cls: type) -> set[str]:
    """The namespace attributes the options of ``cls`` store into."""
    return {b.dest for b in bound_options(cls)}


def add_options(parser: argparse.ArgumentParser, cls: type, *, suppress: bool = False, skip: tuple[str, ...] = (),
                groups: dict[str, Any] | None = None) -> dict[str, Any]:
    """Add the options of config dataclass ``cls`` (but those whose dest is in ``skip``: added elsewhere) to
    ``parser``, each in its argument group (made as needed, or taken from ``groups``); returns the groups."""
    groups = {} if groups is None else groups
    for b in bound_options(cls):
        if b.dest in skip:
            continue
        opt = b.option
        where = parser
        if opt.group:
            if opt.group not in groups:
                groups[opt.group] = parser.add_argument_group(opt.group)
            where = groups[opt.group]
        default = None if b.default is MISSING else b.default
        help_text = opt.help() if callable(opt.help) else opt.help
        kwargs: dict[str, Any] = {"help": help_text.replace("%(default)s", _help_default(b))}
        if opt.metavar or (not opt.choices and not opt.positional and not isinstance(default, bool)):
            kwargs["metavar"] = opt.metavar or b.flag[2:].upper().replace("-", "_")  # named as the flag is
        if opt.choices is not None:
            kwargs["choices"] = opt.choices
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction if default else "store_true"
        else:
            kwargs["type"] = opt.type or (type(default) if default is not None else None)
            if opt.repeat:
                kwargs["action"] = "append"
        if suppress:
            kwargs["default"] = argparse.SUPPRESS
        elif not opt.repeat:  # append would add to a default list
            kwargs["default"] = default
        if opt.positional:
            where.add_argument(b.dest, nargs="?", **kwargs)
            continue
        if opt.required and opt.deprecated:  # the new spelling or an old one: required as a group
            where = where.add_mutually_exclusive_group(required=True)
        elif opt.required:
            kwargs["required"] = True
        where.add_argument(b.flag, dest=b.dest, **kwargs)
        for old in opt.deprecated:
            add_alias(where, old, b.flag, b.dest, **{k: v for k, v in kwargs.items()
                                                    if k in ("metavar", "type", "choices")})
    return groups


def _help_default(b: _Bound) -> str:
    if b.default is MISSING or b.default is None:
        return "none"
    if isinstance(b.default, bool):
        return "on" if b.default else "off"
    if b.option.repeat:
        return " ".join((b.option.text or text)(v) for v in b.default)
    return (b.option.text or text)(b.default)


def values_from_args(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The keyword arguments of ``cls`` that the parsed ``args`` give, nested ones as dicts; options that were
    not given (absent, or None when an optional has no default) are left out, so the dataclass's defaults hold."""
    given = vars(args)
    values: dict[str, Any] = {}
    for b in bound_options(cls):
        if b.dest not in given or (given[b.dest] is None and b.default is not None and b.default is not MISSING):
            continue
        target = values
        for name in b.path[:-1]:
            target = target.setdefault(name, {})
        target[b.path[-1]] = given[b.dest]
    return values


def config_from_args(args: argparse.Namespace, cls: type, **overrides):
    """The ``cls`` config that parsed ``args`` stand for (``overrides`` replace whole fields)."""
    values = values_from_args(args, cls)
    for f in dataclasses.fields(cls):  # nested configs: their given fields over their defaults
        if f.name in values and isinstance(f.metadata.get(_KEY), Nested):
            values[f.name] = dataclasses.replace(_default(f), **values[f.name])
    values.update(overrides)
    return cls(**values)


def to_argv(config: Any) -> list[str]:
    """The command-line arguments that reproduce ``config``: every option whose value differs from its default
    (and those marked ``always``), positional arguments first. A dict key without an option is an error."""
    positional: list[str] = []
    argv: list[str] = []
    for b in bound_options(type(config)):
        value = config
        for name in b.path[:-1]:
            value = getattr(value, name)
        container = value
        if isinstance(container, dict):  # a bound dict: every key present was given
            _check_keys(container, b, type(config))
            if b.name not in container:
                continue
            value = container[b.name]
        else:
            value = getattr(container, b.name)
            if value is None or (value == b.default and not b.option.always):
                continue
        write = b.option.text or text
        if b.option.positional:
            positional.append(write(value))
        elif isinstance(b.default, bool):
            argv.append(b.flag if value else "--no-" + b.flag[2:])
        elif b.option.repeat:
            for item in value if isinstance(value, (list, tuple)) else [value]:
                argv += [b.flag, write(item)]
        else:
            argv += [b.flag, write(value)]
    return positional + argv


def _check_keys(values: dict, b: _Bound, cls: type) -> None:
    known = {k for k in bound_options(cls) if k.path[:-1] == b.path[:-1]}
    extra = set(values) - {k.name for k in known}
    if extra:
        raise ValueError(f"{'.'.join(b.path[:-1])} {sorted(extra)}: no command-line option writes "
                         f"{'this' if len(extra) == 1 else 'these'}")


