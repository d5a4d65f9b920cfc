"""The code verifier: apply the edit to the file; valid when it applies and the file still parses.

Reward is exact match with the user's real next edit. Details (averaged by ``nep eval``):
``delta_chrf`` (character 1-6-gram F-score, beta 2, on the changed text: removed lines marked ``-``,
inserted lines ``+``), ``line_precision`` and ``line_recall`` (changed lines in common), ``parses``.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_core.session import Context
from nep_core.verifier import Verdict, Verifier
from nep_code.action_space import JUMP_KIND, CodeActionSpace
from nep_code.edits import EDIT_KIND, LineEdit
from nep_code.encoder import Replay
from nep_code.syntax import parses

CHRF_ORDER = 6
CHRF_BETA = 2.0


class CodeVerifier(Verifier):
    name = "code"
    description = "the edit applies and the file still parses (ast / tree-sitter); reward = exact match, with delta-chrF and line precision/recall"

    def __init__(self, action_space: CodeActionSpace):
        self.action_space = action_space
        self._replay = Replay()  # a growing session (the server's top-k, eval's trigger points) replays incrementally

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        try:
            predicted = self.action_space.validate(predicted)
        except InvalidAction as error:
            return Verdict(False, 0.0, {"error": str(error)})
        if predicted.is_no_edit:
            return Verdict(True, float(reference is None or reference.is_no_edit))
        self._replay = self._replay.continued(context)
        files = self._replay.files
        if predicted.kind == JUMP_KIND:
            file, line = predicted.target["file"], predicted.target["line"]
            valid = file in files and line <= len(files[file]) + 1
            return Verdict(valid, 0.0, {"location_match": float(_location_matches(predicted, reference))} if reference else {})
        edit = LineEdit.from_action(predicted)
        lines = files.get(edit.file)
        if lines is None or not edit.applies_to(lines):
            return Verdict(False, 0.0, {"error": f"{edit.file}:{edit.line}: the edit's lines are outside the file"})
        before, after = "".join(lines), "".join(edit.apply(lines))
        parsed_after = parses(after, edit.file)
        parsed_before = parses(before, edit.file) if parsed_after is False else None
        valid = parsed_after is not False or parsed_before is False  # an edit may not break a file that parsed
        details = {"parses": float(parsed_after is not False)}
        if reference is not None:
            details.update(compare_edits(predicted, reference, lines))
        exact = reference is not None and self._canonical(reference) == predicted
        return Verdict(valid, float(exact), details)

    def _canonical(self, action: Action) -> Action:
        try:
            return self.action_space.validate(action)
        except InvalidAction:
            return action


def _location_matches(predicted: Action, reference: Action | None) -> bool:
    if reference is None or reference.is_no_edit or not isinstance(reference.target, dict):
        return False
    return predicted.target == {"file": reference.target.get("file"), "line": reference.target.get("line")}


def changed_lines(edit: LineEdit, lines: Sequence[str]) -> tuple[list[tuple], str]:
    """The lines an edit changes, as comparable keys, and its delta text (``-old`` / ``+new`` lines)."""
    removed = lines[edit.line - 1 : edit.line - 1 + edit.delete]
    keys = [("-", edit.file, edit.line + index) for index in range(len(removed))]
    keys += [("+", edit.file, edit.line, text) for text in edit.inserted_lines]
    delta = "".join("-" + text for text in removed) + "".join("+" + text for text in edit.inserted_lines)
    return keys, delta


def compare_edits(predicted: Action, reference: Action, lines: Sequence[str]) -> dict[str, float]:
    """delta-chrF and changed-line precision/recall of ``predicted`` against ``reference``."""
    if reference.is_no_edit or reference.kind != EDIT_KIND:
        return {"delta_chrf": 0.0, "line_precision": 0.0, "line_recall": 0.0}
    try:
        wanted = LineEdit.from_action(reference)
    except ValueError:
        return {}
    got = LineEdit.from_action(predicted)
    got_keys, got_delta = changed_lines(got, lines)
    want_keys, want_delta = changed_lines(wanted, lines) if wanted.applies_to(lines) else ([], "")
    common = sum((Counter(got_keys) & Counter(want_keys)).values())
    return {
        "delta_chrf": chrf(got_delta, want_delta),
        "line_precision": common / len(got_keys) if got_keys else 0.0,
        "line_recall": common / len(want_keys) if want_keys else 0.0,
    }


def chrf(hypothesis: str, reference: str, order: int = CHRF_ORDER, beta: float = CHRF_BETA) -> float:
    """Character n-gram F-score (chrF, Popović 2015), n = 1..order averaged, whitespace removed, in [0, 1]."""
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    if hyp == ref:
        return 1.0
    precisions, recalls = [], []
    for n in range(1, order + 1):
        hyp_grams = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
        ref_grams = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
        if not hyp_grams or not ref_grams:
            continue
        common = sum((hyp_grams & ref_grams).values())
        precisions.append(common / sum(hyp_grams.values()))
        recalls.append(common / sum(ref_grams.values()))
    if not precisions:
        return 0.0
    precision, recall = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if precision + recall == 0:
        return 0.0
    return (1 + beta**2) * precision * recall / (beta**2 * precision + recall)
