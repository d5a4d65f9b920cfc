"""Post-processing of suggestions: cut at a blank line, a token limit and statement boundaries; and
rest-of-line greedy matching, so an inline suggestion replaces exactly the text it should.
"""

from __future__ import annotations

from dataclasses import dataclass

from nep_core.actions import NO_EDIT, Action
from nep_code.edits import EDIT_KIND, LineEdit, split_lines
from nep_code.syntax import statement_starts


def cut_insert(insert: str, path: str, max_tokens: int | None = None, count_tokens=None, stop_at_blank: bool = True) -> str:
    """``insert`` (whole lines) cut at its first blank line after some code, at ``max_tokens`` (counted by
    ``count_tokens``, default one per 4 characters); after a cut it ends on a statement boundary."""
    lines = split_lines(insert)
    keep = len(lines)
    if stop_at_blank:
        for index, line in enumerate(lines):
            if not line.strip() and any(previous.strip() for previous in lines[:index]):
                keep = index
                break
    if max_tokens is not None:
        count = count_tokens or (lambda text: (len(text) + 3) // 4)
        used = 0
        for index, line in enumerate(lines[:keep]):
            used += count(line)
            if used > max_tokens:
                keep = index
                break
    if keep == len(lines):
        return insert
    boundaries = statement_starts(lines, path) | {row for row, line in enumerate(lines) if not line.strip()}
    complete = max((row for row in boundaries if 0 < row <= keep), default=0)
    return "".join(lines[:complete])


def postprocess(action: Action, path_lines: list[str] | None = None, max_tokens: int | None = None, count_tokens=None) -> Action:
    """An edit with its inserted lines cut (``cut_insert``); an insertion cut to nothing is NO_EDIT."""
    if action.kind != EDIT_KIND:
        return action
    edit = LineEdit.from_action(action)
    insert = cut_insert(edit.insert, edit.file, max_tokens, count_tokens)
    if insert == edit.insert:
        return action
    if not insert and edit.delete == 0:
        return NO_EDIT
    # a cut replacement keeps the replaced lines it no longer rewrites
    kept = min(edit.delete, len(split_lines(insert))) if insert and edit.delete > len(split_lines(insert)) else edit.delete
    return LineEdit(edit.file, edit.line, kept, insert).to_action(action.context)


@dataclass(frozen=True)
class InlineEdit:
    """Replace columns ``[start, end)`` of the cursor's line with ``text``.

    ``ghost`` is True when the old text there survives inside ``text`` in order (greedy match), so the
    editor can show only the inserted pieces as ghost text: ``pieces`` are (column in the old line,
    inserted text) pairs.
    """

    start: int
    end: int
    text: str
    ghost: bool
    pieces: tuple[tuple[int, str], ...] = ()


def inline_edit(line: str, column: int, new_line: str) -> InlineEdit | None:
    """The inline completion that turns ``line`` into ``new_line`` at cursor ``column``; None when the
    text before the cursor changes (show it as a diff instead)."""
    line, new_line = line.rstrip("\n"), new_line.rstrip("\n")
    column = min(max(column, 0), len(line))
    if not new_line.startswith(line[:column]):
        return None
    rest, tail = line[column:], new_line[column:]
    pieces, matched, pending = [], 0, ""
    for char in tail:
        if matched < len(rest) and char == rest[matched]:
            if pending:
                pieces.append((column + matched, pending))
                pending = ""
            matched += 1
        else:
            pending += char
    if matched < len(rest):
        return InlineEdit(column, len(line), tail, False)
    if pending:
        pieces.append((column + matched, pending))
    return InlineEdit(column, len(line), tail, True, tuple(pieces))
