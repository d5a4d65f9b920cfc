"""Shared CLI helpers: the console, user errors, and option parsing."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape


console = Console(highlight=False, emoji=False)  # file names and values are printed as they are: no :name: emoji
err_console = Console(stderr=True, highlight=False, emoji=False)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {escape(message)}", markup=True, soft_wrap=True)


def warn_each(messages: list[str], limit: int = 20) -> None:
    """The first ``limit`` of ``messages`` as warnings, then how many more there were."""
    for message in messages[:limit]:
        warn(message)
    if len(messages) > limit:
        warn(f"... and {len(messages) - limit} more")


def warn_if_trained_otherwise(predictor, domain) -> None:
    """One warning per checkpoint of ``predictor`` that its predictor still encodes differently from
    its training, its encoder settings set back (``nep_core.checkpoint.encoding_differences``)."""
    from nep_core.checkpoint import encoding_differences

    parts = [predictor, getattr(predictor, "locator", None), getattr(predictor, "editor", None)]
    for part in {id(part.loaded): part for part in parts if getattr(part, "loaded", None) is not None}.values():
        loaded = part.loaded
        differences = encoding_differences(loaded.meta, getattr(part, "domain", domain))
        if differences:
            warn(f"{loaded.path} was trained when NEP encoded {domain.name} otherwise ({'; '.join(differences)}); "
                 f"it still runs, but was not trained for this: retrain it with `nep train --domain {domain.name}` for its best suggestions")


def warn_if_grammar_unreachable(predictor, domain) -> None:
    """One warning per model of ``predictor`` whose decoding met tokens its action space's ``allowed_next``
    offered but the checkpoint's tokenizer lacks: actions written with them are never suggested."""
    parts = [predictor, getattr(predictor, "locator", None), getattr(predictor, "editor", None)]
    for part in parts:
        unknown = sorted(getattr(getattr(part, "masks", None), "unknown_tokens", ()))
        if not unknown:
            continue
        shown = ", ".join(repr(token) for token in unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        listed = set(domain.action_space.vocabulary())
        fix = (f"the checkpoint is older than them: retrain it with `nep train --domain {domain.name}`"
               if all(token in listed for token in unknown)
               else "the action space's allowed_next offers them, so its vocabulary() must list them too")
        warn(f"{part.loaded.path}: its tokenizer lacks {len(unknown)} token(s) the {domain.name} action space allowed while "
             f"decoding ({shown}), so actions written with them are never suggested; {fix}")


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (links and ``..`` resolved)."""
    target = path.expanduser().resolve()
    return folder.expanduser().resolve() in (target, *target.parents)


def print_table(target: Console, table) -> None:
    """Print a rich table whole: in a terminal it fits the window; into a file or a pipe it is as wide as
    its cells need (rich would cut it to 80 columns: `most-freque…`)."""
    if target.is_terminal:
        target.print(table)
        return
    from rich.measure import Measurement

    needed = Measurement.get(target, target.options.update(max_width=10_000), table).maximum
    Console(file=target.file, width=max(needed, target.width), highlight=False, emoji=False).print(table)


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
