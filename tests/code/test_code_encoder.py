"""The code encoder: diffs newest first and merged, an editable region on syntax boundaries, a cursor, budgets."""

from __future__ import annotations

import pytest

from nep_core.session import Context, Event
from nep_code.action_space import CodeActionSpace
from nep_code.edits import LineEdit
from nep_code.encoder import CURSOR, EVENT, HIT, REGION, REGION_END, CodeEncoder
from nep_code.substitution import still_has
from nep_code.syntax import editable_region, parses, statement_starts

CALLS = "def area(w, h):\n    return w * h\n\n\nx = area(\n    2,\n    3,\n)\ny = area(4, 5)\n"


def edit_event(t, line, delete, insert, file="geo.py"):
    return Event(t, action=LineEdit(file, line, delete, insert).to_action())


def context(events, files=None, cursor=None):
    state = {"files": files or {"geo.py": CALLS}}
    if cursor:
        state["cursor"] = cursor
    return Context(history=[Event(0.0, state=state), *events], session_id="s")


def text_of(tokens, encoder):
    """The text of ``tokens``, special tokens as they are (runs of text tokens decoded together: a character may take several)."""
    out, run = [], []
    for token in [*tokens, "<end>"]:
        if token.startswith("<"):
            out += [encoder.action_space.codec.text(run), token] if run else [token]
            run = []
        else:
            run.append(token)
    return "".join(out[:-1])


@pytest.fixture()
def encoder():
    return CodeEncoder(CodeActionSpace())


def test_recent_edits_come_as_diffs_newest_first(encoder):
    events = [edit_event(1.0, 1, 1, "def area(w, h, d):\n"), edit_event(9.0, 9, 1, "y = area(4, 5, 6)\nz = y\n")]
    text = text_of(encoder.encode(context(events)), encoder)
    newest, oldest = text.index("+y = area(4, 5, 6)"), text.index("<sub>h<to>h, d")
    assert newest < oldest
    assert "@@ -9 +9,2 @@ geo.py" in text and "-y = area(4, 5)" in text and "+z = y" in text


def test_a_one_line_change_of_one_piece_comes_as_its_substitution(encoder):
    text = text_of(encoder.encode(context([edit_event(9.0, 9, 1, "y = area(4, 5, 6)\n")])), encoder)
    assert "<event>@@ -9 +9 @@ geo.py\n<sub>5<to>5, 6" in text
    assert "+y = area" not in text  # the pair replaces the two diff lines


def test_edits_close_in_time_and_place_merge_into_one_diff(encoder):
    close = [edit_event(1.0, 9, 1, "y = area(4, 5\n"), edit_event(1.5, 9, 1, "y = area(4, 5, 6)\n")]
    tokens = encoder.encode(context(close))
    assert tokens.count(EVENT) == 1
    assert "+y = area(4, 5, 6)" in text_of(tokens, encoder) and "+y = area(4, 5\n" not in text_of(tokens, encoder)
    apart = [edit_event(1.0, 9, 1, "y = area(4, 5\n"), edit_event(3.0, 9, 1, "y = area(4, 5, 6)\n")]
    assert encoder.encode(context(apart)).count(EVENT) == 2


def test_region_holds_the_cursor_and_never_cuts_a_statement(encoder):
    encoder.max_region_lines = 3
    ctx = context([], cursor={"file": "geo.py", "line": 6, "column": 4})
    layout = encoder.layout(ctx)
    start, end = layout.region
    assert start <= 5 < end
    assert (start, end) == (4, 8)  # x = area( ... ) is one statement: rows 4..7, longer than the window
    tokens = encoder.encode(ctx)
    region = tokens[tokens.index(REGION) : tokens.index(REGION_END)]
    assert CURSOR in region and region.count(CURSOR) == 1
    assert sum(token.startswith("<L") for token in region) == layout.view.region_lines + 1


