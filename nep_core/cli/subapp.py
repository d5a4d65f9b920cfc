"""The set-up every domain's ``nep <domain> ...`` tools share (``register_commands`` adds them)."""

from __future__ import annotations

import typer

from nep_core.cli.help_text import NepTyper


def tools_app(name: str, help: str) -> typer.Typer:
    """A typer sub-app ``nep <name>`` like the built-in ones: help with ``-h``/``--help``, shown when no command is given."""
    return NepTyper(
        name=name,
        help=help,
        no_args_is_help=True,
        add_completion=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
