"""A code model against the baselines on real repository histories, val and test pooled; prints JSON.

    python bench/bench_code_histories.py --model runs/code --repos ~/real/hypothesis ~/real/commitizen

Each repository's history becomes sessions through the ``git`` collector (``--options``, by default
the literature's filters on Python files), split as ``nep eval`` splits them: by time within each
repository, its newest commits for test and the ones before for val. The baselines are fitted on
the train split. Every predictor is scored on each of ``--splits`` and on them pooled (one split of
a few repositories holds a few dozen edits, too few to rank predictors by). Figures per predictor:
exact top-1, edit predictions and how many were exactly right, NO_EDIT precision and recall,
validity and delta-chrF of the edits made; how many wrong edits the session makes later on
(``edits_made_later``: the right edit in the wrong order); the model's pooled exact top-1 minus the best
baseline's; under ``paired``, the model against each baseline example by example (the examples
only one of the two gets exactly right, and a sign test's p-value), as ``nep eval --baselines`` pairs
them, and under ``paired_by_session`` session by session (a commit's examples hang together); and under
``targets``, the examples by what in the history could predict their next edit (``target_kind``), with
how often the model spoke and was exactly right on each. Histories of your own repositories, or ones
built by ``bench/pypi_release_repo.py``. Progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, check_models, collect_repositories, existing_path, machine, minus_best_baseline, names_from,
    positive_int, progress, run_main, split_examples,
)

KEPT = (
    "examples", "exact_match_top1", "exact_match_topk", "kind_top1", "edit_examples", "edit_predictions",
    "location_accuracy", "no_edit_precision", "no_edit_recall", "validity_rate", "verifier.code.delta_chrf",
)


def summary(outcomes, domain, top_k: int) -> dict:
    from nep_core.evaluation.metrics import compute_metrics

    metrics = compute_metrics(outcomes, domain, top_k)
    figures = {name: round(value, 4) if isinstance(value, float) else value for name, value in metrics.items() if name in KEPT}
    figures["edits_exactly_right"] = sum(o.best == o.reference and not o.reference.is_no_edit for o in outcomes)
    return figures


def made_later(outcome, session, domain) -> bool:
    """Whether a wrong top-1 edit is one the session makes later on, as it records it (the line numbers
    of the file at that time): a git session orders a commit's hunks by path, not as a person edits."""
    from nep_core.inference.baselines import canonical_action

    best = outcome.best
    if best.is_no_edit or best == outcome.reference:
        return False
    later = session.events[outcome.example.trigger + 1 :]
    return any(event.action is not None and canonical_action(event.action, domain.action_space) == best for event in later)


def target_kind(example, encoder) -> str:
    """What in the history could predict ``example``'s next edit: a substitution (one piece of a line
    replaced everywhere in it) that the newest edit or an older one made, a new substitution, a rewrite
    of the lines, new lines, a deletion, a jump, or no edit."""
    from nep_code.edits import EDIT_KIND, LineEdit
    from nep_code.encoder import merge_records
    from nep_code.substitution import find_substitution, substitute

    target = example.target
    if target.is_no_edit:
        return "no edit"
    if target.kind != EDIT_KIND:
        return target.kind
    edit = LineEdit.from_action(target)
    new = edit.inserted_lines
    if edit.delete == 0:
        return "new lines"
    if not new:
        return "lines deleted"
    if len(new) != edit.delete:
        return "lines rewritten, another count"
    layout = encoder.layout(example.context)
    old = layout.replay.files.get(edit.file, [])[edit.line - 1 : edit.line - 1 + edit.delete]
    changed = [(before, after) for before, after in zip(old, new) if before != after]
    groups = merge_records(layout.replay.records, encoder.merge_seconds, encoder.merge_lines, len(layout.replay.records))
    made = [pair for group in groups if (pair := encoder.substitution_of(group)) is not None]  # newest first

    def explained(substitutions) -> bool:
        return bool(changed) and all(any(substitute(before, *pair) == after for pair in substitutions) for before, after in changed)

    if made and explained(made[:1]):
        kind = "the newest edit's substitution again"
    elif explained(made):
        kind = "an older edit's substitution again"
    elif changed and all(find_substitution(before, after, encoder.action_space.codec) for before, after in changed):
        kind = "a new substitution"
    else:
        kind = "lines rewritten"
    return kind + (" (several lines)" if len(changed) > 1 else "")


