"""Syntax helpers on real files: statement starts near a row, incremental reparsing, quiet parsing."""

from __future__ import annotations

import inspect
import warnings

import pytest

from nep_code import syntax
from nep_code.syntax import changed_span, parse_python, statement_starts
from nep_code.tokenizer import TextCodec

REAL_FILE = inspect.getsourcefile(inspect)


def real_lines() -> list[str]:
    with open(REAL_FILE, encoding="utf-8") as file:
        return file.read().splitlines(keepends=True)


def fresh_starts(lines: list[str], path: str) -> set[int]:
    """Statement starts from a parse that reuses no earlier tree."""
    return statement_starts(lines, path)


def test_statement_starts_near_a_row_are_the_whole_files_there():
    lines = real_lines()
    whole = fresh_starts(lines, "inspect.py")
    assert len(whole) > 500
    for row in (0, 40, len(lines) // 2, len(lines) - 3):
        first, last = row - 105, row + 105
        near = statement_starts(lines, "inspect.py", near=(first, last))
        assert {r for r in near if first <= r <= last} == {r for r in whole if first <= r <= last}
        assert all(first <= r <= last for r in near - {len(lines)})


@pytest.mark.skipif(not syntax.tree_sitter_available(), reason="tree-sitter's Python grammar is not installed")
def test_reparsing_after_edits_finds_what_a_fresh_parse_finds():
    lines = real_lines()
    syntax._LAST_TREES.clear()
    statement_starts(lines, "inspect.py", reparse=True)  # the tree later parses start from
    edits = [
        (120, 0, ["def inserted(a,\n", "             b):\n", "    return a\n"]),  # a multi-line statement appears
        (300, 5, []),                                                            # lines go
        (10, 1, ["import os, sys  # changed\n"]),                                # one line changes
        (500, 0, ["if (\n"]),                                                    # half-typed code
        (len(lines) - 1, 0, ["x = [\n", "    1,\n", "]\n"]),                      # at the end
    ]
    for row, delete, insert in edits:
        lines = [*lines[:row], *insert, *lines[row + delete :]]
        again = statement_starts(lines, "inspect.py", reparse=True)
        assert again == fresh_starts(lines, "inspect.py")
        assert syntax._LAST_TREES[("python", "inspect.py")][0] == "".join(lines).encode()  # the next edit reparses from it


def test_changed_span_names_the_bytes_that_changed():
    assert changed_span(b"abcdef", b"abXYef") == (2, 4, 4)
    assert changed_span(b"abcdef", b"abcdef") == (6, 6, 6)
    assert changed_span(b"aaaa", b"aa") == (2, 4, 2)  # the shared suffix never overlaps the prefix
    assert changed_span(b"", b"new") == (0, 0, 3)


def test_parse_python_is_quiet_about_old_code():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parse_python('x = 1if y else 2\npattern = "\\d+"\n')  # SyntaxWarnings (errors here) in plain ast.parse


def test_the_codec_remembers_texts_but_hands_out_fresh_lists():
    codec = TextCodec()
    first = codec.tokens("def f():\n")
    first.append("spoiled")
    assert codec.tokens("def f():\n") == TextCodec().tokens("def f():\n")
    assert "spoiled" not in codec.tokens("def f():\n")
