"""Board budgets: does model + arena + TFLM runtime fit a target, and how fast might it run?

The targets live in ``boards.json`` (a data table, documented there): flash, RAM, core, clock, the
int8 MAC/cycle figure of the core with its optimized kernels and the runtime allowances.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from edge.core.errors import UserError

KIB = 1024


@dataclass(frozen=True)
class Board:
    id: str
    title: str
    mcu: str
    core: str
    clock_mhz: float
    flash_kb: int
    ram_kb: int
    mac_per_cycle: float
    mac_per_cycle_source: str
    kernels: str
    runtime_flash_kb: int
    runtime_ram_kb: int
    largest_block_kb: int | None = None
    notes: str = ""


@dataclass(frozen=True)
class Fit:
    board: Board
    model_bytes: int
    arena_bytes: int
    flash_needed: int  # bytes: model + TFLM runtime code
    ram_needed: int  # bytes: arena + runtime RAM
    latency_ms: float  # MACs / (MAC/cycle * clock)
    problems: tuple[str, ...]  # empty when it fits

    @property
    def fits(self) -> bool:
        return not self.problems


def load_boards(text: str | None = None) -> dict[str, Board]:
    """The board table (``boards.json`` shipped with the package unless ``text`` is given)."""
    if text is None:
        text = resources.files("firmware_export").joinpath("boards.json").read_text(encoding="utf-8")
    table = json.loads(text)["boards"]
    return {key: Board(id=key, **fields) for key, fields in table.items()}


def select_boards(choice: str | None, boards: dict[str, Board]) -> list[Board]:
    """``None`` or ``"all"`` -> every board; otherwise the one named (unknown -> UserError)."""
    if choice is None or choice == "all":
        return list(boards.values())
    if choice not in boards:
        raise UserError(f"--board {choice!r}: unknown board; expected 'all' or one of {', '.join(boards)}")
    return [boards[choice]]


def fit_board(board: Board, model_bytes: int, arena_bytes: int, macs: int) -> Fit:
    flash = model_bytes + board.runtime_flash_kb * KIB
    ram = arena_bytes + board.runtime_ram_kb * KIB
    problems = []
    if flash > board.flash_kb * KIB:
        problems.append(f"flash needs {flash / KIB:.1f} KiB (model {model_bytes / KIB:.1f} + runtime "
                        f"{board.runtime_flash_kb}) of {board.flash_kb} KiB")
    if ram > board.ram_kb * KIB:
        problems.append(f"RAM needs {ram / KIB:.1f} KiB (arena {arena_bytes / KIB:.1f} + runtime "
                        f"{board.runtime_ram_kb}) of {board.ram_kb} KiB")
    if board.largest_block_kb is not None and arena_bytes > board.largest_block_kb * KIB:
        problems.append(f"the {arena_bytes / KIB:.1f} KiB arena exceeds the largest contiguous SRAM block "
                        f"({board.largest_block_kb} KiB)")
    latency_ms = macs / (board.mac_per_cycle * board.clock_mhz * 1e6) * 1e3
    return Fit(board, model_bytes, arena_bytes, flash, ram, latency_ms, tuple(problems))


def refuse_if_not_fitting(fit: Fit) -> None:
    if not fit.fits:
        raise UserError(f"the model does not fit {fit.board.title} ({fit.board.id}): " + "; ".join(fit.problems))


def fit_table(fits: list[Fit]) -> list[list[str]]:
    """Rows (with a header row) for the README and the terminal."""
    rows = [["board", "core @ clock", "flash KiB: model + runtime = total / board",
             "RAM KiB: arena + runtime = total / board", "fits", "est. latency"]]
    for f in fits:
        b = f.board
        rows.append([
            f"{b.title} (`{b.id}`)", f"{b.core} @ {b.clock_mhz:g} MHz, {b.mac_per_cycle:g} MAC/cycle",
            f"{f.model_bytes / KIB:.1f} + {b.runtime_flash_kb} = {f.flash_needed / KIB:.1f} / {b.flash_kb}",
            f"{f.arena_bytes / KIB:.1f} + {b.runtime_ram_kb} = {f.ram_needed / KIB:.1f} / {b.ram_kb}",
            "yes" if f.fits else "NO: " + "; ".join(f.problems), f"{f.latency_ms:.1f} ms",
        ])
    return rows


def board_notes(fits: list[Fit]) -> str:
    """One Markdown bullet per board: where its MAC/cycle figure and allowances come from."""
    return "\n".join(f"- `{f.board.id}` ({f.board.mcu}): {f.board.mac_per_cycle:g} MAC/cycle, "
                     f"{f.board.mac_per_cycle_source}; {f.board.kernels} kernels, runtime allowance "
                     f"{f.board.runtime_flash_kb} KiB flash and {f.board.runtime_ram_kb} KiB RAM; {f.board.notes}."
                     for f in fits)


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def text_table(rows: list[list[str]]) -> str:
    rows = [[cell.replace("`", "") for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)
