"""Help text that Rich wraps to the terminal: prose paragraphs of a docstring joined into one line each.

Typer keeps a docstring's line breaks inside a paragraph, so help written at 100 columns came out
ragged in an 80-column terminal (a full line, then a word or two). Paragraphs that are laid out by
hand keep their lines: indented lines, command lines (``nep ...``), lists (``- item``, ``1. item``),
columns (two spaces inside a line) and ``\\b`` blocks.
"""

from __future__ import annotations

import inspect
import re

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
    """Mixed into a Typer command or group class: its help is reflowed once, when it is made."""

    def __init__(self, *args, help=None, **kwargs):
        super().__init__(*args, help=reflow(help), **kwargs)


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
