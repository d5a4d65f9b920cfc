"""``nep eval``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from nep_core.cli.common import (
    console,
    domain_option,
    err_console,
    info,
    is_within,
    location_model_option,
    model_option,
    print_table,
    warn_each,
    warn_if_grammar_unreachable,
    warn_if_trained_otherwise,
)
from nep_core.errors import NepError
from nep_core.output_folders import make_output_file_folder, make_output_folder

if TYPE_CHECKING:
    from nep_core.evaluation import Metrics

MAX_TOP_K = 100

LABELS = {
    "examples": "examples",
    "kind_top1": "kind top-1",
    "exact_match_top1": "exact match top-1",
    "exact_match_topk": "exact match top-{k}",
    "top_k": "k",
    "edit_examples": "edit references",
    "location_accuracy": "location accuracy",
    "content_accuracy": "content acc. | location",
    "repeat_share": "edits repeating the context",
    "exact_match_repeats": "exact | repeated edit",
    "exact_match_new": "exact | new edit",
    "no_edit_precision": "NO_EDIT precision",
    "no_edit_recall": "NO_EDIT recall",
    "no_edit_f1": "NO_EDIT F1",
    "edit_predictions": "edit predictions (top-1)",
    "validity_rate": "verifier validity rate",
    "reference_edits": "distinct reference edits",
    "actions_saved": "actions saved",
    "latency_p50_ms": "latency p50",
    "latency_p95_ms": "latency p95",
}
HIGHER_IS_BETTER = {
    "kind_top1",
    "exact_match_top1",
    "exact_match_topk",
    "location_accuracy",
    "content_accuracy",
    "exact_match_repeats",
    "exact_match_new",
    "no_edit_f1",
    "validity_rate",
    "actions_saved",
}


def check_top_k(top_k: int) -> None:
    if not 1 <= top_k <= MAX_TOP_K:
        raise NepError(f"--top-k must be between 1 and {MAX_TOP_K}, got {top_k}")


def format_value(name: str, value) -> str:
    if value is None:
        return "-"
    if name.endswith("_ms"):
        return f"{value:.2f} ms"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def load_model(spec: str, domain, location_model: str | None = None, option: str = "--model"):
    """``load_predictor``, with a warning when the checkpoint was trained for another encoding."""
    from nep_core.inference import load_predictor

    predictor = load_predictor(spec, domain, location_model=location_model, option=option)
    warn_if_trained_otherwise(predictor, domain)
    return predictor


def label(name: str, top_k: int) -> str:
    """The table label of a metric: ``verifier.nesting.valid_rate`` reads ``nesting: valid rate``."""
    if name.startswith("verifier."):
        _, verifier, detail = name.split(".", 2)
        return f"{verifier}: {detail.replace('_', ' ')}"
    return LABELS.get(name, name).format(k=top_k)


def metrics_table(results: dict[str, Metrics], title: str, top_k: int):
    """Metrics as rows, predictors as columns; the best value of each accuracy row in bold."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric", no_wrap=True)
    for name in results:
        table.add_column(name, justify="right")
    names: list[str] = []
    for metrics in results.values():
        names.extend(name for name in metrics if name not in names and name != "top_k")
    for name in names:
        values = [metrics.get(name) for metrics in results.values()]
        present = [value for value in values if value is not None]
        best = max(present) if name in HIGHER_IS_BETTER and len(present) > 1 else None
        cells = []
        for value in values:
            text = format_value(name, value)
            cells.append(f"[bold]{text}[/bold]" if best is not None and value == best else text)
        table.add_row(label(name, top_k), *cells)
    return table