def test_statement_starts_come_from_tree_sitter_for_other_languages():
    js = ["function f(a,\n", "           b) {\n", "  return a + b;\n", "}\n", "let x = f(1,\n", "  2);\n"]
    starts = statement_starts(js, "m.js")
    assert 0 in starts and 4 in starts and 1 not in starts and 5 not in starts
    assert editable_region(js, 5, starts, 2, 10_000) == (4, 6)
    assert parses("".join(js), "m.js") is True and parses("function (", "m.js") is False
    assert parses("def f(:\n", "a.py") is False and parses("x = 1\n", "a.unknown") is None


def test_other_recently_edited_files_are_context(encoder):
    files = {"geo.py": CALLS, "util.py": "def helper():\n    return 1\n"}
    events = [edit_event(1.0, 2, 1, "    return 2\n", file="util.py"), edit_event(5.0, 9, 1, "y = area(4, 6)\n")]
    tokens = encoder.encode(context(events, files))
    assert "<file1>" in tokens
    assert "util.py" in text_of(tokens[tokens.index("<file1>") :], encoder)
    assert encoder.view(context(events, files)).files == ("geo.py", "util.py")


def test_budgets_bound_the_prompt(encoder):
    big = "".join(f"value_{index} = compute({index}, {index + 1})\n" for index in range(400))
    events = [edit_event(float(index * 5), 1 + index * 7, 1, f"value_{index} = 0\n", file="big.py") for index in range(30)]
    small = CodeEncoder(CodeActionSpace(), region_tokens=64, context_tokens=16, event_tokens=48, max_events=3, max_tokens=400)
    tokens = small.encode(context(events, {"big.py": big}))
    assert len(tokens) <= 400
    assert tokens.count(EVENT) <= 3
    assert small.layout(context(events, {"big.py": big})).view.region_lines <= 64 * 3 // len("value_1 = compute(1, 2)\n") + 1


def test_edits_that_do_not_apply_are_skipped_not_raised(encoder):
    events = [edit_event(1.0, 500, 2, "x\n"), edit_event(2.0, 9, 1, "y = area(1, 1)\n")]
    layout = encoder.layout(context(events))
    assert layout.replay.skipped == 1
    assert "y = area(1, 1)\n" in layout.lines


def test_lines_the_newest_substitution_has_not_reached_are_marked(encoder):
    files = {"geo.py": "def area(w, h):\n    s = w * h\n    t = s + 1\n    u = s_old + 2\n    return s, t\n"}
    renamed = edit_event(1.0, 2, 1, "    size = w * h\n")  # s -> size at its first site
    tokens = encoder.encode(context([renamed], files, cursor={"file": "geo.py", "line": 2, "column": 0}))
    region = tokens[tokens.index(REGION) : tokens.index(REGION_END)]
    marked = [region[index - 1] for index, token in enumerate(region) if token == HIT]
    assert marked == ["<L2>", "<L4>"]  # "s" as a whole word: not in s_old, and line 2 already says size
    plain = encoder.encode(context([edit_event(1.0, 2, 2, "    size = w * h\n")], files))
    assert HIT not in plain  # the newest edit is no substitution


def test_files_the_newest_substitution_can_reach_are_listed_with_their_line(encoder):
    files = {"pkg/core.py": "def parse(text):\n    return text\n", "pkg/web.py": "from pkg.core import parse\n",
             "pkg/aaa.py": "x = 1\n"}
    renamed = edit_event(1.0, 1, 1, "def parse2(text):\n", file="pkg/core.py")
    ctx = context([renamed], files, cursor={"file": "pkg/core.py", "line": 1, "column": 0})
    view = encoder.layout(ctx).view
    assert view.files[:2] == ("pkg/core.py", "pkg/web.py")
    text = text_of(encoder.encode(ctx), encoder)
    assert "<file1>pkg/web.py<hit>from pkg.core import parse\n" in text
    assert "aaa.py<hit>" not in text
    plain = CodeEncoder(CodeActionSpace(), again_files=0)
    assert plain.layout(ctx).view.again_sites == () and HIT not in plain.encode(ctx)


