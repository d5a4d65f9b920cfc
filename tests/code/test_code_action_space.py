"""The code action space: located line edits, jumps and NO_EDIT; the grammar never lets a malformed edit out."""

from __future__ import annotations

import random

import pytest

from nep_core.action_space import EOS, NO_EDIT_TOKEN
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction
from nep_core.session import Context, Event
from nep_code.action_space import (
    AGAIN_TOKEN, EDIT_TOKEN, JUMP_TOKEN, SUB_TOKEN, TO_TOKEN, BoundCodeSpace, CodeActionSpace, CodeView, jump_action,
)
from nep_code.edits import LineEdit
from nep_code.encoder import CodeEncoder, first_again_site

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
    edit(4, 1, "def f(x, y):\n"),                      # replace one line: a substitution
    edit(4, 1, "async def f(x):\n    pass\n"),         # replace one line by two
    edit(5, 0, "    x += 1\n"),                        # insert
    edit(2, 2, ""),                                    # delete
    edit(4, 2, "def f(x):\n    y = x\n    return y\n"),  # multi-line
    edit(10, 0, "print(g(1))\n"),                      # append after the last line
])
def test_edits_in_the_region_round_trip(space, action):
    bound = space.for_context(session_context())
    tokens = bound.encode(action)
    assert tokens[0] in (EDIT_TOKEN, SUB_TOKEN)
    assert bound.decode(tokens) == action
    for position, token in enumerate(tokens):
        assert token in bound.allowed_next(tokens[:position])
    assert EOS in bound.allowed_next(tokens)


def test_a_one_line_change_of_one_piece_is_written_as_a_substitution(space):
    bound = space.for_context(session_context())
    codec = space.codec
    tokens = bound.encode(edit(9, 1, "    return f(y, 2)\n"))
    assert tokens == [SUB_TOKEN, "<L8>", *codec.tokens("y"), TO_TOKEN, *codec.tokens("y, 2")]
    assert bound.encode(edit(9, 1, "    return g(1) + 2\n"))[0] == EDIT_TOKEN  # two pieces changed: the whole line


def test_the_newest_substitution_continued_at_another_line_is_again_and_a_marker(space):
    files = {"pkg/a.py": "def f(s):\n    t = s + 1\n    u = sum(s)\n    return s_old\n"}
    events = [Event(0.0, state={"files": files, "cursor": {"file": "pkg/a.py", "line": 1, "column": 0}}),
              Event(1.0, action=edit(1, 1, "def f(size):\n"))]
    bound = space.for_context(Context(history=events, session_id="again"))
    assert bound.view.repeats[0] == ("s", "size")
    assert bound.allowed_next([AGAIN_TOKEN]) == ["<L1>", "<L2>"]  # not line 1 (done) nor s_old
    assert AGAIN_TOKEN in bound.allowed_next([])
    continued = edit(3, 1, "    u = sum(size)\n")  # "s" as a word: sum stays
    assert bound.encode(continued) == [AGAIN_TOKEN, "<L2>"]
    assert bound.decode([AGAIN_TOKEN, "<L2>"]) == continued
    assert bound.encode(edit(2, 1, "    t = s + 2\n"))[0] == SUB_TOKEN  # another substitution: written out


