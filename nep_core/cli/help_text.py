"""Help text that Rich wraps to the terminal: prose paragraphs of a docstring joined into one line each.

Typer keeps a docstring's line breaks inside a paragraph, so help written at 100 columns came out
ragged in an 80-column terminal (a full line, then a word or two). Paragraphs that are laid out by
hand keep their lines: examples and other indented lines, lists (``- item``) and ``\\b`` blocks.
"""

from __future__ import annotations

import inspect

import typer
from typer.core import TyperCommand, TyperGroup


def reflow(text: str | None) -> str | None:
    """``text`` with each prose paragraph on one line."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(paragraph if _laid_out(paragraph) else " ".join(paragraph.split("\n")) for paragraph in paragraphs)


def _laid_out(paragraph: str) -> bool:
    lines = paragraph.split("\n")
    return paragraph.startswith("\b") or any(line[:1].isspace() or line.lstrip().startswith(("- ", "* ")) for line in lines)


class ReflowedCommand(TyperCommand):
    def format_help(self, ctx, formatter):
        self.help = reflow(self.help)
        return super().format_help(ctx, formatter)


class ReflowedGroup(TyperGroup):
    def format_help(self, ctx, formatter):
        self.help = reflow(self.help)
        return super().format_help(ctx, formatter)


class NepTyper(typer.Typer):
    """A ``typer.Typer`` whose commands' and groups' help is reflowed (``reflow``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("cls", ReflowedGroup)
        super().__init__(**kwargs)

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or ReflowedCommand, **kwargs)
