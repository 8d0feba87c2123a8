"""The README and the guides in docs/ say what works: every command in their shell blocks exists and parses
(fer-edge subcommands and options, python -m benchmarks.X modules, make targets), every relative link points
at a file, and the README stays a quick start."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from edge.commands.dispatch import build_parser

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SEPARATORS = {"&&", "||", ";", "|", "&", "do", "done", "then", "fi"}


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", text, flags=re.S | re.M)


def commands(block: str) -> list[list[str]]:
    """The simple commands of a shell block: continuations joined, comments dropped, split at && ; | and loops,
    leading VAR=value and sudo dropped. A <placeholder> becomes one word."""
    block = re.sub(r"<[^<>\n]*>", "PLACEHOLDER", block.replace("\\\n", " "))
    out = []
    for line in block.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split, lexer.commenters = True, "#"
        current = []
        for token in lexer:
            if token in SEPARATORS:
                out.append(current)
                current = []
            else:
                current.append(token)
        out.append(current)
    cleaned = []
    for words in out:
        while words and (re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]) or words[0] == "sudo"):
            words = words[1:]
        if words:
            cleaned.append(words)
    return cleaned


def documented() -> list[tuple[str, list[str]]]:
    found = []
    for doc in DOCS:
        for block in shell_blocks(doc.read_text()):
            found += [(doc.relative_to(ROOT).as_posix(), words) for words in commands(block)]
    return found


COMMANDS = documented()
FER_EDGE = [(doc, words) for doc, words in COMMANDS if words[0] == "fer-edge"]
#: python -m of this project's modules (benchmarks.X, a stage); python3 -m venv and the like are not ours
MODULES = [(doc, words) for doc, words in COMMANDS if words[:2] in (["python", "-m"], ["python3", "-m"])
           and len(words) > 2 and (ROOT / words[2].split(".")[0]).is_dir()]
MAKE = [(doc, words) for doc, words in COMMANDS if words[0] == "make"]


def test_the_docs_document_commands():
    assert len(DOCS) > 10 and len(FER_EDGE) > 60 and MODULES and MAKE


@pytest.mark.parametrize("doc,words", FER_EDGE, ids=[f"{d}:{' '.join(w)[:60]}" for d, w in FER_EDGE])
def test_documented_fer_edge_command_parses(doc, words):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = build_parser().parse_args(words[1:])
    except SystemExit as e:
        pytest.fail(f"{doc}: '{shlex.join(words)}' does not parse (exit {e.code}): {err.getvalue().strip()}")
    assert not getattr(args, "_deprecated", None), f"{doc}: '{shlex.join(words)}': {args._deprecated}"


@pytest.mark.parametrize("doc,words", MODULES, ids=[f"{d}:{' '.join(w)[:60]}" for d, w in MODULES])
def test_documented_python_module_exists(doc, words):
    module = words[2]
    path = ROOT.joinpath(*module.split("."))
    assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), f"{doc}: no module {module}"


def test_benchmarks_are_documented_as_modules():
    for doc in DOCS:
        assert not re.search(r"python3? benchmarks/", doc.read_text()), f"{doc}: run benchmarks as python -m benchmarks.X"


def test_documented_make_targets_exist():
    targets = set(re.findall(r"^([\w.-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    for doc, words in MAKE:
        for word in words[1:]:
            if "=" not in word and not word.startswith("-"):
                assert word in targets, f"{doc}: make {word}: no such target in the Makefile"


def test_relative_links_point_at_files():
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#")[0]).resolve()
            assert path.exists(), f"{doc.relative_to(ROOT)}: link to {target}: no such file"


def test_readme_is_a_quick_start():
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 250
    first_screen = "\n".join(lines[:40])
    for needed in ("fer-edge fetch-models", "fetch-models --from", "fer-edge run --source", "--source usb:0"):
        assert needed in first_screen, needed
    for image in ("docs/live_view.png", "docs/session_summary.png"):
        assert image in text or image in (ROOT / "docs" / "live-view.md").read_text().replace("](", "](docs/")