def test_an_older_edit_s_substitution_is_again_too_as_a_commit_makes_two_changes_in_turn(space):
    files = {"pkg/a.py": "def f(headers: dict):\n    g(dict())\n    h(headers)\n    k: dict = {}\n",
             "pkg/b.py": "import os\nBODY: dict = {}\n"}
    events = [Event(0.0, state={"files": files, "cursor": {"file": "pkg/a.py", "line": 1, "column": 0}}),
              Event(1.0, action=edit(1, 1, "def f(headers: Mapping):\n")),  # dict -> Mapping
              Event(5.0, action=edit(3, 1, "    h(headers or {})\n"))]  # then another change: headers -> headers or {}
    bound = space.for_context(Context(history=events, session_id="turns"))
    view = bound.view
    assert view.repeats == (("headers", "headers or {}"), ("dict", "Mapping"))  # newest first
    assert bound.allowed_next([AGAIN_TOKEN])[:2] == ["<L1>", "<L3>"]  # dict in g(dict()) and in k: dict
    older = edit(4, 1, "    k: Mapping = {}\n")
    assert bound.encode(older) == [AGAIN_TOKEN, "<L3>"]
    assert bound.decode([AGAIN_TOKEN, "<L3>"]) == older
    assert [(view.files[index], line, text) for index, line, text in view.again_sites] == [("pkg/b.py", 2, "BODY: Mapping = {}\n")]
    assert bound.encode(edit(2, 1, "BODY: Mapping = {}\n", "pkg/b.py")) == [AGAIN_TOKEN, "<file1>"]
    one = CodeActionSpace()
    one_encoder = CodeEncoder(one, recent_substitutions=1)  # the newest only: dict -> Mapping is not carried
    only_newest = one.for_context(Context(history=events, session_id="turns-1")).view
    assert only_newest.repeats == (("headers", "headers or {}"),) and only_newest.again_sites == ()
    assert one_encoder.settings()["recent_substitutions"] == 1


def rename_context(files, first_edit, cursor_file="pkg/core.py"):
    events = [Event(0.0, state={"files": files, "cursor": {"file": cursor_file, "line": first_edit.target["line"], "column": 0}}),
              Event(1.0, action=first_edit)]
    return Context(history=events, session_id="rename")


RENAME_FILES = {
    "pkg/core.py": "class Parser:\n    pass\n" + "\n" * 80 + "DEFAULT = Parser()\n",
    "pkg/web.py": "import os\nfrom pkg.core import Parser\n\nPAGE = Parser()\n",
    "pkg/cli.py": "from .core import Parser as _Parser\n",
    "pkg/util.py": "x = 1\n",
}


def test_a_rename_is_carried_into_the_next_file_and_further_down_with_again_and_a_file_marker(space):
    bound = space.for_context(rename_context(RENAME_FILES, edit(1, 1, "class BaseParser:\n", "pkg/core.py")))
    view = bound.view
    assert view.repeats[0] == ("Parser", "BaseParser")
    # the current file below its region first, then the other files holding "Parser", those after core.py first
    assert view.files[:3] == ("pkg/core.py", "pkg/web.py", "pkg/cli.py")
    assert [(view.files[index], line) for index, line, _ in view.again_sites] == [
        ("pkg/core.py", 83), ("pkg/web.py", 2), ("pkg/cli.py", 1)]  # not util.py: no Parser there
    assert bound.allowed_next([AGAIN_TOKEN]) == ["<file0>", "<file1>", "<file2>"]
    carried = edit(2, 1, "from pkg.core import BaseParser\n", "pkg/web.py")
    assert bound.encode(carried) == [AGAIN_TOKEN, "<file1>"]
    assert bound.decode([AGAIN_TOKEN, "<file1>"]) == carried
    below = edit(83, 1, "DEFAULT = BaseParser()\n", "pkg/core.py")
    assert bound.encode(below) == [AGAIN_TOKEN, "<file0>"]
    assert bound.decode([AGAIN_TOKEN, "<file0>"]) == below
    elsewhere = edit(4, 1, "PAGE = BaseParser()\n", "pkg/web.py")  # not the file's first site: a jump there
    assert bound.encode(elsewhere)[0] == JUMP_TOKEN
    with pytest.raises(InvalidAction):
        bound.decode([AGAIN_TOKEN, "<file3>"])


def test_in_another_file_again_reaches_the_line_most_like_the_one_changed_not_the_first_that_holds_old(space):
    # `dict` -> `Mapping` in a `headers:` parameter; web.py uses `dict` for other things first
    files = {"pkg/core.py": "def get(url, headers: dict[str, str], timeout=1):\n    pass\n",
             "pkg/web.py": "CACHE = dict()\n\n\ndef post(url, body: bytes, headers: dict[str, str]):\n    pass\n"}
    bound = space.for_context(rename_context(files, edit(1, 1, "def get(url, headers: Mapping[str, str], timeout=1):\n", "pkg/core.py")))
    view = bound.view
    assert [(view.files[index], line) for index, line, _ in view.again_sites] == [("pkg/web.py", 4)]
    assert bound.decode([AGAIN_TOKEN, "<file1>"]) == edit(4, 1, "def post(url, body: bytes, headers: Mapping[str, str]):\n", "pkg/web.py")


