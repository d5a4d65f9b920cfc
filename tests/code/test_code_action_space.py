"""The code action space: located line edits, jumps and NO_EDIT; the grammar never lets a malformed edit out."""

from __future__ import annotations

import random

import pytest

from nep_core.action_space import EOS, NO_EDIT_TOKEN
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction
from nep_core.session import Context, Event
from nep_code.action_space import EDIT_TOKEN, JUMP_TOKEN, CodeActionSpace, CodeView, BoundCodeSpace, jump_action
from nep_code.edits import LineEdit

SOURCE = "import os\n\n\ndef f(x):\n    return x\n\n\ndef g(y):\n    return f(y)\n"


def session_context(cursor_line: int = 4) -> Context:
    events = [Event(0.0, state={"files": {"pkg/a.py": SOURCE, "pkg/b.py": "x = 1\n"},
                               "cursor": {"file": "pkg/a.py", "line": cursor_line, "column": 0}})]
    return Context(history=events, session_id="s1")


@pytest.fixture()
def space():
    from nep_core.plugins import get_domain

    return get_domain("code").action_space


def edit(line, delete, insert, file="pkg/a.py") -> Action:
    return LineEdit(file, line, delete, insert).to_action()


@pytest.mark.parametrize("action", [
    edit(4, 1, "def f(x, y):\n"),                      # replace
    edit(5, 0, "    x += 1\n"),                        # insert
    edit(2, 2, ""),                                    # delete
    edit(4, 2, "def f(x):\n    y = x\n    return y\n"),  # multi-line
    edit(10, 0, "print(g(1))\n"),                      # append after the last line
])
def test_edits_in_the_region_round_trip(space, action):
    bound = space.for_context(session_context())
    tokens = bound.encode(action)
    assert tokens[0] == EDIT_TOKEN
    assert bound.decode(tokens) == action
    for position, token in enumerate(tokens):
        assert token in bound.allowed_next(tokens[:position])
    assert EOS in bound.allowed_next(tokens)


def test_edit_in_another_file_is_written_as_a_jump_to_its_line(space):
    bound = space.for_context(session_context())
    tokens = bound.encode(edit(1, 1, "x = 2\n", file="pkg/b.py"))
    assert tokens == [JUMP_TOKEN, "<file1>", "<#1>"]
    assert bound.decode(tokens) == jump_action("pkg/b.py", 1)
    assert space.location(bound.decode(tokens)) == space.location(edit(1, 1, "x = 2\n", file="pkg/b.py"))


def test_no_edit_round_trips(space):
    bound = space.for_context(session_context())
    assert bound.encode(NO_EDIT) == [NO_EDIT_TOKEN]
    assert bound.decode([NO_EDIT_TOKEN]).is_no_edit
    assert bound.allowed_next([NO_EDIT_TOKEN]) == [EOS]


def test_grammar_bounds_lines_deletions_files_and_line_numbers():
    space = CodeActionSpace()
    bound = BoundCodeSpace(space, CodeView(("a.py", "b.py"), (9, 1), region_start=3, region_lines=4))
    assert bound.allowed_next([EDIT_TOKEN]) == ["<L0>", "<L1>", "<L2>", "<L3>", "<L4>"]
    assert bound.allowed_next([EDIT_TOKEN, "<L3>"]) == ["<del0>", "<del1>"]
    assert bound.allowed_next([JUMP_TOKEN]) == ["<file0>", "<file1>"]
    assert bound.allowed_next([JUMP_TOKEN, "<file1>"]) == ["<#1>", "<#2>"]  # b.py has 1 line: lines 1..2
    assert set(bound.allowed_next([JUMP_TOKEN, "<file0>", "<#1>"])) == {EOS, "<#0>"}  # 10 is the append line
    assert bound.allowed_next([EDIT_TOKEN, "<L9>"]) == []


def test_insert_ends_only_after_a_newline():
    space = CodeActionSpace()
    bound = BoundCodeSpace(space, CodeView(("a.py",), (3,), 1, 3))
    typed = [EDIT_TOKEN, "<L1>", "<del0>"]
    assert EOS not in bound.allowed_next(typed)  # an insertion of nothing is not an edit
    text = space.codec.tokens("x = 1")
    assert EOS not in bound.allowed_next([*typed, *text])
    assert EOS in bound.allowed_next([*typed, *space.codec.tokens("x = 1\n")])
    assert EOS in bound.allowed_next([EDIT_TOKEN, "<L1>", "<del2>"])  # a deletion needs no text
    with pytest.raises(InvalidAction):
        bound.decode([*typed, *text])


def test_every_sequence_the_grammar_allows_decodes_to_an_edit_that_applies():
    space = CodeActionSpace()
    lines = SOURCE.splitlines(keepends=True)
    view = CodeView(("pkg/a.py",), (len(lines),), region_start=3, region_lines=5)
    bound = BoundCodeSpace(space, view)
    rng = random.Random(0)
    decoded = 0
    for _ in range(300):
        tokens: list[str] = []
        while True:
            allowed = sorted(bound.allowed_next(tokens))
            assert allowed, tokens
            if EOS in allowed and (rng.random() < 0.4 or len(tokens) > 12):
                break
            tokens.append(rng.choice([token for token in allowed if token != EOS] or [EOS]))
            if tokens[-1] == EOS:
                tokens.pop()
                break
        action = bound.decode(tokens)
        if action.kind == "edit":
            assert LineEdit.from_action(action).applies_to(lines)
        decoded += 1
    assert decoded == 300


def test_validate_rejects_malformed_payloads_naming_the_field(space):
    with pytest.raises(InvalidAction, match="insert"):
        space.validate(Action("edit", {"file": "a.py", "line": 1}, {"delete": 0, "insert": "no newline"}))
    with pytest.raises(InvalidAction, match="line"):
        space.validate(Action("jump", {"file": "a.py", "line": 0}))
    with pytest.raises(InvalidAction, match="kind"):
        space.validate(Action("rename", {"file": "a.py"}))
    assert space.validate(edit(1, 1, "")) == edit(1, 1, "")


def test_text_that_spells_a_structural_token_stays_text(space):
    from nep_code.tokenizer import train_bpe

    tokenizer = train_bpe([SOURCE * 3], ["<pad>", "<unk>", "<bos>", "<sep>", "<eos>", "<no_edit>", *space.vocabulary()], 300)
    own = CodeActionSpace()
    own.bind_tokenizer(tokenizer)
    bound = BoundCodeSpace(own, CodeView(("a.py",), (2,), 1, 2))
    action = LineEdit("a.py", 1, 1, "s = '<edit> <L1>'\n").to_action()
    tokens = bound.encode(action)
    assert tokens.count(EDIT_TOKEN) == 1 and "<L1>" not in tokens
    assert bound.decode(tokens) == action