def test_a_number_or_punctuation_changed_is_not_carried_into_other_files(encoder):
    files = {"pkg/__init__.py": "__version__ = '1.4.0'\n", "pkg/web.py": "PORT = 8000\nRETRIES = 4\n"}
    bumped = edit_event(1.0, 1, 1, "__version__ = '1.5.0'\n", file="pkg/__init__.py")  # "4" becomes "5"
    view = encoder.layout(context([bumped], files, cursor={"file": "pkg/__init__.py", "line": 1, "column": 0})).view
    assert view.repeats and not any(char.isalpha() for char in view.repeats[0][0])
    assert view.again_sites == ()  # RETRIES = 4 holds a 4, but it is no next use of anything
    renamed = edit_event(1.0, 1, 1, "PORTS = 8000\n", file="pkg/web.py")
    files["pkg/cli.py"] = "from pkg.web import PORT\n"
    view = encoder.layout(context([renamed], files, cursor={"file": "pkg/web.py", "line": 1, "column": 0})).view
    assert [view.files[index] for index, _, _ in view.again_sites] == ["pkg/cli.py"]


def test_a_keyword_changed_is_not_carried_elsewhere(encoder):
    files = {"pkg/limits.py": "MAX = None\nMIN = None\n", "pkg/web.py": "TIMEOUT = None\n"}
    zeroed = edit_event(1.0, 1, 1, "MAX = 0\n", file="pkg/limits.py")  # None becomes 0
    view = encoder.layout(context([zeroed], files, cursor={"file": "pkg/limits.py", "line": 1, "column": 0})).view
    assert view.repeats and view.repeats[0][0].strip() == "None"
    assert view.again_sites == ()  # MIN = None and TIMEOUT = None hold a None, but no next use of anything
    files["pkg/web.py"] = "from pkg.limits import MAX\nTIMEOUT = MAX\n"
    renamed = edit_event(1.0, 1, 1, "MAXIMUM = None\n", file="pkg/limits.py")
    view = encoder.layout(context([renamed], files, cursor={"file": "pkg/limits.py", "line": 1, "column": 0})).view
    assert [view.files[index] for index, _, _ in view.again_sites] == ["pkg/web.py"]

def test_still_has_matches_whole_words_outside_the_new_text():
    assert still_has("x = range(a)", "a", "b") and not still_has("x = rang(q)", "a", "b")
    assert still_has("df_list = df", "df", "df_list") and not still_has("df_list = 1", "df", "df_list")


def test_the_time_key_is_all_the_encoder_reads_of_times(encoder):
    """Edits merge by time: an accept's speculation is reused only when the merges come out the same."""
    from inference_helpers import check_time_key
    from nep_core.actions import Action
    from nep_code.action_space import JUMP_KIND

    histories = [
        [edit_event(1.0, 1, 1, "def area(w, h, d):\n"), edit_event(1.5, 9, 1, "y = area(4, 5, 6)\n"), edit_event(2.0, 9, 1, "y = area(4, 5, 7)\n")],
        [edit_event(1.0, 9, 1, "y = area(4, 5, 6)\n"), edit_event(1.2, 9, 1, "y = area(4, 5, 6, 7)\n"),
         edit_event(1.4, 80, 1, "never applies\n"), edit_event(1.6, 9, 1, "y = area(4, 5)\n"), edit_event(1.9, 10, 0, "z = y\n")],
        [edit_event(1.0, 1, 1, "def area(w, h=1):\n"), Event(1.5, action=Action(JUMP_KIND, target={"file": "geo.py", "line": 9})),
         edit_event(2.0, 9, 1, "y = area(4)\n")],
        [edit_event(1.0, 1, 1, "def area(w, h, d):\n"), edit_event(20.0, 9, 1, "y = area(4, 5, 6)\n"), edit_event(40.0, 9, 1, "y = area(4, 5, 7)\n")],
    ]
    unchanged, changed = check_time_key(encoder, [context(events) for events in histories], variants=40)
    assert unchanged > 5 and changed > 10
    backwards = context([edit_event(2.0, 1, 1, "def area(w, h, d):\n"), edit_event(1.0, 9, 1, "y = area(4, 5, 6)\n")])
    assert encoder.time_key(backwards) is None