def command(
    domain: str = domain_option(),
    model: str = model_option(),
    location_model: Optional[str] = location_model_option(),
    data: Optional[str] = typer.Option(
        None,
        "--data",
        help="Folder of session logs, or COLLECTOR:ARGUMENT; join sources with ' + '. Default: the domain's embedded default dataset, as `nep train` uses.",
    ),
    split: str = typer.Option("test", "--split", help="Split to evaluate on: train, val or test. Baselines are always fitted on train."),
    baselines: bool = typer.Option(
        False, "--baselines", help="Also run repeat-last, most-frequent and ngram on the same examples, side by side, each paired with the model example by example (a sign test: is the lead more than noise?)."
    ),
    top_k: int = typer.Option(3, "--top-k", "-k", help=f"k of exact match top-k, 1 to {MAX_TOP_K}."),
    min_confidence: Optional[float] = typer.Option(
        None,
        "--min-confidence",
        help="Score what the app shows (0 to 1): a suggestion whose confidence (its probability; for krita, its kind's) is below this is not shown, so such a top-1 counts as no edit, for the model and the baselines alike. Default: the setting the domain's app ships with (`nep domains --json`: blender, krita and code 0.1; 0 shows every suggestion).",
    ),
    min_probability: float = typer.Option(
        0.0,
        "--min-probability",
        help="Score what an app that also hides unsure suggestions shows (0 to 1): a suggestion whose own probability is below this is not shown either. "
        "For krita, where confidence is the probability that a stroke comes next, this is the probability of the stroke itself (the docker's 'Hide strokes less likely than'; about 0.003 hides most guesses on free doodles). Default 0: off.",
    ),
    json_file: Optional[Path] = typer.Option(
        None, "--json", help="Also write every metric to this JSON file; - writes it to standard output, and the table to standard error."
    ),
    limit: int = typer.Option(0, "--limit", help="Evaluate on N examples spread evenly over the split (0: all)."),
    render: Optional[Path] = typer.Option(
        None, "--render", help="Also draw the model's evaluated examples as pictures in this folder (domains with a renderer, such as krita and video); "
        "a later --render into it replaces only the pictures NEP wrote there."
    ),
    render_limit: int = typer.Option(50, "--render-limit", help="Draw at most this many examples with --render."),
    compare: Optional[list[Path]] = typer.Option(
        None, "--compare", help="Another checkpoint to evaluate on the same examples in the same run, as its own column (repeatable), e.g. the model before `nep rl`; "
        "or a baseline (e.g. ngram:4), fitted on the same train split as --baselines' ones. Each is also compared with the model example by example: "
        "the examples only one of the two gets exactly right, and a sign test's p-value (is the difference more than noise?)."
    ),
) -> None:
    """Evaluate a model or a baseline on held-out sessions and print the metrics.

    Sessions are split by session (and source) exactly as for training, so the test split holds
    sessions the model never saw. Metrics: exact match top-1 and top-k, location accuracy, content
    accuracy given the right location, NO_EDIT precision/recall/F1, verifier validity rate and mean
    reward, actions saved (a simulated user accepts an exactly right top-1 suggestion) and latency
    p50/p95, and each verifier's own measures (krita's canvas verifier: Chamfer distance in pixels
    and raster IoU of the top-1 stroke to the real one; "-" where a predictor suggested no stroke,
    as a baseline that only says no edit). For a checkpoint, the metrics are also merged into its
    nep.json under "eval_<split>", where an evaluation with --data or --limit never replaces a full one
    on the default data.

    Examples:

      nep eval --domain krita --model runs/krita --baselines --json eval.json

      nep eval --domain code --model runs/code-rl --compare runs/code --baselines

      nep eval --domain code --model runs/code --location-model runs/code-location --compare runs/code
    """
    import json

    from nep_core.atomic_files import write_text_atomic
    from nep_core.checkpoint import read_meta, update_metrics
    from nep_core.evaluation import load_eval_data
    from nep_core.evaluation.metrics import kind_right
    from nep_core.evaluation.paired import paired_top1, paired_top1_by_group
    from nep_core.inference import BASELINES, is_baseline, make_baseline
    from nep_core.inference.baselines import BaselinePredictor
    from nep_core.plugins import get_domain

    bundle = get_domain(domain)
    check_top_k(top_k)
    if limit < 0:
        raise NepError(f"--limit must be 0 (all) or a positive number, got {limit}")
    if render is not None and bundle.renderer is None:
        raise NepError(f"domain '{bundle.name}' has no renderer: --render draws examples only for domains that define one")
    if min_confidence is not None and not 0.0 <= min_confidence <= 1.0:
        raise NepError(f"--min-confidence must be between 0 and 1, got {min_confidence}")
    floor = bundle.min_confidence if min_confidence is None else min_confidence
    if not 0.0 <= min_probability <= 1.0:
        raise NepError(f"--min-probability must be between 0 and 1, got {min_probability}")
    if render_limit < 1:
        raise NepError(f"--render-limit must be at least 1, got {render_limit}")
    json_to_stdout = json_file == Path("-")
    if json_to_stdout:
        json_file = None
    checkpoints = [Path(path) for path in (model, location_model, *(compare or ())) if path is not None and Path(path).is_dir()]
    for option, output in (("--json", json_file), ("--render", render)):
        inside = next((folder for folder in checkpoints if output is not None and is_within(output, folder)), None)
        if inside is not None:
            raise NepError(f"{option} {output} is inside the checkpoint {inside}, whose files it could replace; write it elsewhere")
    make_output_folder(render, "--render")
    make_output_file_folder(json_file, "--json")
    table_console = err_console if json_to_stdout else console
    # checkpoint and baseline name are checked before any data is read
    single_baseline = is_baseline(model) and location_model is None
    primary = make_baseline(model, bundle) if single_baseline else load_model(model, bundle, location_model)
    predictors = [primary]
    for path in compare or []:  # a baseline here is fitted below, on the evaluated data's train split
        taken = [predictor.name for predictor in predictors]
        if is_baseline(str(path)):
            other = make_baseline(str(path), bundle)
            other.name = _column_name(str(path), taken)
        else:  # a folder named like a baseline gets another column name
            other = load_model(str(path), bundle, option="--compare")
            other.name = _column_name(path, taken + list(BASELINES))
        predictors.append(other)
    if baselines:  # each baseline once, whether it is the model, compared, or only here
        predictors += [make_baseline(name, bundle) for name in BASELINES if name not in {p.name for p in predictors}]
    unfitted = [predictor for predictor in predictors if isinstance(predictor, BaselinePredictor)]
    evaluation = load_eval_data(bundle, data, split, limit, progress=info, warnings=warn_each)
    if unfitted and not evaluation.train:
        where = "the default data" if data is None else data
        names = "the baselines" if baselines else ", ".join(predictor.name for predictor in unfitted)
        raise NepError(
            f"the train split of {where} has no examples to fit {names} on "
            f"({evaluation.sessions} sessions in all); pass more sessions with --data"
            + (", or leave out --baselines" if baselines and not single_baseline else "")
        )
    for predictor in unfitted:
        predictor.fit(evaluation.train)

    outcomes: dict | None = {} if render is not None or compare or baselines else None
    results = _run_with_progress(predictors, bundle, evaluation.examples, top_k, outcomes, floor, min_probability)
    for predictor in predictors:
        warn_if_grammar_unreachable(predictor, bundle)
    if render is not None:
        written = bundle.renderer(outcomes[primary.name], render, render_limit)
        info(f"drew {len(written)} examples ({primary.name}) in {render}")

    where = "default data" if data is None else str(data)
    title = (
        f"nep eval · {bundle.name} · {split} split · {len(evaluation.examples)} examples "
        f"({evaluation.sessions} sessions in {where})"
    )
    if floor > 0:
        title += f" · suggestions below {floor:g} not shown"
    if min_probability > 0:
        title += f" · suggestions less likely than {min_probability:g} not shown"
    print_table(table_console, metrics_table(results, title, top_k))
    paired = {}
    for other in predictors[1:]:
        exact = paired_top1(outcomes[primary.name], outcomes[other.name])
        kind = paired_top1(outcomes[primary.name], outcomes[other.name], kind_right)
        sessions = paired_top1_by_group(outcomes[primary.name], outcomes[other.name])
        paired[other.name] = {**exact.as_dict(), "kind_top1": kind.as_dict(), "by_session": sessions.as_dict()}
        table_console.print(
            f"paired with {other.name}: exact match top-1 {exact.difference:+.3f} ({primary.name} alone right on "
            f"{exact.only_first} examples, {other.name} alone on {exact.only_second}; sign test p = {exact.p_value:.3g}); "
            f"kind top-1 {kind.difference:+.3f} ({kind.only_first} / {kind.only_second}; p = {kind.p_value:.3g}); "
            f"by session, exact match: {primary.name} ahead in {sessions.only_first} of {sessions.examples}, "
            f"{other.name} in {sessions.only_second} (p = {sessions.p_value:.3g})"
        )
    payload = {
        "domain": bundle.name,
        "model": model,
        "location_model": location_model,
        "data": data,
        "split": split,
        "top_k": top_k,
        "min_confidence": floor,
        "min_probability": min_probability,
        "limit": limit,
        "examples": len(evaluation.examples),
        "split_examples": evaluation.split_examples,
        "sessions": evaluation.sessions,
        "results": results,
    }
    if paired:
        payload["paired"] = paired
    if json_to_stdout:
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
        sys.stdout.flush()
    elif json_file is not None:
        write_text_atomic(json_file, json.dumps(payload, indent=2) + "\n")
        info(f"wrote {json_file}")
    if not single_baseline:
        record = {**results[primary.name], "data": data, "limit": limit}
        record["baselines"] = {name: metrics for name, metrics in results.items() if name in BASELINES}
        checkpoint = primary.loaded.path if location_model is None else primary.locator.loaded.path
        if location_model is not None:
            record["edit_model"] = model  # two-stage figures go to the location model, the edit model's stay its own
        key, partial = f"eval_{split}", [option for option, given in (("--data", data is not None), ("--limit", limit > 0)) if given]
        kept = (read_meta(checkpoint).get("metrics") or {}).get(key)
        if partial and isinstance(kept, dict) and kept.get("data") is None and kept.get("limit") == 0:
            info(f"not merged into {checkpoint / 'nep.json'}: its \"{key}\" is a full evaluation on the default data, "
                 f"which one with {' and '.join(partial)} does not replace")
        else:
            update_metrics(checkpoint, {key: record})
            info(f"metrics merged into {checkpoint / 'nep.json'} under \"{key}\"")


def _column_name(path: Path | str, taken: list[str]) -> str:
    """A compared predictor's column: a baseline's name, or a checkpoint's folder name, made unique."""
    name = path if isinstance(path, str) else path.resolve().name or str(path)
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name} ({number})", number + 1
    return candidate


def _run_with_progress(predictors, domain, examples, top_k, outcomes=None, min_confidence=None, min_probability=0.0) -> dict:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from nep_core.evaluation import evaluate_all

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        tasks = {predictor.name: progress.add_task(predictor.name, total=len(examples)) for predictor in predictors}
        return evaluate_all(
            predictors,
            domain,
            examples,
            top_k,
            on_example=lambda name: progress.advance(tasks[name]),
            outcomes=outcomes,
            min_confidence=min_confidence,
            min_probability=min_probability,
        )