def test_the_import_of_a_renamed_name_comes_before_lines_more_like_the_one_changed():
    from nep_code.encoder import MAX_RESEMBLANCE_ROWS, resembling_rows

    lines = ["import os\n", "from pkg.core import Parser\n", "\n", "class Parser2(Parser):\n", "    pass\n", "x = Parser()\n"]
    changed_by = {("Parser", "BaseParser"): ["class Parser:\n"]}
    assert resembling_rows(lines, changed_by) == [1, 3, 5]  # the import, then the class line most like `class Parser:`
    assert resembling_rows(["x = 1\n"], changed_by) == []
    no_source = {("Parser", "BaseParser"): []}  # nothing to resemble: top-down
    assert resembling_rows(lines, no_source) == [1, 3, 5]
    assert resembling_rows(lines[2:], no_source) == [1, 3]
    common = ["x = Parser()\n"] * 1000 + ["class Parser:\n"]  # a file that holds the name a thousand times
    assert resembling_rows(common, changed_by) == list(range(MAX_RESEMBLANCE_ROWS))  # only the first few are weighed


def test_after_a_jump_into_the_next_file_the_substitution_goes_on_there(space):
    files = dict(RENAME_FILES)
    history = rename_context(files, edit(1, 1, "class BaseParser:\n", "pkg/core.py")).history
    history = [*history, Event(2.0, action=edit(2, 1, "from pkg.core import BaseParser\n", "pkg/web.py")),
               Event(2.5, state={"cursor": {"file": "pkg/web.py", "line": 2, "column": 0}})]
    bound = space.for_context(Context(history=history, session_id="rename"))
    assert bound.view.file == "pkg/web.py" and bound.view.repeats[0] == ("Parser", "BaseParser")
    assert bound.encode(edit(4, 1, "PAGE = BaseParser()\n", "pkg/web.py")) == [AGAIN_TOKEN, "<L3>"]


def test_a_camel_case_rename_is_one_piece_and_two_changes_are_not():
    from nep_code.substitution import find_substitution

    codec = CodeActionSpace().codec
    assert find_substitution("class SimpleReader(abc.ABC):\n", "class simple_reader(abc.ABC):\n", codec) == ("SimpleReader", "simple_reader")
    assert find_substitution("x = f(a) + g(b)\n", "x = f(c) + g(d)\n", codec) is None
    assert find_substitution("y = s + s\n", "y = size + size\n", codec) == ("s", "size")


def test_again_is_not_offered_where_the_change_would_break_the_code():
    lines = ("def g(x, y):\n", "    f(x, y)\n", "    y = 3\n", "    return f(y)\n")
    view = CodeView(("a.py",), (4,), 1, 4, lines, repeats=(("y", "y, z=None"),))
    assert view.again_rows() == (0, 1, 3)  # every "y" but the one in "y = 3", which would not parse
    broken = CodeView(("a.py",), (2,), 1, 2, ("if x:\n", "    y = 3\n"), repeats=(("y", "y, z=None"),))
    assert broken.again_rows() == ()  # "if x: y, z=None = 3" does not parse
    fragment = CodeView(("a.py",), (2,), 1, 2, ('"""Docs\n', "y = 3\n"), repeats=(("y", "y, z=None"),))
    assert fragment.again_rows() == (1,)  # a region that does not parse alone cannot judge


def test_again_is_not_offered_for_a_change_that_names_nothing():
    lines = ("def area(w, h=None):\n", "    total = w * h / 2\n", "    return total\n")
    for old, new in ((":", ":  # pragma: no cover"), ("None", "0"), ("2", "3")):  # on nearly every line
        assert CodeView(("a.py",), (3,), 1, 3, lines, repeats=((old, new),)).again_rows() == ()
    assert CodeView(("a.py",), (3,), 1, 3, lines, repeats=(("total", "area_"),)).again_rows() == (1, 2)