def test_a_checkpoints_encoder_settings_are_set_back_on_a_copy_that_locates_with_its_own_encoder():
    from nep_core.checkpoint import as_trained, encoding_differences
    from nep_core.plugins import get_domain

    domain = get_domain("code")
    saved = {**domain.encoder.settings(), "again_files": domain.encoder.again_files + 2, "retired": 1}
    restored = as_trained(domain, {"encoder": saved})
    assert restored.encoder.again_files == domain.encoder.again_files + 2
    assert restored.action_space is restored.encoder.action_space and restored.action_space is not domain.action_space
    # each action space decodes <again> and line tokens with the view of its own encoder
    assert restored.action_space.locator.__self__ is restored.encoder
    assert domain.action_space.locator.__self__ is domain.encoder
    assert encoding_differences({"encoder": saved}, restored) == ["encoder retired 1, now unset"]
    assert as_trained(domain, {"encoder": domain.encoder.settings()}) is domain
    assert as_trained(domain, {"encoder": {**saved, "class": "AnotherEncoder"}}) is domain
    assert as_trained(domain, {}) is domain


def test_the_cursor_column_is_a_byte_column_as_editors_send_it(encoder):
    """Neovim sends a 0-based byte column: on a line with non-ASCII text the cursor was put that many
    characters in, at the end of the line here, not before `area`."""
    line = "print('日本語テキスト', area(4, 5))\n"
    files = {"geo.py": CALLS + line}
    before_area = len(line[: line.index("area")].encode("utf-8"))
    text = text_of(encoder.encode(context([], files, {"file": "geo.py", "line": 10, "column": before_area})), encoder)
    assert "テキスト', <cursor>area(4, 5))" in text
    inside = before_area - 4  # a byte inside ト: the character's start
    text = text_of(encoder.encode(context([], files, {"file": "geo.py", "line": 10, "column": inside})), encoder)
    assert "テキス<cursor>ト', area" in text


def test_an_accepted_edit_leaves_the_cursor_at_its_byte_column():
    from nep_code.edits import Workspace

    workspace = Workspace()
    workspace.apply_edit(LineEdit("geo.py", 1, 0, "s = 'é'\n"))
    assert workspace.cursor == {"file": "geo.py", "line": 1, "column": 8}  # 7 characters, 8 bytes


def test_a_minified_line_is_never_tokenized_or_parsed_whole(encoder, monkeypatch):
    """One 880 KB line took about 2 s an encode (the whole line tokenized before it was cut, its syntax tree
    walked): every request of the Neovim client timed out. The tokens kept are those of the whole line."""
    import nep_code.syntax as syntax

    line = "".join(f"function f{i}(a,b){{return a*{i}+b}};var x{i}=f{i}(1,2);" for i in range(3000)) + "\n"
    files = {"app.js": "// header\n" + line + "console.log(1);\n"}
    longest, tokenized = [], encoder.action_space.codec.tokens
    monkeypatch.setattr(encoder.action_space.codec, "tokens", lambda text: longest.append(len(text)) or tokenized(text))
    parsed = []
    monkeypatch.setattr(syntax, "_tree_sitter_starts", lambda *args: parsed.append(args) or None)
    for column in (0, 5000):
        tokens = encoder.encode(context([], files, {"file": "app.js", "line": 2, "column": column}))
        assert max(longest) < 2000 and not parsed
        monkeypatch.setattr("nep_code.encoder.CLIPPED_MARGIN_TOKENS", 10**9)  # never cut: the whole line tokenized
        encoder._memo = None
        assert encoder.encode(context([], files, {"file": "app.js", "line": 2, "column": column})) == tokens
        monkeypatch.setattr("nep_code.encoder.CLIPPED_MARGIN_TOKENS", 8)
        longest.clear()
