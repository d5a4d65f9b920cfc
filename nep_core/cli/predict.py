"""``nep predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nep_core.cli.common import console, domain_option, info, location_model_option, model_option, warn
from nep_core.cli.evaluate import MAX_TOP_K, check_top_k, load_model
from nep_core.errors import NepError


def command(
    domain: str = domain_option(),
    model: str = model_option(),
    location_model: Optional[str] = location_model_option(),
    session: Path = typer.Option(
        ..., "--session", "-s", help="A session log (.jsonl); the suggestions are for what follows its last event."
    ),
    top_k: int = typer.Option(3, "--top-k", "-k", help=f"How many edit suggestions to show, 1 to {MAX_TOP_K}."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    data: Optional[str] = typer.Option(
        None,
        "--data",
        help="Baselines only: sessions to fit on (their train split). Default: the domain's embedded default dataset.",
    ),
) -> None:
    """Suggest the next edit after a recorded session, with probabilities and P(no edit).

    The suggestions are the top-k edits the predictor finds most likely, each with its probability;
    P(no edit) is the probability that the right move is to suggest nothing. The best choice is the
    first suggestion, or "no edit" when P(no edit) is higher.

    Example: nep predict --domain blender --model runs/blender --session ~/.cache/nep/logs/blender/s1.jsonl --top-k 5
    """
    import json

    from nep_core.encoder import context_from_events
    from nep_core.inference import is_baseline, load_predictor
    from nep_core.inference.factory import train_examples_for
    from nep_core.plugins import get_domain
    from nep_core.server.suggest import checked_prediction
    from nep_core.sessionlog import ReadReport, first_state_problem, read_session

    bundle = get_domain(domain)
    check_top_k(top_k)
    report = ReadReport()
    recorded = read_session(session, report=report)
    for message in report.warnings:
        warn(message)
    if recorded.domain != bundle.name:
        raise NepError(f"{session}: the session is of domain '{recorded.domain}', not '{bundle.name}'; pass --domain {recorded.domain}")
    problem = first_state_problem(recorded, report.event_lines, bundle.encoder.state_problem)
    if problem:
        raise NepError(f"{session}:{problem}")
    if is_baseline(model) and location_model is None:
        predictor = load_predictor(model, bundle, train_examples_for(bundle, data, progress=info))
    else:
        if data is not None and not is_baseline(model):  # a baseline with --location-model is refused below instead
            warn(f"--data is only used to fit a baseline; ignored for the model in {model}")
        predictor = load_model(model, bundle, location_model)
    context = context_from_events(recorded.events, recorded.id, recorded.meta)
    prediction, dropped = checked_prediction(bundle, context, predictor.predict(context, top_k), top_k, verify=False)
    if dropped:
        warn(f"{dropped} of the top {top_k} suggestions left out: the domain's action space cannot write them in this session")

    if json_output:
        payload = {
            "domain": bundle.name,
            "model": model,
            "session": recorded.id,
            "events": len(recorded.events),
            **prediction.to_json(),
            "best": prediction.best.to_json(),
        }
        typer.echo(json.dumps(payload, indent=2))
        return

    from rich.table import Table

    console.print(f"next edit after session {recorded.id} ({len(recorded.events)} events), by {model}:")
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("suggestion")
    table.add_column("probability", justify="right")
    for rank, suggestion in enumerate(prediction.suggestions, start=1):
        table.add_row(str(rank), suggestion.label, f"{suggestion.probability:.3f}")
    console.print(table)
    best = prediction.best
    best_label = "no edit (suggest nothing)" if best.is_no_edit else bundle.action_space.describe(best)
    console.print(f"P(no edit) = {prediction.p_no_edit:.3f}")
    console.print(f"best: {best_label}   ({prediction.latency_ms:.1f} ms)")
