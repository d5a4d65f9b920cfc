"""How often the Blender replay rejects the users' own next edits, with the selection the log names and without; prints JSON.

    python bench/bench_blender_own_edits.py --limit 2000

The ``replay`` verifier rebuilds a test example's scene from its logged calls and runs the user's
real next edit there. That edit did run for the user, so a rejection means the rebuilt scene is
wrong (a click or a script changed it unseen). Each item is judged twice on the same examples: as
logged, where each call's context names the selected objects and the replay selects them again, and
with those names taken out (as logs were before 2026-12-06). Figures per kind of session: recorded
(the synthetic artist, as the add-on logs), script form (no context), real scripts (``scripts:``).
A rejection is a verdict that is invalid or ``scene_unknown`` (the replayed scene rejected the
user's edit, which ``nep eval`` then counts as unknown).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import argument_parser, load_split_examples, machine, positive_int, progress, run_main  # noqa: E402

NAMES = ("active_name", "selected_names")


def without_names(action):
    from nep_core.actions import Action

    context = {key: value for key, value in action.context.items() if key not in NAMES}
    return Action(kind=action.kind, target=action.target, args=action.args, context=context, edit=action.edit)


def unnamed(context):
    from nep_core.session import Context, Event

    history = [Event(t=event.t, action=without_names(event.action) if event.action is not None else None, state=event.state, feedback=event.feedback)
               for event in context.history]
    return Context(history=history, state=context.state, session_id=context.session_id, meta=context.meta)


def kind_of(meta) -> str:
    if meta.get("form") == "script":
        return "script_form"
    return "recorded" if meta.get("source") != "scripts" else "scripts"


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--data", default=None, help="sessions (a folder or COLLECTOR:ARGUMENT); default: the domain's default data")
    parser.add_argument("--limit", type=positive_int, default=2000, help="test examples to take")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="bpy replay workers (default: the replay verifier's, one per CPU core up to 4)")
    args = parser.parse_args()

    from nep_core.plugins import get_domain
    from nep_blender.verifier import ReplayVerifier

    domain = get_domain("blender")
    progress("loading the examples")
    examples = load_split_examples(domain, args.data)
    edits = [example for example in examples["test"][: args.limit] if example.target.edit and not example.target.is_no_edit]
    figures: dict[str, dict] = {}
    started = time.perf_counter()
    for label, items in (
        ("as_logged", [(example.context, example.target, example.target) for example in edits]),
        ("without_names", [(unnamed(example.context), without_names(example.target), without_names(example.target)) for example in edits]),
    ):
        progress(f"replaying {len(items)} edits {label.replace('_', ' ')}")
        with ReplayVerifier(domain.action_space, workers=args.workers) as verifier:
            verdicts = verifier.verify_many(items)
        for example, verdict in zip(edits, verdicts):
            rejected = not verdict.valid or verdict.details.get("scene_unknown") == 1.0  # the user's own edit failed there
            for kind in ("all", kind_of(example.context.meta)):
                group = figures.setdefault(kind, {"edits": 0, "as_logged": 0, "without_names": 0})
                group["edits"] += label == "as_logged"
                group[label] += rejected
    for group in figures.values():
        group["rejected_share"] = {label: round(group[label] / group["edits"], 4) for label in ("as_logged", "without_names")}
        group["rejected"] = {label: group.pop(label) for label in ("as_logged", "without_names")}
    print(json.dumps({
        "data": args.data or "default",
        "test_examples": min(args.limit, len(examples["test"])),
        "users_edits": figures,
        "named_contexts": sum("selected_names" in example.target.context for example in edits),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(),
    }, indent=1))


if __name__ == "__main__":
    run_main(main)
