"""The code action space: a line edit located in the editable region, a jump, or NO_EDIT.

Tokens (written in a context, see ``CodeView``; Coeditor-style located line diff)::

    <edit> <L3> <del1> d e f ␣ f ( x ) : Ċ <eos>   replace 1 line at region line 3 with "def f(x):\\n"
    <edit> <L5> <del0> ... <eos>                     insert before region line 5 (<L{n}> after the last line)
    <edit> <L2> <del2> <eos>                         delete 2 lines
    <sub> <L4> d f <to> d f _ l i s t <eos>          in region line 4, every "df" becomes "df_list"
    <again> <L7> <eos>                               a recent edit's substitution, at region line 7
    <again> <file2> <eos>                            ...at the line of the third listed file it reaches (CodeView.again_sites)
    <jump> <file1> <#4> <#2> <eos>                   move to line 42 of the second listed file
    <no_edit> <eos>

``<L{i}>`` are the markers the encoder puts before each line of the editable region, so the model
points at a line instead of writing its number. The grammar allows only markers the region has, only
deletions that stay inside it, text tokens for the inserted lines and ``<eos>`` only after a newline
(or after nothing when lines are deleted), and for a jump only listed files and line numbers that
exist there: every sequence it allows decodes to an edit that applies, a jump, or NO_EDIT.

``<sub>`` is the short form of a one-line replacement that changes one piece of the line (see
``nep_code.substitution``): the grammar allows only region lines, an ``OLD`` piece that occurs in
that line, and a ``NEW`` piece without a newline that differs from it. It decodes to the same
``edit`` action as the long form; a one-line replacement that has a substitution is always written
this way in training targets. ``<again>`` applies a recent edit's substitution (``CodeView.repeats``,
newest first: a line gets the first one whose ``OLD`` it still holds) to another region line, or, with
a file marker, to one line of another listed file that holds one (``CodeView.again_sites``: a
rename carried into the next file); a target that continues one is always written so.

Actions: ``edit`` is the shared payload of ``nep_code.edits``; ``jump`` is
``{"kind": "jump", "target": {"file": "pkg/a.py", "line": 42}}`` (move the cursor there, then ask again).
An edit outside the region is written as a jump to its first line. A jump that would show the region
already shown (to the cursor's line, or into a file that is all region) decodes to no action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Collection, Hashable, Sequence

from nep_core.action_space import EOS, NO_EDIT_TOKEN, ActionSpace
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction
from nep_code.edits import EDIT_KIND, LineEdit
from nep_code.substitution import can_start, find_substitution, names_something, still_has, substitute
from nep_code.syntax import CLAUSES as _CLAUSES, fragment_parses
from nep_code.tokenizer import TextCodec

JUMP_KIND = "jump"
EDIT_TOKEN, JUMP_TOKEN, SUB_TOKEN, TO_TOKEN, AGAIN_TOKEN = "<edit>", "<jump>", "<sub>", "<to>", "<again>"
MAX_REGION_LINES = 64
"""Region line markers ``<L0>`` .. ``<L64>`` (the last one is the append position after 64 lines)."""
MAX_FILES = 8
"""Files a jump can name: ``<file0>`` is the current file, then the other recently edited files."""
MAX_LINE_DIGITS = 7
MAX_INSERT_CHARS = 240
"""Longest inserted text a suggestion writes (about 80 BPE tokens): longer edits are not next-edit
suggestions, and examples whose target is longer are skipped (the core's "cannot write" rule)."""

MAX_SUBSTITUTION_TOKENS = 48
"""Longest ``OLD`` plus ``NEW`` of a substitution, in tokens; a longer change is written as a whole line."""

LINE_TOKENS = tuple(f"<L{index}>" for index in range(MAX_REGION_LINES + 1))
DELETE_TOKENS = tuple(f"<del{count}>" for count in range(MAX_REGION_LINES + 1))
FILE_TOKENS = tuple(f"<file{index}>" for index in range(MAX_FILES))
DIGIT_TOKENS = tuple(f"<#{digit}>" for digit in range(10))
_LINE_INDEX = {token: index for index, token in enumerate(LINE_TOKENS)}
_DELETE_COUNT = {token: count for count, token in enumerate(DELETE_TOKENS)}
_FILE_INDEX = {token: index for index, token in enumerate(FILE_TOKENS)}
_DIGIT = {token: digit for digit, token in enumerate(DIGIT_TOKENS)}


MAX_WINDOW_LINES = 400
"""The most lines of the file read to judge whether an edit keeps a region's code parsing."""


def _indent(line: str) -> int | None:
    """The indentation of a code line; None for blank and comment lines."""
    stripped = line.lstrip()
    return None if not stripped or stripped.startswith("#") else len(line) - len(stripped)


_CONTINUATIONS = (*_CLAUSES, ")", "]", "}")
"""Line starts that continue the statement or block above at the same indent."""


def _enclosing(lines: Sequence[str], first: int, last: int) -> tuple[int, int]:
    """``[first, last)`` grown to the block that encloses it: up to the nearest shallower line (its
    header; for top-level code, the statement before) and down to the line before the next line as shallow as that header (clauses such as
    ``else:`` and ``except`` continue the block, and so does a line that closes the header's brackets,
    such as a multi-line signature's ``) -> int:``)."""
    levels = [level for level in map(_indent, lines[first:last]) if level is not None]
    level = min(levels) if levels else 0
    start = first - 1
    while start >= 0 and (_indent(lines[start]) is None or _indent(lines[start]) > max(level - 1, 0)):
        start -= 1
    header = _indent(lines[start]) if start >= 0 else 0
    end = last
    while end < len(lines):
        indent = _indent(lines[end])
        if indent is not None and indent <= header and not (indent == header and lines[end].lstrip().startswith(_CONTINUATIONS)):
            break
        end += 1
    return max(start, 0), end


def repeat_for(line: str, repeats: Sequence[tuple[str, str]]) -> tuple[str, str] | None:
    """The first of ``repeats`` whose ``old`` names something and that ``line`` still holds."""
    return next((pair for pair in repeats if pair[0] in line and names_something(pair[0]) and still_has(line, *pair)), None)


@dataclass(frozen=True)
class CodeView:
    """Where the model is looking: the current file, its editable region, and the files a jump can name.

    ``region_start`` is the 1-based line of ``<L0>``; the region has ``region_lines`` lines.
    ``files[0]`` is the current file; ``file_lines[i]`` is the line count of ``files[i]``.
    """

    files: tuple[str, ...] = ()
    file_lines: tuple[int, ...] = ()
    region_start: int = 1
    region_lines: int = 0
    region_text: tuple[str, ...] = ()
    """The region's lines (with their newlines), for substitutions."""
    repeats: tuple[tuple[str, str], ...] = ()
    """Recent edits' substitutions ``(old, new)``, newest first, which ``<again>`` applies to another
    line: each line gets the first one whose ``old`` it still holds (``repeat_for``)."""
    file_text: tuple[str, ...] = field(default=(), compare=False, repr=False)
    """The current file's lines, to judge an edit in a region that cannot be judged on its own."""
    again_sites: tuple[tuple[int, int, str], ...] = ()
    """``(file index, line, new text)``: per listed file, one line outside the region that still holds a
    recent substitution's ``old`` (with that line as the substitution leaves it, still parsing); which
    one is ``CodeEncoder.again_sites``'s choice."""
    cursor_line: int = 0
    """The 1-based line of the current file the region was chosen around; 0 when not known."""

    def jump_moves(self, line: int) -> bool:
        """Whether a jump to ``line`` of the current file would show another region. It would not to the
        cursor's own line (the region is chosen around it), nor anywhere when the region is the whole
        file (every edit of the file is then written as an edit)."""
        whole_file = self.region_start == 1 and bool(self.file_lines) and self.region_lines >= self.file_lines[0]
        return not whole_file and line != self.cursor_line

    def repeat_for(self, line: str) -> tuple[str, str] | None:
        """The first of ``repeats`` that ``line`` still holds (and whose ``old`` names something)."""
        return repeat_for(line, self.repeats)

    def again_text(self, row: int) -> str | None:
        """Region row ``row`` as ``<again>`` leaves it; None when no recent substitution applies there."""
        line = self.region_text[row]
        pair = self.repeat_for(line)
        return substitute(line, *pair) if pair is not None else None

    def again_rows(self) -> tuple[int, ...]:
        """Region rows that ``<again>`` can change: those that still hold a recent substitution's ``old``
        and keep parsing once it is applied."""
        return self._rows[1]

    def again_files(self) -> tuple[int, ...]:
        """Indexes of the listed files that ``<again> <file{i}>`` can change."""
        return tuple(site[0] for site in self.again_sites)

    def text_rows(self) -> tuple[int, ...]:
        """Region rows that are not blank (those a substitution can change)."""
        return self._rows[0]

    @cached_property
    def _rows(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        lines = self.region_text[: min(self.region_lines, MAX_REGION_LINES)]
        text = tuple(row for row, line in enumerate(lines) if line.strip())
        if not self.repeats:
            return text, ()
        again = []
        for row in text:
            changed = self.again_text(row)
            if changed is not None and self.keeps_parsing(row, 1, changed):
                again.append(row)
        return text, tuple(again)

    def keeps_parsing(self, row: int, delete: int, insert: str) -> bool:
        """Whether code that parses still parses after ``delete`` lines from region row ``row`` are
        replaced by ``insert``: a suggestion must not break working code. Judged on the region, or
        when the region cannot be judged alone, on the enclosing blocks around it (``_window``)."""
        window = self._window
        if window is None:
            return True
        first, last = window
        start = self.region_start - 1 + row - first
        lines = self.file_text[first:last] if self.file_text else self.region_text[: min(self.region_lines, MAX_REGION_LINES)]
        return fragment_parses([*lines[:start], insert, *lines[start + delete :]], self.file) is not False

    @cached_property
    def _window(self) -> tuple[int, int] | None:
        """0-based file rows ``[first, last)`` around the region that parse alone (the region itself,
        else its enclosing blocks, up to ``MAX_WINDOW_LINES``), or None when none do."""
        first = self.region_start - 1
        last = first + min(self.region_lines, MAX_REGION_LINES)
        lines = self.file_text
        if not lines:  # a view without the file: the region alone
            lines, first, last = self.region_text[: last - first], 0, last - first
        while True:
            verdict = fragment_parses(lines[first:last], self.file)
            if verdict is not False:
                return (first, last) if verdict else None
            if lines is self.region_text or last - first > MAX_WINDOW_LINES:
                return None
            grown = _enclosing(lines, first, last)
            if grown == (first, last):
                return None
            first, last = grown

    @property
    def file(self) -> str:
        return self.files[0] if self.files else ""

    def contains(self, edit: LineEdit) -> bool:
        first, last = self.region_start, self.region_start + self.region_lines
        return edit.file == self.file and first <= edit.line <= last and edit.line + edit.delete <= last


class CodeActionSpace(ActionSpace):
    """Edits, jumps and NO_EDIT for source files. Context-free methods validate actions; decoding and
    training go through ``for_context``, which gives the ``BoundCodeSpace`` of the encoder's view."""

    name = "code"
    version = "4"

    def __init__(self, locator: Callable[[Any], CodeView] | None = None):
        self.locator = locator
        self.codec = TextCodec()

    # -- tokenizer and context -----------------------------------------------------------------

    def bind_tokenizer(self, tokenizer) -> None:
        if self.codec.tokenizer is not tokenizer:
            self.codec = TextCodec(tokenizer)

    def for_context(self, context) -> BoundCodeSpace:
        if context is None or self.locator is None:
            return BoundCodeSpace(self, CodeView())
        return BoundCodeSpace(self, self.locator(context))

    # -- context-free --------------------------------------------------------------------------

    def vocabulary(self) -> list[str]:
        return [EDIT_TOKEN, JUMP_TOKEN, SUB_TOKEN, TO_TOKEN, AGAIN_TOKEN, *LINE_TOKENS, *DELETE_TOKENS, *FILE_TOKENS, *DIGIT_TOKENS]

    def encode(self, action: Action) -> list[str]:
        """The action written relative to a region that starts at its own line (same length as in a
        context); raises InvalidAction for a malformed action."""
        action = self.validate(action)
        if action.is_no_edit:
            return [NO_EDIT_TOKEN]
        if action.kind == JUMP_KIND:
            return [JUMP_TOKEN, FILE_TOKENS[0], *_digits(action.target["line"])]
        edit = LineEdit.from_action(action)
        view = CodeView((edit.file,), (edit.line + edit.delete,), edit.line, min(edit.delete, MAX_REGION_LINES))
        return BoundCodeSpace(self, view).encode(action)

    def decode(self, tokens: Sequence[str]) -> Action:
        if list(tokens) == [NO_EDIT_TOKEN]:
            return NO_EDIT
        raise InvalidAction("code edits are written relative to a context: decode with for_context(context)")

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        return BoundCodeSpace(self, CodeView()).allowed_next(prefix)

    def validate(self, action: Action) -> Action:
        """The action in canonical form; InvalidAction names the bad field."""
        if action.is_no_edit:
            return NO_EDIT
        if action.kind == EDIT_KIND:
            try:
                edit = LineEdit.from_action(action)
            except ValueError as error:
                raise InvalidAction(str(error)) from None
            if edit.delete == 0 and not edit.insert:
                raise InvalidAction("an edit must delete or insert something")
            if len(edit.insert) > MAX_INSERT_CHARS:
                raise InvalidAction(f"action.args.insert is longer than {MAX_INSERT_CHARS} characters")
            return edit.to_action()
        if action.kind == JUMP_KIND:
            target = action.target if isinstance(action.target, dict) else {}
            file, line = target.get("file"), target.get("line")
            if not isinstance(file, str) or not file:
                raise InvalidAction("action.target.file must be a non-empty string")
            if not isinstance(line, int) or isinstance(line, bool) or line < 1:
                raise InvalidAction("action.target.line must be an integer >= 1")
            return jump_action(file, line)
        raise InvalidAction(unknown_kind(action.kind))

    def check_kind(self, kind: str) -> None:
        if kind not in (EDIT_KIND, JUMP_KIND):
            raise InvalidAction(unknown_kind(kind))

    def location(self, action: Action) -> Hashable:
        """``file:line`` of an edit or jump: where the cursor goes."""
        target = action.target if isinstance(action.target, dict) else {}
        return f"{target.get('file')}:{target.get('line')}"

    def location_length(self, tokens: Sequence[str]) -> int:
        """A jump is all location (file and line); an edit, substitution or repeat is located by its
        first two tokens (``<edit> <L3>``: a line of the current file's region, as ``location()`` says)."""
        head = tokens[0] if tokens else None
        if head == JUMP_TOKEN:
            return len(tokens)
        if head in (EDIT_TOKEN, SUB_TOKEN, AGAIN_TOKEN):
            return min(2, len(tokens))
        return min(1, len(tokens))

    def describe(self, action: Action) -> str:
        if action.is_no_edit:
            return "no edit"
        target = action.target if isinstance(action.target, dict) else {}
        where = f"{target.get('file')}:{target.get('line')}"
        if action.kind == JUMP_KIND:
            return f"jump to {where}"
        delete, insert = action.args.get("delete", 0), action.args.get("insert", "")
        if not isinstance(insert, str):  # a label for anything, even an action the space would refuse
            insert = repr(insert)
        first = shown_line(insert.split("\n")[0].removesuffix("\r")) if insert else ""
        if not insert:
            return f"delete {delete} line{'s' if delete != 1 else ''} at {where}"
        verb = "replace" if delete else "insert"
        more = insert.count("\n") - 1
        return f"{verb} at {where}: {first[:60]}" + (f" (+{more} lines)" if more > 0 else "")


def shown_line(line: str) -> str:
    """``line`` stripped, a character that would break it or hide text (``\\r``, U+2028) written as its escape."""
    return "".join(char if char.isprintable() or char == "\t" else char.encode("unicode_escape").decode("ascii") for char in line).strip()


def unknown_kind(kind) -> str:
    return f"unknown action kind '{kind}' (code actions are edit and jump)"


def jump_action(file: str, line: int) -> Action:
    return Action(kind=JUMP_KIND, target={"file": file, "line": line})


def _digits(number: int) -> list[str]:
    return [DIGIT_TOKENS[int(char)] for char in str(number)]


@dataclass
class BoundCodeSpace(ActionSpace):
    """The code action space in one context: tokens relative to its ``CodeView``."""

    space: CodeActionSpace
    view: CodeView
    name: str = "code"
    version: str = CodeActionSpace.version
    _max_line: dict[int, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._max_line = {index: lines + 1 for index, lines in enumerate(self.view.file_lines)}

    @property
    def codec(self) -> TextCodec:
        return self.space.codec

    def vocabulary(self) -> list[str]:
        return self.space.vocabulary()

    def validate(self, action: Action) -> Action:
        return self.space.validate(action)

    def location(self, action: Action) -> Hashable:
        return self.space.location(action)

    def location_length(self, tokens: Sequence[str]) -> int:
        return self.space.location_length(tokens)

    def describe(self, action: Action) -> str:
        return self.space.describe(action)

    def encode(self, action: Action) -> list[str]:
        action = self.space.validate(action)
        if action.is_no_edit:
            return [NO_EDIT_TOKEN]
        view = self.view
        if action.kind == EDIT_KIND:
            edit = LineEdit.from_action(action)
            if view.contains(edit):
                row = edit.line - view.region_start
                marker = LINE_TOKENS[row]
                if edit.delete == 1 and row in view.again_rows() and edit.insert == view.again_text(row):
                    return [AGAIN_TOKEN, marker]
                pair = self._substitution(edit)
                if pair is not None:
                    return [SUB_TOKEN, marker, *self.codec.tokens(pair[0]), TO_TOKEN, *self.codec.tokens(pair[1])]
                return [EDIT_TOKEN, marker, DELETE_TOKENS[edit.delete], *self.codec.tokens(edit.insert)]
            file, line = edit.file, edit.line
            site = self._again_site(edit)
            if site is not None:
                return [AGAIN_TOKEN, FILE_TOKENS[site]]
        else:
            file, line = action.target["file"], action.target["line"]
        index = view.files.index(file) if file in view.files[:MAX_FILES] else 0
        line = min(line, self._max_line.get(index, line))
        return [JUMP_TOKEN, FILE_TOKENS[index], *_digits(max(line, 1))]

    def decode(self, tokens: Sequence[str]) -> Action:
        tokens = list(tokens)
        if tokens == [NO_EDIT_TOKEN]:
            return NO_EDIT
        if not self._complete(tokens):
            raise InvalidAction(f"not a complete code action: {' '.join(tokens[:8]) or '(empty)'}")
        view = self.view
        if tokens[0] == JUMP_TOKEN:
            index, number = _FILE_INDEX[tokens[1]], int("".join(str(_DIGIT[token]) for token in tokens[2:]))
            if index == 0 and not view.jump_moves(number):
                raise InvalidAction(f"{view.file}:{number}: a jump there would show the region already shown")
            return jump_action(view.files[index], number)
        if tokens[0] == AGAIN_TOKEN and tokens[1] in _FILE_INDEX:
            index, line, text = next(site for site in view.again_sites if site[0] == _FILE_INDEX[tokens[1]])
            return LineEdit(view.files[index], line, 1, text).to_action()
        row = _LINE_INDEX[tokens[1]]
        if tokens[0] == AGAIN_TOKEN:
            edit = LineEdit(view.file, view.region_start + row, 1, view.again_text(row))
        elif tokens[0] == SUB_TOKEN:
            middle = tokens.index(TO_TOKEN)
            old, new = self.codec.text(tokens[2:middle]), self.codec.text(tokens[middle + 1 :])
            edit = LineEdit(view.file, view.region_start + row, 1, substitute(view.region_text[row], old, new))
        else:
            edit = LineEdit(view.file, view.region_start + row, _DELETE_COUNT[tokens[2]], self.codec.text(tokens[3:]))
        if not view.keeps_parsing(row, edit.delete, edit.insert):
            raise InvalidAction(f"{view.file}:{edit.line}: the edit would break code that parses")
        return edit.to_action()

    def _again_site(self, edit: LineEdit) -> int | None:
        """The file index whose again-site ``edit`` is exactly, if any."""
        if edit.delete != 1:
            return None
        for index, line, text in self.view.again_sites:
            if self.view.files[index] == edit.file and line == edit.line and text == edit.insert:
                return index
        return None

    def _substitution(self, edit: LineEdit) -> tuple[str, str] | None:
        """The substitution that writes ``edit`` (one region line replaced by one line), if any."""
        row = edit.line - self.view.region_start
        if edit.delete != 1 or edit.insert.count("\n") != 1 or not 0 <= row < len(self.view.region_text):
            return None
        pair = find_substitution(self.view.region_text[row], edit.insert, self.codec)
        if pair is None:
            return None
        old, new = self.codec.tokens(pair[0]), self.codec.tokens(pair[1])
        pieces = self.codec.token_texts
        if len(old) + len(new) > MAX_SUBSTITUTION_TOKENS or any(not pieces.get(token) for token in old):
            return None  # too long, or an old piece the grammar cannot spell token by token
        return pair

    def _tokens_continuing(self, line: str, old: str) -> set[str]:
        """Text tokens ``t`` with ``old + text(t)`` in ``line``, starting where a piece may start (not inside a word)."""
        by_text, longest = self.codec.tokens_by_text, self.codec.longest_token_text
        found: set[str] = set()
        start = line.find(old)
        while start != -1:
            if not can_start(line, start):
                start = line.find(old, start + 1)
                continue
            rest = line[start + len(old) : start + len(old) + longest]
            for end in range(1, len(rest) + 1):
                found.update(by_text.get(rest[:end], ()))
            start = line.find(old, start + 1)
        return found

    def _complete(self, tokens: list[str]) -> bool:
        """Whether the grammar accepts ``tokens`` as a whole action (checked without building masks)."""
        for position, token in enumerate(tokens):
            if not self._allows(tokens[:position], token):
                return False
        return self._allows(tokens, EOS)

    def _allows(self, prefix: Sequence[str], token: str) -> bool:
        key = self.grammar_key(prefix)
        if key[0] == "text":
            return token in self.codec.text_tokens or (token == EOS and (key[3] or (key[1] and not key[2])))
        if key[0] == "sub_new":
            return token in self.codec.single_line_tokens or (token == EOS and key[1])
        return token in self.allowed_next(prefix)

    def grammar_key(self, prefix: Sequence[str]) -> Hashable:
        view = self.view
        if not prefix:
            return ("start", view.region_lines > 0 or bool(view.files), len(view.files) > 0,
                    bool(view.text_rows()), bool(view.again_rows() or view.again_sites))
        head = prefix[0]
        if head == NO_EDIT_TOKEN:
            return ("no_edit", len(prefix))
        if head == EDIT_TOKEN:
            if len(prefix) == 1:
                return ("line", self._region_size())
            start = _LINE_INDEX.get(prefix[1])
            if start is None or start > self._region_size():
                return ("dead",)
            if len(prefix) == 2:
                return ("delete", self._region_size() - start)
            count = _DELETE_COUNT.get(prefix[2], -1)
            if not 0 <= count <= self._region_size() - start:
                return ("dead",)
            content = prefix[3:]
            if any(token not in self.codec.text_tokens for token in content[-1:]):
                return ("dead",)
            return ("text", count > 0, bool(content), bool(content) and content[-1] in self.codec.newline_tokens)
        if head == AGAIN_TOKEN:
            if len(prefix) == 1:
                return ("again_line", view.again_rows(), view.again_files())
            if len(prefix) == 2 and (_LINE_INDEX.get(prefix[1], -1) in view.again_rows()
                                     or _FILE_INDEX.get(prefix[1], -1) in view.again_files()):
                return ("again_done",)
            return ("dead",)
        if head == SUB_TOKEN:
            if len(prefix) == 1:
                return ("sub_line", view.text_rows())
            row = _LINE_INDEX.get(prefix[1])
            if row not in view.text_rows():
                return ("dead",)
            rest = prefix[2:]
            if TO_TOKEN not in rest:
                if any(token not in self.codec.text_tokens for token in rest[-1:]):
                    return ("dead",)
                return ("sub_old", view.region_text[row].rstrip("\n"), self.codec.text(rest))
            middle = rest.index(TO_TOKEN)
            old, new = self.codec.text(rest[:middle]), self.codec.text(rest[middle + 1 :])
            if not old or any(token not in self.codec.text_tokens for token in rest[middle + 1 :][-1:]) or "\n" in new:
                return ("dead",)
            return ("sub_new", old != new and still_has(view.region_text[row], old, new))
        if head == JUMP_TOKEN:
            if len(prefix) == 1:
                return ("file", min(len(view.files), MAX_FILES))
            index = _FILE_INDEX.get(prefix[1])
            if index is None or index >= min(len(view.files), MAX_FILES):
                return ("dead",)
            digits = prefix[2:]
            if any(token not in _DIGIT for token in digits) or (digits and digits[0] == DIGIT_TOKENS[0]):
                return ("dead",)
            number = int("".join(str(_DIGIT[token]) for token in digits)) if digits else 0
            return ("digits", self._max_line.get(index, 1), number, len(digits))
        return ("dead",)

    def _region_size(self) -> int:
        return min(self.view.region_lines, MAX_REGION_LINES)

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        key = self.grammar_key(prefix)
        kind = key[0]
        if kind == "start":
            first = [NO_EDIT_TOKEN]
            if self.view.files:
                first += [EDIT_TOKEN, JUMP_TOKEN]
            if self.view.text_rows():
                first.append(SUB_TOKEN)
            if self.view.again_rows() or self.view.again_sites:
                first.append(AGAIN_TOKEN)
            return first
        if kind == "no_edit":
            return [EOS] if key[1] == 1 else []
        if kind == "line":
            return list(LINE_TOKENS[: key[1] + 1])
        if kind == "delete":
            return list(DELETE_TOKENS[: key[1] + 1])
        if kind == "text":
            _, deletes, has_text, ends_with_newline = key
            done = ends_with_newline or (deletes and not has_text)
            return [*self.codec.text_tokens, EOS] if done else list(self.codec.text_tokens)
        if kind == "again_line":
            return [LINE_TOKENS[row] for row in key[1]] + [FILE_TOKENS[index] for index in key[2]]
        if kind == "again_done":
            return [EOS]
        if kind == "sub_line":
            return [LINE_TOKENS[row] for row in key[1]]
        if kind == "sub_old":
            _, line, old = key
            allowed = [TO_TOKEN] if old and still_has(line, old, "") else []
            return allowed + sorted(self._tokens_continuing(line, old))
        if kind == "sub_new":
            return [*self.codec.single_line_tokens, EOS] if key[1] else list(self.codec.single_line_tokens)
        if kind == "file":
            return list(FILE_TOKENS[: key[1]])
        if kind == "digits":
            _, limit, number, count = key
            allowed = [EOS] if number >= 1 else []
            if count < MAX_LINE_DIGITS:
                allowed += [DIGIT_TOKENS[d] for d in range(1 if count == 0 else 0, 10) if number * 10 + d <= limit]
            return allowed
        return []
