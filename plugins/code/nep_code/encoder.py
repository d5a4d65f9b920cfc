"""The code history encoder: recent edits as diffs, other edited files, and the current file's excerpt.

Prompt layout (token strings; text is written with the model's tokenizer through ``TextCodec``)::

    <file1> a/other.py <excerpt> ...lines around its last edit...          other recently edited files
    <events> <event> @@ -12,1 +12,2 @@ pkg/a.py\\n-old\\n+new\\n+new2\\n <event> ...   newest edit first
    <file0> pkg/a.py <before> ...lines above the region...
    <region> <L0> line <L1> <hit> li<cursor>ne ... <Ln> </region> <after> ...lines below the region...

Edits of one file less than ``merge_seconds`` apart and at most ``merge_lines`` lines apart are
merged into one diff. The editable region grows around the cursor and is cut on statement starts
(``nep_code.syntax``); its ``<L{i}>`` markers are what the action space's edits point at.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from nep_core.encoder import HistoryEncoder
from nep_core.session import Context, Event
from nep_code.action_space import (
    FILE_TOKENS, LINE_TOKENS, MAX_FILES, MAX_REGION_LINES, SUB_TOKEN, TO_TOKEN, CodeActionSpace, CodeView, repeat_for,
)
from nep_code.edits import EDIT_KIND, LineEdit, Workspace, char_column, state_problem
from nep_code.substitution import find_substitution, names_something, substitute
from nep_code.syntax import REGION_HARD_LIMIT, editable_region, statement_starts

EVENTS, EVENT, CURSOR, REGION, REGION_END, BEFORE, AFTER, EXCERPT, HIT = (
    "<events>", "<event>", "<cursor>", "<region>", "</region>", "<before>", "<after>", "<excerpt>", "<hit>",
)
CHARS_PER_TOKEN = 3.0
"""Characters per BPE token on source code, used to size the region in characters before tokenizing."""
MAX_LINE_TOKENS = 96

CLIPPED_MARGIN_TOKENS = 8
"""Text cut to ``limit`` tokens is first cut to this many more tokens' worth of characters (at most the
longest token's each): the tokens kept are those of the whole text but where a word straddles the cut."""


@dataclass
class EditRecord:
    """One applied edit: the file's lines before and after it (shared, never mutated) and where it was."""

    t: float
    file: str
    line: int
    delete: int
    inserted: int
    before: list[str]
    after: list[str]


class Replay(Workspace):
    """A session's files and cursor after some prefix of its events, with a record of each applied edit.

    ``advance`` applies only the events it has not seen, so a growing session replays incrementally;
    edits that do not apply are skipped and counted.
    """

    def __init__(self, session_id: str = "") -> None:
        super().__init__()
        self.session_id = session_id
        self.consumed = 0
        self.last_event: Event | None = None
        self.records: list[EditRecord] = []
        self.skipped = 0

    def advance(self, events: Sequence[Event]) -> None:
        for event in events[self.consumed :]:
            if isinstance(event.state, Mapping):
                self.apply_state(event.state)
            action = event.action
            if action is not None and action.kind == EDIT_KIND:
                try:
                    edit = LineEdit.from_action(action)
                    before = self.files.get(edit.file, [])
                    self.apply_edit(edit)
                except ValueError:
                    self.skipped += 1
                    continue
                self.records.append(EditRecord(event.t, edit.file, edit.line, edit.delete, len(edit.inserted_lines), before, self.files[edit.file]))
        self.consumed = len(events)
        self.last_event = events[-1] if events else None

    def continued(self, context: Context) -> Replay:
        """The replay of ``context``: this one advanced when ``context`` extends what it has replayed, else a new one."""
        history = list(context.history)
        same = (
            self.session_id == context.session_id
            and 0 < self.consumed <= len(history)
            and history[self.consumed - 1] is self.last_event
        )
        replay = self if same else Replay(session_id=context.session_id)
        replay.advance(history)
        return replay


@dataclass
class Layout:
    """What the encoder and the action space agree on for one context."""

    view: CodeView
    replay: Replay
    lines: list[str]
    cursor_row: int
    cursor_column: int
    region: tuple[int, int]


