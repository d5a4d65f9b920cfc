"""Line edits on text files, and the files a code session has open at any point.

The payload every part of the code domain shares (collectors write it, the encoder and verifier
read it, the editor client records it):

- an **edit** action: ``{"kind": "edit", "target": {"file": "pkg/a.py", "line": 12},
  "args": {"delete": 2, "insert": "x = 1\\ny = 2\\n"}}`` replaces ``delete`` whole lines starting at
  1-based ``line`` with ``insert`` (whole lines, each ending in ``"\\n"``; may be empty). An insertion
  has ``delete`` 0 and goes before ``line``; ``line`` may be one past the last line (append).
  Line numbers refer to the file as it is when the edit happens, after every earlier edit.
- a **state** event: ``{"files": {"pkg/a.py": "<whole text>"}, "cursor": {"file": "pkg/a.py",
  "line": 12, "column": 4}}``, both keys optional. ``files`` gives the whole text of the files it
  names (a snapshot replaces what was known of them); ``cursor`` is 1-based line, 0-based column.

A session's first state event snapshots every file it later edits.
"""

from __future__ import annotations

import bisect
import difflib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

EDIT_KIND = "edit"


@dataclass(frozen=True)
class LineEdit:
    """Replace ``delete`` lines from 1-based ``line`` of ``file`` with the lines of ``insert``."""

    file: str
    line: int
    delete: int
    insert: str

    @classmethod
    def from_action(cls, action) -> LineEdit:
        """The edit an ``edit`` action describes; ``ValueError`` names the bad field."""
        target = action.target if isinstance(action.target, Mapping) else {}
        file, line = target.get("file"), target.get("line")
        delete, insert = action.args.get("delete", 0), action.args.get("insert", "")
        if not isinstance(file, str) or not file:
            raise ValueError("action.target.file must be a non-empty string")
        if not isinstance(line, int) or isinstance(line, bool) or line < 1:
            raise ValueError("action.target.line must be an integer >= 1")
        if not isinstance(delete, int) or isinstance(delete, bool) or delete < 0:
            raise ValueError("action.args.delete must be an integer >= 0")
        if not isinstance(insert, str) or (insert and not insert.endswith("\n")):
            raise ValueError("action.args.insert must be whole lines, each ending in a newline")
        return cls(file, line, delete, insert)

    def to_action(self, context: Mapping[str, Any] | None = None):
        from nep_core.actions import Action

        return Action(kind=EDIT_KIND, target={"file": self.file, "line": self.line},
                      args={"delete": self.delete, "insert": self.insert}, context=dict(context or {}))

    @property
    def inserted_lines(self) -> list[str]:
        return newline_lines(self.insert)

    def applies_to(self, lines: Sequence[str]) -> bool:
        return self.line - 1 + self.delete <= len(lines) and self.line <= len(lines) + 1

    def apply(self, lines: Sequence[str]) -> list[str]:
        """The lines after the edit; ``ValueError`` when its range lies outside ``lines``."""
        if not self.applies_to(lines):
            raise ValueError(f"{self.file}: lines {self.line}..{self.line + self.delete - 1} are outside a {len(lines)}-line file")
        start = self.line - 1
        return [*lines[:start], *self.inserted_lines, *lines[start + self.delete :]]