def by_target(outcomes, domain) -> dict[str, dict[str, int]]:
    """Per ``target_kind``: examples, the model's edit suggestions, and its exactly right top-1s."""
    table: dict[str, dict[str, int]] = {}
    for outcome in outcomes:
        row = table.setdefault(target_kind(outcome.example, domain.encoder), {"examples": 0, "suggested": 0, "exactly_right": 0})
        row["examples"] += 1
        row["suggested"] += not outcome.best.is_no_edit
        row["exactly_right"] += outcome.best == outcome.reference
    return dict(sorted(table.items(), key=lambda item: -item[1]["examples"]))


def write_outcomes(path: str, outcomes, domain) -> None:
    """One JSON line per example: its session, trigger and target kind, the top-1, and whether it is right."""
    with open(path, "w", encoding="utf-8") as out:
        for outcome in outcomes:
            out.write(json.dumps({
                "session": outcome.example.session_id, "trigger": outcome.example.trigger,
                "target": target_kind(outcome.example, domain.encoder), "reference": domain.action_space.describe(outcome.reference),
                "top1": domain.action_space.describe(outcome.best), "right": outcome.best == outcome.reference,
            }) + "\n")


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--model", required=True, help="a code checkpoint folder from nep train (or a baseline name)")
    parser.add_argument("--repos", nargs="+", required=True, type=existing_path, help="git repositories (working copies)")
    parser.add_argument("--options", default="ext=py", help="git collector options, as after '?'")
    parser.add_argument("--splits", type=names_from(("train", "val", "test")), default="val,test", metavar="SPLIT,SPLIT",
                        help="the splits scored, and pooled, comma-separated")
    parser.add_argument("--top-k", type=positive_int, default=3, help="suggestions per example (exact match top-k)")
    parser.add_argument("--outcomes", help="also write the model's outcome on each example here, one JSON line each "
                        "(to pair two runs of the benchmark, e.g. two checkpoints under two versions of NEP)")
    args = parser.parse_args()
    check_models(args.model, domain="code")

    from nep_core.evaluation import evaluate_all
    from nep_core.evaluation.paired import paired_top1, paired_top1_by_group
    from nep_core.inference import BASELINES, load_predictor, make_baseline
    from nep_core.plugins import get_domain

    domain = get_domain("code")
    progress(f"reading {len(args.repos)} histories")
    sessions, per_repository = collect_repositories(domain, args.repos, args.options)
    examples = split_examples(domain, sessions)
    splits = args.splits
    model = load_predictor(args.model, domain, train_examples=examples["train"])  # a baseline name: fitted here
    baselines = [name for name in BASELINES if name != model.name]
    predictors = [model, *(make_baseline(name, domain).fit(examples["train"]) for name in baselines)]
    names = ["model", *baselines]
    pooled: dict[str, list] = {name: [] for name in names}
    by_split: dict[str, dict] = {}
    for split in splits:
        progress(f"scoring the {split} split ({len(examples[split])} examples)")
        outcomes: dict[str, list] = {}
        evaluate_all(predictors, domain, examples[split], args.top_k, outcomes=outcomes)
        by_split[split] = {}
        for name, predictor in zip(names, predictors):
            kept = outcomes.get(predictor.name, [])
            pooled[name].extend(kept)
            by_split[split][name] = summary(kept, domain, args.top_k)
    results = {name: summary(pooled[name], domain, args.top_k) for name in names}
    if args.outcomes:
        write_outcomes(args.outcomes, pooled["model"], domain)
    by_id = {session.id: session for session in sessions}
    for name in names:
        results[name]["edits_made_later"] = sum(made_later(outcome, by_id[outcome.example.session_id], domain) for outcome in pooled[name])
    paired = {name: paired_top1(pooled["model"], pooled[name]).as_dict() for name in baselines}
    paired_by_session = {name: paired_top1_by_group(pooled["model"], pooled[name]).as_dict() for name in baselines}
    print(json.dumps({
        "bench": "code histories: model against baselines",
        "model": args.model,
        "options": args.options,
        "sessions": per_repository,
        "examples": {split: len(examples[split]) for split in ("train", *splits)},
        "pooled": results,
        "by_split": by_split,
        "model_exact_top1_minus_best_baseline": minus_best_baseline(results),
        "paired": paired,
        "paired_by_session": paired_by_session,
        "targets": by_target(pooled["model"], domain),
        "machine": machine(),
    }, indent=2))


if __name__ == "__main__":
    run_main(main)