@dataclass
class CodeEncoder(HistoryEncoder):
    """Budgets in tokens (Zeta's defaults are about 350 region, 150 context, 500 events, 16 events;
    the defaults here are smaller so the ``small`` preset trains in minutes on a CPU)."""

    action_space: CodeActionSpace
    region_tokens: int = 256
    context_tokens: int = 32
    event_tokens: int = 128
    max_events: int = 4
    other_file_tokens: int = 32
    other_files: int = 1
    again_files: int = 3
    """Other files where a recent substitution can be carried (``<again> <file{i}>``), at most."""
    recent_substitutions: int = 3
    """Distinct substitutions of the edit groups shown (``max_events``), newest first, that ``<again>``
    can carry: a commit often makes two or three changes site by site, in turn."""
    max_region_lines: int = 40
    above_share: float = 0.25
    merge_seconds: float = 1.0
    merge_lines: int = 3
    max_tokens: int = 480

    def __post_init__(self) -> None:
        self.max_region_lines = min(self.max_region_lines, MAX_REGION_LINES)
        self.action_space.locator = self.view
        self._replay = Replay()
        self._memo: tuple[Context, Layout] | None = None

    def state_problem(self, state: Mapping[str, Any], where: str = "state") -> str | None:
        return state_problem(state, where)

    # -- shared with the action space ----------------------------------------------------------

    def view(self, context: Context) -> CodeView:
        return self.layout(context).view

    def layout(self, context: Context) -> Layout:
        """Files, cursor and editable region of ``context`` (memoized for the last context)."""
        if self._memo is not None and self._memo[0] is context:
            return self._memo[1]
        replay = self._replay_for(context)
        current = self._current_file(replay)
        lines = replay.files.get(current, []) if current else []
        cursor = replay.cursor or {}
        row = cursor.get("line", 1) - 1 if cursor.get("file") == current and isinstance(cursor.get("line"), int) else 0
        row = min(max(row, 0), max(len(lines) - 1, 0))
        column = cursor.get("column", 0) if isinstance(cursor.get("column"), int) else 0
        reach = self.max_region_lines + REGION_HARD_LIMIT + 1  # the rows editable_region may snap to
        boundaries = statement_starts(lines, current or "", near=(row - reach, row + reach), reparse=True)
        region = editable_region(lines, row, boundaries, self.max_region_lines,
                                 int(self.region_tokens * CHARS_PER_TOKEN), above_share=self.above_share)
        changed_by = self.recent_substitutions_of(replay)
        repeats = tuple(changed_by)
        sites = self.again_sites(replay, current, region, changed_by)
        files = self._file_order(replay, current, [file for file, _, _ in sites])
        view = CodeView(tuple(files), tuple(len(replay.files.get(file, [])) for file in files), region[0] + 1,
                        region[1] - region[0], tuple(lines[region[0] : region[1]]), repeats, tuple(lines),
                        tuple((files.index(file), line, text) for file, line, text in sites if file in files),
                        cursor_line=row + 1 if lines else 0)
        layout = Layout(view, replay, lines, row, column, region)
        self._memo = (context, layout)
        return layout

    def _replay_for(self, context: Context) -> Replay:
        self._replay = self._replay.continued(context)
        return self._replay

    @staticmethod
    def _current_file(replay: Replay) -> str | None:
        cursor_file = (replay.cursor or {}).get("file")
        if isinstance(cursor_file, str) and cursor_file in replay.files:
            return cursor_file
        if replay.records:
            return replay.records[-1].file
        return next(iter(replay.files), None)

    @staticmethod
    def _file_order(replay: Replay, current: str | None, holding: Sequence[str] = ()) -> list[str]:
        """The current file, the files ``holding`` the newest substitution's ``old``, the other edited files
        (newest edit first), then the rest."""
        order: dict[str, None] = {}
        if current:
            order[current] = None
        for file in holding:
            order.setdefault(file, None)
        for record in reversed(replay.records):
            order.setdefault(record.file, None)
        for file in replay.files:
            order.setdefault(file, None)
        return list(order)[:MAX_FILES]

    def time_key(self, context: Context) -> tuple[int, ...] | None:
        """For each edit, the first earlier edit at most ``merge_seconds`` before it: merging edits is
        all this encoder reads of times. None when edit times go backwards."""
        times = [event.t for event in context.history if event.action is not None and event.action.kind == EDIT_KIND]
        key, first = [], 0
        for index, t in enumerate(times):
            if index and t < times[index - 1]:
                return None
            while t - times[first] > self.merge_seconds:
                first += 1
            key.append(first)
        return tuple(key)

    # -- the prompt ----------------------------------------------------------------------------

    def bind_tokenizer(self, tokenizer) -> None:
        self.action_space.bind_tokenizer(tokenizer)

    def encode(self, context: Context) -> list[str]:
        layout = self.layout(context)
        tokens = self.current_file_tokens(layout)
        events = self.event_tokens_of(layout)
        others = self.other_file_tokens_of(layout)
        out = [*others, *events, *tokens]
        return out[-self.max_tokens :] if len(out) > self.max_tokens else out

    def text(self, value: str, limit: int | None = None, keep_end: bool = False) -> list[str]:
        """The tokens of ``value``, at most ``limit`` of them from its start (its end with ``keep_end``)."""
        codec = self.action_space.codec
        if limit is not None and len(value) > (room := (limit + CLIPPED_MARGIN_TOKENS) * codec.longest_token_text):
            value = value[-room:] if keep_end else value[:room]  # a minified line is never tokenized whole
        tokens = codec.tokens(value)
        if limit is not None and len(tokens) > limit:
            tokens = tokens[-limit:] if keep_end else tokens[:limit]
        return tokens

    def current_file_tokens(self, layout: Layout) -> list[str]:
        start, end = layout.region
        lines = layout.lines
        out = [FILE_TOKENS[0], *self.text(layout.view.file or "", 24), BEFORE]
        out += self._lines_within(lines[:start], self.context_tokens, from_end=True)
        out.append(REGION)
        hits = set(layout.view.again_rows())
        for index, row in enumerate(range(start, end)):
            out.append(LINE_TOKENS[index])
            line = lines[row]
            if index in hits:
                out.append(HIT)
            if row == layout.cursor_row:
                column = min(char_column(line, layout.cursor_column), len(line.rstrip("\n")))
                out += [*self.text(line[:column], MAX_LINE_TOKENS // 2, keep_end=True), CURSOR,
                        *self.text(line[column:], MAX_LINE_TOKENS // 2)]
            else:
                out += self.text(line, MAX_LINE_TOKENS)
        out.append(LINE_TOKENS[end - start])
        if not lines:
            out.append(CURSOR)
        out += [REGION_END, AFTER, *self._lines_within(lines[end:], self.context_tokens, from_end=False)]
        return out

    def _lines_within(self, lines: Sequence[str], budget: int, from_end: bool) -> list[str]:
        """Whole lines nearest the region, within ``budget`` tokens."""
        chunks, used = [], 0
        ordered = reversed(lines) if from_end else lines
        for line in ordered:
            tokens = self.text(line, budget - used + 1)
            if used + len(tokens) > budget:
                break
            chunks.append(tokens)
            used += len(tokens)
            if used >= budget:
                break
        if from_end:
            chunks.reverse()
        return [token for chunk in chunks for token in chunk]

    def event_tokens_of(self, layout: Layout) -> list[str]:
        groups = merge_records(layout.replay.records, self.merge_seconds, self.merge_lines, self.max_events)
        out, used = [EVENTS], 0
        for group in groups:  # newest first
            diff = self.event_text(group)
            if used + len(diff) + 1 > self.event_tokens:
                break
            out += [EVENT, *diff]
            used += len(diff) + 1
        return out

    def event_text(self, group: Sequence[EditRecord]) -> list[str]:
        """A group's diff; a one-line change that is a substitution as its header and ``<sub> OLD <to> NEW``."""
        pair = self.substitution_of(group)
        if pair is not None:
            header = render_group(group).split("\n", 1)[0] + "\n"
            return [*self.text(header, self.event_tokens), SUB_TOKEN, *self.text(pair[0], self.event_tokens // 4),
                    TO_TOKEN, *self.text(pair[1], self.event_tokens // 4)]
        return self.text(render_group(group), self.event_tokens)

    def substitution_of(self, group: Sequence[EditRecord]) -> tuple[str, str] | None:
        """``(old, new)`` when ``group`` is one edit that changed one piece of one line."""
        record = group[0]
        if len(group) != 1 or record.delete != 1 or record.inserted != 1:
            return None
        row = record.line - 1
        return find_substitution(record.before[row], record.after[row], self.action_space.codec)

    def recent_substitutions_of(self, replay: Replay) -> dict[tuple[str, str], list[str]]:
        """The substitutions of the edit groups shown, newest first, distinct, at most
        ``recent_substitutions``; each with the lines those groups changed by it (as they were before)."""
        found: dict[tuple[str, str], list[str]] = {}
        for group in merge_records(replay.records, self.merge_seconds, self.merge_lines, self.max_events):
            pair = self.substitution_of(group)
            if pair is None or (pair not in found and len(found) >= self.recent_substitutions):
                continue
            record = group[0]
            found.setdefault(pair, []).append(record.before[record.line - 1])
        return found

    def again_sites(self, replay: Replay, current: str | None, region: tuple[int, int],
                    changed_by: Mapping[tuple[str, str], Sequence[str]]) -> list[tuple[str, int, str]]:
        """``(file, line, new text)``: a line that still holds an ``old`` of the recent substitutions
        ``changed_by`` and keeps parsing once substituted, in the current file outside the region (the
        first below it, then from the top) and in each of at most ``again_files`` other files (those after
        the current file's path first, as a commit lists them; there the line ``resembling_rows`` puts
        first). Substitutions whose ``old`` names nothing (``names_something``) are not carried."""
        changed_by = {pair: lines for pair, lines in changed_by.items() if names_something(pair[0])}
        repeats = tuple(changed_by)
        if not repeats or self.again_files < 1:
            return []
        found, others = [], 0
        if current is not None:
            lines = replay.files.get(current, [])
            rows = [*range(region[1], len(lines)), *range(0, region[0])]
            site = first_again_site(current, lines, repeats, rows)
            if site is not None:
                found.append((current, *site))
        for file in sorted(replay.files, key=lambda file: (current is not None and file <= current, file)):
            if file == current:
                continue
            lines = replay.files[file]
            site = first_again_site(file, lines, repeats, resembling_rows(lines, changed_by))
            if site is not None:
                found.append((file, *site))
                others += 1
                if others >= self.again_files:
                    break
        return found

    def other_file_tokens_of(self, layout: Layout) -> list[str]:
        """The most recently edited other files' excerpts, then each again-site's line, marked ``<hit>``."""
        out = []
        view, records = layout.view, layout.replay.records
        holding = set(view.again_files())
        others = [(index, file) for index, file in enumerate(view.files) if index and index not in holding]
        for index, file in others[: self.other_files]:
            last = next((record for record in reversed(records) if record.file == file), None)
            lines = layout.replay.files.get(file, [])
            row = (last.line - 1) if last else 0
            excerpt = lines[max(0, row - 2) : row + 4]
            out += [FILE_TOKENS[index], *self.text(file, 24), EXCERPT,
                    *self.text("".join(excerpt), self.other_file_tokens)]
        for index, line, _ in view.again_sites:
            text = layout.replay.files[view.files[index]][line - 1]
            out += [FILE_TOKENS[index], *self.text(view.files[index], 24), HIT, *self.text(text, self.other_file_tokens)]
        return out

    def vocabulary(self) -> list[str]:
        return [EVENTS, EVENT, CURSOR, REGION, REGION_END, BEFORE, AFTER, EXCERPT, HIT]

    def settings(self) -> dict[str, Any]:
        names = ("region_tokens", "context_tokens", "event_tokens", "max_events", "other_file_tokens",
                 "other_files", "again_files", "recent_substitutions", "max_region_lines", "above_share", "merge_seconds", "merge_lines")
        return {**super().settings(), **{name: getattr(self, name) for name in names}}


MAX_SITE_TRIES = 4
"""Lines holding ``old`` tried per file before giving up on it (each try may parse a block)."""

MAX_RESEMBLANCE_ROWS = 32
"""Lines holding ``old`` compared, per file, with the lines already changed (``resembling_rows``):
the first 32, so that a file that holds a common name a thousand times costs a few milliseconds. On
ten real histories, 610 of the 637 files where a recent substitution could be carried held fewer than
16 such lines, and one held 954."""


def resembling_rows(lines: Sequence[str], changed_by: Mapping[tuple[str, str], Sequence[str]]) -> list[int]:
    """Rows of ``lines`` that hold an ``old`` of the substitutions ``changed_by`` (each with the lines it
    changed): import lines first (a rename reaches a module there first), then by how much the row
    resembles the lines its substitution changed (difflib's ratio, to a tenth), then top-down; only
    the first ``MAX_RESEMBLANCE_ROWS`` such rows. On ten real histories the next hunk in another file
    was the line this puts first 36 times of 47, the first line holding ``old`` 31 times
    (``bench/bench_code_again_sites.py``)."""
    pairs = tuple(changed_by)
    matchers: dict[tuple[str, str], list[difflib.SequenceMatcher]] = {}
    scored = []
    for row, line in enumerate(lines):
        pair = repeat_for(line, pairs)
        if pair is None:
            continue
        if pair not in matchers:  # difflib caches what it learns of its second sequence
            matchers[pair] = [difflib.SequenceMatcher(None, b=changed) for changed in {before.strip() for before in changed_by[pair]}]
        stripped = line.strip()
        likeness = 0.0
        for matcher in matchers[pair]:
            matcher.set_seq1(stripped)
            if matcher.real_quick_ratio() > likeness and matcher.quick_ratio() > likeness:
                likeness = max(likeness, matcher.ratio())
        scored.append((not stripped.startswith(("import ", "from ")), -round(likeness, 1), row))
        if len(scored) >= MAX_RESEMBLANCE_ROWS:
            break
    return [row for _, _, row in sorted(scored)]


def first_again_site(file: str, lines: Sequence[str], repeats: Sequence[tuple[str, str]], rows: Iterable[int]) -> tuple[int, str] | None:
    """``(line, new text)`` of the first of ``rows`` of ``lines`` that still holds an ``old`` of ``repeats``
    and keeps parsing once substituted (by the first of them the line holds)."""
    tries, text = 0, None
    for row in rows:
        line = lines[row]
        pair = repeat_for(line, repeats)
        if pair is None:
            continue
        changed = substitute(line, *pair)
        text = text or tuple(lines)  # made once, and only for a file that holds ``old``
        view = CodeView((file,), (len(lines),), row + 1, 1, (line,), file_text=text)
        if view.keeps_parsing(0, 1, changed):
            return row + 1, changed
        tries += 1
        if tries >= MAX_SITE_TRIES:
            return None
    return None


def merge_records(records: Sequence[EditRecord], seconds: float, lines: int, limit: int) -> list[list[EditRecord]]:
    """The newest ``limit`` groups of edits, newest first; a group is consecutive edits of one file at
    most ``seconds`` apart whose lines are at most ``lines`` apart."""
    groups: list[list[EditRecord]] = []
    for record in reversed(records):
        if groups:
            group = groups[-1]
            newest = group[0]
            if (record.file == newest.file and newest.t - record.t <= seconds
                    and min(abs(r.line - record.line) for r in group) <= lines + record.inserted + record.delete):
                group.insert(0, record)
                continue
        if len(groups) >= limit:
            break
        groups.append([record])
    return groups


def render_group(group: Sequence[EditRecord]) -> str:
    """One unified-diff hunk set (no context lines) from the file before the group to after it."""
    before, after = group[0].before, group[-1].after
    low = min(record.line - 1 for record in group)
    suffix = min(len(record.before) - (record.line - 1 + record.delete) for record in group)
    old, new = before[low : len(before) - suffix], after[low : len(after) - suffix]
    diff = difflib.unified_diff(old, new, n=0, lineterm="\n")
    out = []
    for line in diff:
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            out.append(_shift_header(line, low) + f" {group[0].file}\n")
        else:
            out.append(line if line.endswith("\n") else line + "\n")
    return "".join(out)


def _shift_header(header: str, offset: int) -> str:
    """``@@ -a,b +c,d @@`` of a window starting at row ``offset``, renumbered for the whole file."""
    parts = header.split()
    def shift(part: str) -> str:
        sign, numbers = part[0], part[1:].split(",")
        numbers[0] = str(int(numbers[0]) + offset)
        return sign + ",".join(numbers)
    return f"@@ {shift(parts[1])} {shift(parts[2])} @@"
