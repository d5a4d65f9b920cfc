"""The code verifier: an edit is valid when it applies and the file still parses; exact match, delta-chrF, line P/R."""

from __future__ import annotations

import pytest

from nep_core.actions import NO_EDIT, Action
from nep_core.session import Context, Event
from nep_code.action_space import jump_action
from nep_code.edits import LineEdit
from nep_code.verifier import chrf

PY = "def f(x):\n    return x\n\n\nprint(f(1))\n"
RS = "fn main() {\n    let x = 1;\n}\n"


@pytest.fixture(scope="module")
def verifier():
    from nep_core.plugins import get_domain

    return get_domain("code").verifiers["code"]


def ctx(files):
    return Context(history=[Event(0.0, state={"files": files})], session_id="v")


def edit(file, line, delete, insert):
    return LineEdit(file, line, delete, insert).to_action()


def test_an_edit_that_applies_and_parses_is_valid_and_exact(verifier):
    predicted = edit("a.py", 1, 1, "def f(x, y=0):\n")
    verdict = verifier.verify(ctx({"a.py": PY}), predicted, edit("a.py", 1, 1, "def f(x, y=0):\n"))
    assert verdict.valid and verdict.reward == 1.0
    assert verdict.details["delta_chrf"] == 1.0
    assert verdict.details["line_precision"] == verdict.details["line_recall"] == 1.0


def test_an_edit_that_breaks_the_parse_is_invalid(verifier):
    assert not verifier.verify(ctx({"a.py": PY}), edit("a.py", 1, 1, "def f(x:\n")).valid
    assert not verifier.verify(ctx({"m.rs": RS}), edit("m.rs", 2, 1, "    let x = ;\n")).valid  # tree-sitter
    assert verifier.verify(ctx({"m.rs": RS}), edit("m.rs", 2, 1, "    let x = 2;\n")).valid


def test_an_edit_outside_the_file_or_a_malformed_one_is_invalid(verifier):
    assert not verifier.verify(ctx({"a.py": PY}), edit("a.py", 9, 1, "x = 1\n")).valid
    assert not verifier.verify(ctx({"a.py": PY}), edit("b.py", 1, 0, "x = 1\n")).valid
    bad = Action("edit", {"file": "a.py", "line": 1}, {"delete": 0, "insert": "no newline"})
    verdict = verifier.verify(ctx({"a.py": PY}), bad)
    assert not verdict.valid and "insert" in verdict.details["error"]


def test_a_file_that_did_not_parse_before_may_stay_broken(verifier):
    broken = "def f(x:\n    return x\n"
    assert verifier.verify(ctx({"a.py": broken}), edit("a.py", 2, 1, "    return x + 1\n")).valid


def test_near_misses_get_partial_delta_chrf_and_line_scores(verifier):
    reference = edit("a.py", 5, 1, "print(f(2))\n")
    near = verifier.verify(ctx({"a.py": PY}), edit("a.py", 5, 1, "print(f(3))\n"), reference)
    assert near.reward == 0.0 and 0.5 < near.details["delta_chrf"] < 1.0
    assert near.details["line_recall"] == 0.5  # the removed line matches, the inserted one does not
    far = verifier.verify(ctx({"a.py": PY}), edit("a.py", 1, 0, "import os\n"), reference)
    assert far.details["delta_chrf"] < near.details["delta_chrf"] and far.details["line_precision"] == 0.0


def test_jumps_are_valid_inside_known_files(verifier):
    assert verifier.verify(ctx({"a.py": PY}), jump_action("a.py", 3)).valid
    assert not verifier.verify(ctx({"a.py": PY}), jump_action("a.py", 30)).valid
    assert verifier.verify(ctx({"a.py": PY}), NO_EDIT, NO_EDIT).reward == 1.0


def test_chrf_is_one_for_equal_text_and_ranks_similarity():
    assert chrf("x = 1", "x = 1") == 1.0
    assert chrf("", "abc") == 0.0
    assert chrf("return total", "return totals") > chrf("print(value)", "return totals")
