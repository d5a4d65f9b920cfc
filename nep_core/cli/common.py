"""Shared CLI helpers: the console, user errors, and option parsing."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}", markup=True, soft_wrap=True)


def info(message: str) -> None:
    err_console.print(message, markup=False, soft_wrap=True)