def test_substitution_grammar_spells_only_pieces_of_the_line_and_real_changes():
    space = CodeActionSpace()
    lines = ("def f(x):\n", "    return x\n")
    bound = BoundCodeSpace(space, CodeView(("a.py",), (2,), 1, 2, lines))
    codec = space.codec
    assert bound.allowed_next([SUB_TOKEN]) == ["<L0>", "<L1>"]
    assert set(bound.allowed_next([SUB_TOKEN, "<L1>", *codec.tokens("re")])) == set(codec.tokens("t"))  # not a word yet
    assert TO_TOKEN in bound.allowed_next([SUB_TOKEN, "<L1>", *codec.tokens("return")])
    assert bound.allowed_next([SUB_TOKEN, "<L1>", *codec.tokens("t")]) == []  # "t" only inside a word
    same = [SUB_TOKEN, "<L1>", *codec.tokens("x"), TO_TOKEN, *codec.tokens("x")]
    assert EOS not in bound.allowed_next(same)  # no change is not an edit
    assert EOS in bound.allowed_next([*same, *codec.tokens("s")])
    assert not set(codec.tokens("\n")) & set(bound.allowed_next(same))
    assert bound.decode([*same, *codec.tokens("s")]) == LineEdit("a.py", 2, 1, "    return xs\n").to_action()


@pytest.mark.parametrize(("old", "new", "pair"), [
    ("    fd = df.detach()\n", "    fd = df_list.detach()\n", ("df", "df_list")),
    ("    df = df + 1\n", "    df_list = df_list + 1\n", ("df", "df_list")),  # every occurrence
    ("    return self.a + 1\n", "    return self.b + 1\n", ("a", "b")),
    ("def f(a):\n", "def f(a, b=None):\n", ("a", "a, b=None")),
    ("foo(1, 2)\n", "foo(a=1, b=2)\n", None),  # two different insertions
    ("a = 1\n", "a = 1\n", None),
    ("a = 1\n", "a = 1", None),  # the newline changed
])
def test_find_substitution(old, new, pair):
    from nep_code.substitution import find_substitution

    found = find_substitution(old, new, CodeActionSpace().codec)
    assert found == pair
    if found:
        assert old.replace(*found) == new


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


def test_a_jump_that_would_show_the_same_region_is_no_action():
    space = CodeActionSpace()
    digits = {1: ["<#1>"], 2: ["<#2>"], 5: ["<#5>"], 8: ["<#8>"]}
    part = BoundCodeSpace(space, CodeView(("a.py", "b.py"), (9, 3), region_start=3, region_lines=4, cursor_line=5))
    with pytest.raises(InvalidAction, match="a.py:5"):  # the cursor's own line: the region is chosen around it
        part.decode([JUMP_TOKEN, "<file0>", *digits[5]])
    assert part.decode([JUMP_TOKEN, "<file0>", *digits[8]]) == jump_action("a.py", 8)
    assert part.decode([JUMP_TOKEN, "<file1>", *digits[2]]) == jump_action("b.py", 2)
    whole = BoundCodeSpace(space, CodeView(("a.py", "b.py"), (3, 3), region_start=1, region_lines=3, cursor_line=1))
    for line in (1, 2):  # every edit of a.py is written as an edit here, so no jump into it means anything
        with pytest.raises(InvalidAction):
            whole.decode([JUMP_TOKEN, "<file0>", *digits[line]])
    assert whole.decode([JUMP_TOKEN, "<file1>", *digits[1]]) == jump_action("b.py", 1)


def test_the_view_knows_the_line_its_region_was_chosen_around():
    from nep_core.plugins import get_domain

    encoder = get_domain("code").encoder
    assert encoder.view(session_context(cursor_line=8)).cursor_line == 8
    assert encoder.view(session_context(cursor_line=40)).cursor_line == 9  # past the end: the last line


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
    view = CodeView(("pkg/a.py",), (len(lines),), region_start=3, region_lines=5, region_text=tuple(lines[2:7]))
    bound = BoundCodeSpace(space, view)
    rng = random.Random(0)
    decoded = substituted = refused = 0
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
        try:
            action = bound.decode(tokens)
        except InvalidAction as error:  # well-formed, but it would break the region, which parses
            assert "would break code that parses" in str(error)
            refused += 1
            continue
        if action.kind == "edit":
            change = LineEdit.from_action(action)
            assert change.applies_to(lines)
            if tokens[0] == SUB_TOKEN:
                substituted += 1
                assert change.delete == 1 and change.insert != lines[change.line - 1]
        decoded += 1
    assert decoded + refused == 300
    assert substituted > 15 and refused > 0


