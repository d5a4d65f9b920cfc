"""Help that fits the terminal: prose paragraphs of a docstring joined into one line each, and
option tables that fold what does not fit instead of cutting it.

Typer keeps a docstring's line breaks inside a paragraph, so help written at 100 columns came out
ragged in an 80-column terminal (a full line, then a word or two). Paragraphs that are laid out by
hand keep their lines: indented lines, command lines (``nep ...``), lists (``- item``, ``1. item``),
columns (two spaces inside a line) and ``\\b`` blocks.

Rich cuts a table cell that is narrower than its longest word with an ellipsis, and an 80-column
terminal is too narrow for Typer's option table of ``nep rl`` or ``nep serve``: option names came
out as ``--max-resample-ro…``. Typer has no setting for it, so while a NEP command prints its help,
Typer's table and column classes are ones whose cells fold onto the next line. They also leave the
help text room: negative names (``--no-speculate``) go under the names instead of into columns of
their own, and in a narrow terminal a type (``<int range> [0<=x<=65535]``) takes one word's width.
"""

from __future__ import annotations

import inspect
import re
import threading
from contextlib import contextmanager

import typer
from typer.core import TyperCommand, TyperGroup


def reflow(text: str | None) -> str | None:
    """``text`` with each prose paragraph on one line."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(paragraph if _laid_out(paragraph) else " ".join(paragraph.split("\n")) for paragraph in paragraphs)


LAID_OUT = re.compile(r"\s|- |\* |\d+[.)] |nep |\$ |\x08")  # indented, a list item, a command line, or Click's \\b


def _laid_out(paragraph: str) -> bool:
    return any(LAID_OUT.match(line) or "  " in line.strip() for line in paragraph.split("\n"))


class Reflowed:
    """Mixed into a Typer command or group class: its help is reflowed once, when it is made, and
    its option tables fold long names and words (``folding_tables``)."""

    def __init__(self, *args, help=None, **kwargs):
        super().__init__(*args, help=reflow(help), **kwargs)

    def format_help(self, ctx, formatter):
        with folding_tables():
            return super().format_help(ctx, formatter)


class ReflowedCommand(Reflowed, TyperCommand):
    pass


class ReflowedGroup(Reflowed, TyperGroup):
    pass


class NepTyper(typer.Typer):
    """A ``typer.Typer`` whose commands' and groups' help is reflowed (``reflow``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("cls", ReflowedGroup)
        super().__init__(**kwargs)

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or ReflowedCommand, **kwargs)


@contextmanager
def folding_tables():
    """Typer's help tables, while inside, fold a cell's overflow onto the next line (Rich cuts it)."""
    from rich.columns import Columns
    from rich.table import Table
    from rich.text import Text
    from typer import rich_utils

    def folded(renderables):
        for renderable in renderables:
            if isinstance(renderable, Text):
                renderable.overflow = "fold"  # a Text's own overflow wins over its column's ellipsis
        return renderables

    class FoldingTable(Table):  # the option and command tables
        type_width = 0  # in an option table: the longest word of the type column (``<int range>``, ``[x>=1]``)

        def add_row(self, *renderables, **kwargs):
            cells = list(renderables)
            if _is_option_row(cells):
                cells = _negatives_below(cells)
                cells[-2] = _plain_type(cells[-2])
                self.type_width = max([self.type_width, *map(len, cells[-2].plain.split())])
            super().add_row(*folded(cells), **kwargs)

        def _calculate_column_widths(self, console, options):  # Rich's, once it knows the width
            if self.type_width and options.max_width < NARROW:  # the type's words one below another, not beside
                self.columns[-2].max_width = self.type_width
            return super()._calculate_column_widths(console, options)

    class FoldingColumns(Columns):  # an option's help, default and environment variable, laid out in a grid
        def __init__(self, renderables=None, *args, **kwargs):
            super().__init__(folded(list(renderables or [])), *args, **kwargs)

    with _PATCHING:  # one help at a time swaps Typer's classes
        saved = rich_utils.Table, rich_utils.Columns
        rich_utils.Table, rich_utils.Columns = FoldingTable, FoldingColumns
        try:
            yield
        finally:
            rich_utils.Table, rich_utils.Columns = saved


_PATCHING = threading.RLock()

NARROW = 120
"""Below this many columns an option table keeps its type column to one word's width, for the help."""

OPTION_ROW_CELLS = (6, 7)
"""Typer's option rows: [required,] name, short name, negative name, negative short name, type, help."""


def _is_option_row(cells: list) -> bool:
    """Whether a table row is one of Typer's option rows, with text in its name and type cells."""
    from rich.text import Text

    return len(cells) in OPTION_ROW_CELLS and all(isinstance(cell, Text) for cell in cells[-6:-1])


def _plain_type(cell):
    """An option's type as a user types it: nothing for a flag (Typer shows ``<bool>``, but a flag takes
    no value), ``<path> (repeat)`` for an option given once for each value (Typer shows the Python type
    ``<list[Path]>``; ``<path>...`` read as several values after one flag)."""
    import re

    from rich.text import Text

    plain = cell.plain
    if plain.strip() == "<bool>":
        return Text("", style=cell.style)
    repeated = re.sub(r"<list\[(\w+)\]>", lambda match: f"<{match.group(1).lower()}> (repeat)", plain)
    return Text(repeated, style=cell.style) if repeated != plain else cell


def _negatives_below(cells: list) -> list:
    """An option row with its negative names (``--no-speculate``) under the names, not in columns of
    their own, which an 80-column terminal would take from the help text."""
    name, short, negative, negative_short = cells[-6:-2]
    for cell, below in ((name, negative), (short, negative_short)):
        if below.plain:
            cell.append("\n")
            cell.append_text(below)
    return cells[:-4] + cells[-2:]
