"""Shared CLI helpers: the console, user errors, and option parsing."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}", markup=True, soft_wrap=True)


def info(message: str) -> None:
    err_console.print(message, markup=False, soft_wrap=True)


def domain_option(help: str = "Domain name (see `nep domains`).") -> typer.models.OptionInfo:
    """The required ``--domain/-d`` option every domain command takes."""
    return typer.Option(..., "--domain", "-d", help=help)


def location_model_option() -> typer.models.OptionInfo:
    """The ``--location-model`` option: a location model that, with ``--model`` as the edit model, makes a two-stage predictor."""
    return typer.Option(
        None,
        "--location-model",
        help="A location model (`nep train --target location`): predict where the next edit goes with it, and the "
        "edit itself with --model (two-stage prediction, docs/serving.md).",
    )


def model_option() -> typer.models.OptionInfo:
    """The required ``--model/-m`` option: a checkpoint folder or a baseline's name."""
    return typer.Option(
        ...,
        "--model",
        "-m",
        help="A checkpoint folder from `nep train`, or a baseline: repeat-last, most-frequent, ngram (ngram:N sets the order, default 3).",
    )