def test_decoding_refuses_an_edit_that_breaks_code_that_parses():
    lines = SOURCE.splitlines(keepends=True)
    bound = BoundCodeSpace(CodeActionSpace(), CodeView(("pkg/a.py",), (len(lines),), 4, 2, tuple(lines[3:5])))
    codec = bound.codec
    good = bound.decode([EDIT_TOKEN, "<L1>", "<del1>", *codec.tokens("    return x + 1\n")])
    assert LineEdit.from_action(good).apply(lines)[4] == "    return x + 1\n"
    with pytest.raises(InvalidAction, match="pkg/a.py:5: the edit would break code that parses"):
        bound.decode([EDIT_TOKEN, "<L1>", "<del1>", *codec.tokens("    return (x\n")])
    header = BoundCodeSpace(CodeActionSpace(), CodeView(("pkg/a.py",), (len(lines),), 4, 1, tuple(lines[3:4])))
    with pytest.raises(InvalidAction):  # a region ending on a block header is judged with the body it lacks
        header.decode([EDIT_TOKEN, "<L0>", "<del1>", *codec.tokens("def f(x:\n")])
    string = ('    """Docs\n', "    x = 1\n")  # starts inside a string: it cannot be judged alone
    fragment = BoundCodeSpace(CodeActionSpace(), CodeView(("pkg/a.py",), (9,), 4, 2, string))
    assert fragment.decode([EDIT_TOKEN, "<L1>", "<del1>", *codec.tokens("    x = (\n")]).kind == "edit"


def test_a_region_that_cannot_be_judged_alone_is_judged_with_its_enclosing_blocks():
    lines = ["def f(x):\n", "    z = g(\n", "        x,\n", "    )\n", "    return z\n"]
    view = CodeView(("a.py",), (len(lines),), 3, 2, tuple(lines[2:4]), file_text=tuple(lines))  # a call's last lines
    assert view.keeps_parsing(0, 1, "        x, y,\n")
    assert not view.keeps_parsing(1, 1, "    ]\n")
    alone = CodeView(("a.py",), (len(lines),), 3, 2, tuple(lines[2:4]))  # no file: it cannot be judged
    assert alone.keeps_parsing(1, 1, "    ]\n")



def test_a_line_of_a_multi_line_signature_is_judged_with_the_whole_definition():
    # black's layout: the signature closes on a line as shallow as its `def`, then the body follows
    lines = ["import os\n", "\n", "\n", "def fields(\n", "    model: type,\n", "    mode: str = 'all',\n", ") -> list:\n",
             "    return list(model)\n", "\n", "\n", "def other():\n", "    return 1\n"]
    view = CodeView(("a.py",), (len(lines),), 5, 1, (lines[4],), file_text=tuple(lines))
    assert view.keeps_parsing(0, 1, "    model: Type,\n")
    assert not view.keeps_parsing(0, 1, "    model: Type[,\n")
    site = first_again_site("a.py", lines, [("type", "Type[,")], range(len(lines)))  # a carried rename here would break it
    assert site is None
    assert first_again_site("a.py", lines, [("type", "Type")], range(len(lines))) == (5, "    model: Type,\n")

