"""Post-processing: cut at blank lines, token limits and statement boundaries; rest-of-line greedy matching."""

from __future__ import annotations

from nep_core.actions import NO_EDIT
from nep_code.edits import LineEdit
from nep_code.postprocess import cut_insert, inline_edit, postprocess


def test_cut_at_the_first_blank_line_after_code():
    assert cut_insert("a = 1\nb = 2\n\nc = 3\n", "x.py") == "a = 1\nb = 2\n"
    assert cut_insert("\na = 1\n", "x.py") == "\na = 1\n"  # a leading blank line is kept


def test_token_limit_cuts_on_a_statement_boundary():
    text = "a = 1\nb = call(1,\n         2)\nc = 3\n"
    assert cut_insert(text, "x.py", max_tokens=5) == "a = 1\n"  # never half of `b = call(...)`
    assert cut_insert(text, "x.py", max_tokens=9) == "a = 1\nb = call(1,\n         2)\n"
    assert cut_insert(text, "x.py", max_tokens=100) == text


def test_postprocess_turns_an_insertion_cut_to_nothing_into_no_edit():
    action = LineEdit("x.py", 3, 0, "call(1,\n  2)\n").to_action()
    assert postprocess(action, max_tokens=1) == NO_EDIT
    kept = postprocess(LineEdit("x.py", 3, 0, "a = 1\n\nb = 2\n").to_action())
    assert kept.args["insert"] == "a = 1\n"


def test_rest_of_line_is_kept_when_the_suggestion_contains_it_in_order():
    inline = inline_edit("print()\n", 6, "print(total, end='')\n")
    assert inline.ghost and (inline.start, inline.end) == (6, 7)
    assert inline.pieces == ((6, "total, end=''"),)  # the auto-closed ")" is matched, not duplicated


def test_rest_of_line_that_the_suggestion_drops_is_replaced():
    inline = inline_edit("x = old_value + 1\n", 4, "x = new_value + 1\n")
    assert not inline.ghost and (inline.start, inline.end, inline.text) == (4, 17, "new_value + 1")


def test_text_before_the_cursor_changing_is_not_an_inline_edit():
    assert inline_edit("y = 1\n", 3, "z = 1\n") is None