def newline_lines(text: str) -> list[str]:
    """``text`` cut after each ``"\\n"``, as an editor numbers lines (``str.splitlines`` also cuts at form
    feeds, a lone ``"\\r"``, ``"\\u2028"``..., which moved every later edit off its line)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def split_lines(text: str) -> list[str]:
    """``text`` as lines that keep their ``"\\n"``; a missing final newline is added."""
    lines = newline_lines(text)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


DIFFLIB_CELLS = 250_000
"""The largest ``len(old) * len(new)`` in lines that ``line_edits`` hands difflib whole (quadratic on a lockfile's
thousands of repeated lines, seconds a file); a larger middle is first cut at lines that occur once in each."""


def line_edits(file: str, old: str, new: str, context_merge: int = 0) -> list[LineEdit]:
    """Edits that turn ``old`` into ``new``, top to bottom, each numbered for the text it applies to.

    Hunks that are at most ``context_merge`` unchanged lines apart become one edit.
    """
    before, after = split_lines(old), split_lines(new)
    opcodes, i_done, j_done = [], 0, 0
    for i, j, size in [*matching_blocks(before, after), (len(before), len(after), 0)]:
        if i > i_done or j > j_done:
            opcodes.append((i_done, i, j_done, j))
        i_done, j_done = i + size, j + size
    groups: list[list[tuple]] = []
    for op in opcodes:
        if groups and op[0] - groups[-1][-1][1] <= context_merge:
            groups[-1].append(op)
        else:
            groups.append([op])
    edits, shift = [], 0
    for group in groups:
        i1, i2 = group[0][0], group[-1][1]
        j1, j2 = group[0][2], group[-1][3]
        edits.append(LineEdit(file, i1 + 1 + shift, i2 - i1, "".join(after[j1:j2])))
        shift += (j2 - j1) - (i2 - i1)
    return edits


def common_ends(before: Sequence[str], after: Sequence[str]) -> tuple[int, int]:
    """How many lines ``before`` and ``after`` share at their start, and then at their end."""
    shortest = min(len(before), len(after))
    head = 0
    while head < shortest and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < shortest - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    return head, tail


MAX_ANCHOR_DEPTH = 32
"""Pieces cut at unique lines are cut again at most this deep (a bound on the recursion whatever the text)."""


def matching_blocks(before: Sequence[str], after: Sequence[str], depth: int = 0) -> list[tuple[int, int, int]]:
    """``(i, j, size)``: runs of equal lines, in order. The lines shared at both ends are set aside; a middle of over
    ``DIFFLIB_CELLS`` is cut at the lines that occur once in each, in order (as ``git diff --patience``), and each
    piece matched the same way; what is left goes to difflib (with its heuristic for popular lines where still large)."""
    head, tail = common_ends(before, after)
    middle_before, middle_after = before[head : len(before) - tail], after[head : len(after) - tail]
    large = len(middle_before) * len(middle_after) > DIFFLIB_CELLS
    anchors = unique_anchors(middle_before, middle_after) if large and depth < MAX_ANCHOR_DEPTH else []
    if anchors:
        found, i_done, j_done = [], 0, 0
        for i, j in anchors:
            found += [(i_done + a, j_done + b, size) for a, b, size in matching_blocks(middle_before[i_done:i], middle_after[j_done:j], depth + 1)]
            found.append((i, j, 1))
            i_done, j_done = i + 1, j + 1
        found += [(i_done + a, j_done + b, size) for a, b, size in matching_blocks(middle_before[i_done:], middle_after[j_done:], depth + 1)]
    else:
        found = difflib.SequenceMatcher(None, middle_before, middle_after, autojunk=large).get_matching_blocks()[:-1]
    blocks = [(0, 0, head)] if head else []
    blocks += [(head + i, head + j, size) for i, j, size in found if size]
    return blocks + ([(len(before) - tail, len(after) - tail, tail)] if tail else [])


def unique_anchors(before: Sequence[str], after: Sequence[str]) -> list[tuple[int, int]]:
    """``(i, j)`` of lines that occur exactly once in ``before`` and once in ``after``: the longest run of them in
    the same order in both (patience sorting)."""
    counts: dict[str, list[int]] = {}
    for index, line in enumerate(before):
        counts.setdefault(line, [0, 0, index])[0] += 1
    for index, line in enumerate(after):
        if line in counts:
            entry = counts[line]
            entry[1] += 1
            entry.append(index)
    pairs = sorted((entry[3], entry[2]) for entry in counts.values() if entry[0] == 1 and entry[1] == 1)  # by j: (j, i)
    tops: list[int] = []  # the smallest i ending an increasing run of each length
    ends: list[int] = []  # index into pairs of that run's last pair
    previous = [-1] * len(pairs)
    for index, (_, i) in enumerate(pairs):
        length = bisect.bisect_left(tops, i)
        previous[index] = ends[length - 1] if length else -1
        if length == len(tops):
            tops.append(i)
            ends.append(index)
        else:
            tops[length], ends[length] = i, index
    chain, index = [], ends[-1] if ends else -1
    while index >= 0:
        chain.append((pairs[index][1], pairs[index][0]))
        index = previous[index]
    return chain[::-1]


def state_problem(state: Mapping[str, Any], where: str = "state") -> str | None:
    """Why ``state`` is not a code state event (``FIELD: reason``), or None."""
    files = state.get("files")
    if files is not None:
        if not isinstance(files, Mapping):
            return f"{where}.files: must be an object of file names to their whole texts"
        for path, text in files.items():
            if not isinstance(text, str):
                return f"{where}.files[{json.dumps(path)}]: must be a string (the file's whole text)"
    cursor = state.get("cursor")
    if cursor is None:
        return None
    if not isinstance(cursor, Mapping):
        return f"{where}.cursor: must be an object with file, line and column"
    if "file" in cursor and not isinstance(cursor["file"], str):
        return f"{where}.cursor.file: must be a string"
    for name, least in (("line", 1), ("column", 0)):
        value = cursor.get(name, least)
        if isinstance(value, bool) or not isinstance(value, int):
            return f"{where}.cursor.{name}: must be a whole number, not {type(value).__name__}"
        if value < least:
            return f"{where}.cursor.{name}: must be at least {least} (got {value})"
    return None


class Workspace:
    """The files of a session as its events leave them, and the cursor."""

    def __init__(self) -> None:
        self.files: dict[str, list[str]] = {}
        self.cursor: dict[str, Any] | None = None

    def apply_state(self, state: Mapping[str, Any]) -> None:
        """Take the file snapshots and the cursor of a state event (entries of the wrong type are ignored)."""
        files = state.get("files")
        for path, text in (files.items() if isinstance(files, Mapping) else ()):
            if isinstance(path, str) and isinstance(text, str):
                self.files[path] = split_lines(text)
        if isinstance(state.get("cursor"), Mapping) and state["cursor"]:
            self.cursor = dict(state["cursor"])

    def apply_edit(self, edit: LineEdit) -> None:
        """Apply ``edit``; the cursor moves to the end of the inserted text. ``ValueError`` if it does not apply."""
        self.files[edit.file] = edit.apply(self.files.get(edit.file, []))
        inserted = edit.inserted_lines
        self.cursor = {"file": edit.file, "line": edit.line + max(0, len(inserted) - 1),
                       "column": byte_length(inserted[-1].rstrip("\n")) if inserted else 0}

    def text(self, file: str) -> str:
        return "".join(self.files.get(file, []))

    @classmethod
    def from_events(cls, events: Iterable) -> Workspace:
        """Replay session events (``nep_core.session.Event``): states and edit actions, in order."""
        workspace = cls()
        for event in events:
            if event.state is not None:
                workspace.apply_state(event.state)
            if event.action is not None and event.action.kind == EDIT_KIND:
                workspace.apply_edit(LineEdit.from_action(event.action))
        return workspace


def byte_length(text: str) -> int:
    """The length of ``text`` in UTF-8 bytes: the unit of a cursor's column, as editors count it."""
    return len(text.encode("utf-8", "surrogatepass"))


def char_column(line: str, column: int) -> int:
    """The index in ``line`` of the character at the 0-based UTF-8 byte ``column`` (one inside a
    character counts as that character's start)."""
    if column <= 0 or line.isascii():
        return max(column, 0)
    return len(line.encode("utf-8", "surrogatepass")[:column].decode("utf-8", "ignore"))