def test_fragments_cut_from_a_file_parse_on_their_own():
    from nep_code.syntax import fragment_parses

    leaving = ["            if x:\n", "                return 1\n", "        y = 2\n", "    def g(self):\n"]
    assert fragment_parses(leaving, "a.py") is True  # leaves two blocks and ends on a header
    assert fragment_parses(["        x = 1\n", "    else:\n", "        y\n"], "a.py") is True
    assert fragment_parses(["        f(x)\n", "    except E as error:\n", "        raise\n", "    return 1\n"], "a.py") is True
    assert fragment_parses(["else:\n", "    if x:\n", "        raise E\n", "    s = 1\n"], "a.py") is True
    assert fragment_parses(["    x = 1\n", "    try:\n"], "a.py") is True
    assert fragment_parses(["    return 1\n", "\n", "@cache\n"], "a.py") is True
    assert fragment_parses(["        x = (1\n", "    y = 2\n"], "a.py") is False
    assert fragment_parses(["    y = 2\n", "        z = 3\n"], "a.py") is False  # an indent no block opens


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


def test_a_renamed_import_carries_the_name_alone_to_its_uses(space):
    """A byte-level BPE writes `` VersionProvider`` as one token with its space; the substitution is the
    name alone, not ``import VersionProvider``, so it reaches ``class NpmProvider(VersionProvider):``."""
    from nep_code.substitution import find_substitution, substitute
    from nep_code.tokenizer import train_bpe

    text = "from pkg.base import VersionProvider, JsonProvider\n\n\nclass NpmProvider(VersionProvider):\n    pass\n"
    tokenizer = train_bpe([text * 20], ["<pad>", "<unk>", "<bos>", "<sep>", "<eos>", "<no_edit>", *space.vocabulary()], 1000)
    own = CodeActionSpace()
    own.bind_tokenizer(tokenizer)
    assert own.codec.tokens(" VersionProvider") == ["\u0120VersionProvider"]  # one token, its space included
    pair = find_substitution("from pkg.base import VersionProvider\n", "from pkg.base import JsonProvider\n", own.codec)
    assert pair == ("VersionProvider", "JsonProvider")
    assert substitute("class NpmProvider(VersionProvider):\n", *pair) == "class NpmProvider(JsonProvider):\n"


def test_a_request_holding_what_no_editor_records_is_refused_or_dropped_never_a_crash() -> None:
    """A kind the code domain lacks is a 422; an edit with a non-text insert gets a label (it made the
    server answer 500) and is dropped from what the server sends."""
    from nep_core.inference import Prediction, Suggestion
    from nep_core.plugins import get_domain
    from nep_core.server.errors import ApiError
    from nep_core.server.events import parse_history
    from nep_core.server.suggest import checked_prediction

    domain = get_domain("code")
    state = {"files": {"geo.py": "a = 1\nb = 2\n"}, "cursor": {"file": "geo.py", "line": 1, "column": 0}}
    with pytest.raises(ApiError) as refused:
        parse_history([{"t": 0.0, "action": {"kind": "shout"}}], domain.action_space, max_events=8, max_depth=16)
    assert refused.value.status == 422 and refused.value.loc == "history[0].action.kind"
    junk = Action("edit", {"file": "geo.py", "line": 1}, {"delete": 1, "insert": 5})
    assert domain.action_space.describe(junk) == "replace at geo.py:1: 5"
    context = Context(history=[Event(0.0, state=state), Event(1.0, action=junk)], state=state)
    prediction = Prediction([Suggestion(junk, 0.6, domain.action_space.describe(junk))], 0.1)  # repeat-last's answer here
    checked, dropped = checked_prediction(domain, context, prediction, 3, verify=False)
    assert checked.suggestions == [] and dropped == 1


def test_a_label_shows_a_carriage_return_inside_a_line_rather_than_stopping_at_it():
    """`replace at m.py:5: t = 'a` — the label ended at a \\r inside the line (str.splitlines splits there)."""
    from nep_core.actions import Action

    space = CodeActionSpace()
    edit = Action("edit", target={"file": "m.py", "line": 5}, args={"delete": 1, "insert": "t = 'a\rb'  # é\u2028x\n"})
    assert space.describe(edit) == "replace at m.py:5: t = 'a\\rb'  # é\\u2028x"
    crlf = Action("edit", target={"file": "m.py", "line": 5}, args={"delete": 0, "insert": "x = 1\r\ny = 2\r\n"})
    assert space.describe(crlf) == "insert at m.py:5: x = 1 (+1 lines)"
