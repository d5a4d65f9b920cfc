"""Which line of another file ``<again> <file{k}>`` should reach, on real histories; prints JSON.

    python bench/bench_code_again_sites.py --repos ~/real/hypothesis ~/real/commitizen --tokenizer runs/code
    NEP_HOME=... python bench/bench_code_again_sites.py --training-data default

Takes every example whose next edit carries a recent substitution to one line of another file (the
``target_kind`` of ``bench_code_histories.py``: the newest or an older edit's substitution again, one
line) and asks whether a rule for choosing that file's line picks the line the person changed next:
``first_line``, the first line that holds the substitution's ``old`` and keeps parsing once changed
(the encoder's rule until 2026-12-05), against ``resembling``, ``nep_code.encoder.resembling_rows``
(an import line first, then the line most like those already changed). No model is involved, only a
model's tokenizer with ``--tokenizer``, which decides what counts as a substitution. With
``--training-data`` (``default``, a data folder or a collector source) the same for a training set's
val split and the first ``--train-examples`` of its train split: a rule the training data contradict
teaches the model to distrust the line it offers. Progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    argument_parser, check_checkpoint, collect_repositories, existing_path, load_split_examples, machine, positive_int,
    progress, run_main, split_examples,
)
from bench_code_histories import target_kind  # noqa: E402


def carried_elsewhere(examples, encoder):
    """``(layout, edit)`` for each example whose target continues a substitution in another file."""
    from nep_code.edits import LineEdit

    for example in examples:
        kind = target_kind(example, encoder)
        if "substitution again" not in kind or "several lines" in kind:
            continue
        layout = encoder.layout(example.context)
        edit = LineEdit.from_action(example.target)
        if edit.file != layout.view.file:
            yield layout, edit


def score(examples, encoder) -> dict:
    from nep_code.encoder import first_again_site, resembling_rows

    counts = Counter()
    for layout, edit in carried_elsewhere(examples, encoder):
        lines = layout.replay.files.get(edit.file, [])
        changed_by = encoder.recent_substitutions_of(layout.replay)
        target = (edit.line, edit.insert)
        counts["examples"] += 1
        counts["first_line"] += first_again_site(edit.file, lines, tuple(changed_by), range(len(lines))) == target
        counts["resembling"] += first_again_site(edit.file, lines, tuple(changed_by), resembling_rows(lines, changed_by)) == target
    return {name: counts[name] for name in ("examples", "first_line", "resembling")}  # zeros when no example qualifies


def load_tokenizer(folder: str):
    """The tokenizer of checkpoint ``folder``; a missing or damaged one is a NepError naming ``--tokenizer``."""
    from transformers import AutoTokenizer

    from nep_core.errors import NepError, error_reason

    path = Path(folder).expanduser()
    if not (path / "tokenizer.json").is_file():  # what `nep train` saves; without it transformers' error is a page long
        raise NepError(f"--tokenizer {folder}: no tokenizer.json in the checkpoint; pass the folder `nep train --domain code` wrote")
    try:
        return AutoTokenizer.from_pretrained(path)
    except Exception as error:  # noqa: BLE001 - transformers raises OSError, ValueError, JSONDecodeError... for damaged files
        raise NepError(f"--tokenizer {folder}: cannot load the tokenizer ({error_reason(error)}); "
                       "pass the folder `nep train --domain code` wrote") from None


def main() -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("--repos", nargs="*", type=existing_path, default=[], help="git repositories (working copies)")
    parser.add_argument("--options", default="ext=py", help="git collector options, as after '?'")
    parser.add_argument("--training-data", metavar="SOURCE",
                        help="also score training data: 'default' (the default dataset), a data folder or a collector source")
    parser.add_argument("--train-examples", type=positive_int, default=3000, help="train-split examples scored")
    parser.add_argument("--tokenizer", metavar="MODEL", type=existing_path,
                        help="a code checkpoint folder: read lines with its tokenizer, as that model does (which pieces "
                             "make a substitution depends on it); default: character by character")
    args = parser.parse_args()
    if not args.repos and not args.training_data:
        parser.error("give --repos, --training-data or both")

    if args.tokenizer:
        check_checkpoint(args.tokenizer, "code", "--tokenizer")

    from nep_core.plugins import get_domain

    domain = get_domain("code")
    if args.tokenizer:
        domain.encoder.bind_tokenizer(load_tokenizer(args.tokenizer))  # binds its action space too
    results = {}
    if args.repos:
        progress(f"reading {len(args.repos)} histories")
        sessions, _ = collect_repositories(domain, args.repos, args.options)
        examples = split_examples(domain, sessions)
        results["histories"] = score([*examples["val"], *examples["test"]], domain.encoder)
    if args.training_data:
        progress(f"reading the training data ({args.training_data})")
        examples = load_split_examples(domain, None if args.training_data == "default" else args.training_data)
        results["training_data"] = score([*examples["train"][: args.train_examples], *examples["val"]], domain.encoder)
    print(json.dumps({"bench": "code: the line <again> <file{k}> reaches", "repos": args.repos, "tokenizer": args.tokenizer, **results,
                      "machine": machine()}, indent=2))


if __name__ == "__main__":
    run_main(main)
