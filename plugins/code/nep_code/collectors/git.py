"""``git:PATH[?option=value&...]``: a local repository's history as code sessions.

Each commit (newest first) becomes one session: a first state with the parent's text of every file
the session edits, then the commit's hunks, top to bottom and file by file, as ``edit`` actions
applied to that text, spaced by a typing-and-thinking time model. Filters from the next-edit
literature are on by default and apply per file (a file that fails one is left out of its commit):

============== ======= ==========================================================================
option         default meaning
============== ======= ==========================================================================
min_hunks      2       a commit needs at least this many hunks, over the files kept
max_hunk_lines 5       a hunk may delete or insert at most this many lines (0: no limit)
max_span       80      at most this many lines from a file's first hunk to its last (0: no limit)
additive       0       1: keep only files whose hunks insert lines and delete none
max_line_chars 1000    files with a longer line are skipped: minified or generated (0: no limit)
filters        1       0: turn the five filters above off (options given explicitly still apply)
context_merge  0       hunks at most this many unchanged lines apart become one edit
max_files      20      commits that change more files are skipped (vendoring, mass renames)
max_file_bytes 300000  larger files are skipped
ext            (all)   only files with these extensions, e.g. ``ext=py,js``
private        1       skip files that hold secrets: ``.env``, keys, certificates, credentials
                       (``nep_code.private_files``; named in the warnings); 0: keep them
rev            HEAD    the revision (or range, e.g. ``v1.0..main``) whose history is read
max_commits    0       read at most this many commits, newest first (0: all)
group          time    ``time``: split groups are blocks of the history in time; ``repo``: the repository
blocks         20      how many time blocks (``group=time``)
============== ======= ==========================================================================

Merge commits, root commits, shallow-clone boundaries, renames and copies, submodules, symlinks,
binary, huge and non-UTF-8 files are skipped and counted (the first ``NAMED_SKIPS`` of each reason named as
``commit:path`` in the warnings); nothing in the history stops collection. A UTF-8 byte order mark is dropped and
``\r\n`` read as ``\n``, as an editor shows the text.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.session import Event, Session
from nep_code.collectors.gitrepo import (
    BlobReader, Commit, FileChange, check_git_version, commit_times, has_commits, iter_commits, open_repository,
    shallow_boundary,
)
from nep_code.collectors.options import has_plain_line_breaks, parse_argument
from nep_code.collectors.timing import edit_gap
from nep_code.edits import LineEdit, common_ends, line_edits, split_lines
from nep_code.private_files import is_private

DEFAULTS = {
    "min_hunks": 2, "max_hunk_lines": 5, "max_span": 80, "additive": False, "max_line_chars": 1000, "filters": True, "context_merge": 0,
    "max_files": 20, "max_file_bytes": 300_000, "ext": (), "private": True, "rev": "HEAD", "max_commits": 0, "group": "time", "blocks": 20,
}
FILTERS_OFF = {"min_hunks": 1, "max_hunk_lines": 0, "max_span": 0, "additive": False, "max_line_chars": 0}
NAMED_SKIPS = 5
"""Skipped files named in the warnings (``commit:path: why``) for each reason; the others are only counted."""
SPLIT_SHARES = (0.8, 0.1)
"""The oldest 80% of the time blocks are marked ``meta["split"] = "train"``, the next 10% val, the newest test."""

GITLINK, SYMLINK = "160000", "120000"


@dataclass(frozen=True)
class FileEdits:
    path: str
    before: str
    edits: list[LineEdit]


def parse_git_argument(argument: str) -> tuple[str, dict]:
    path, options = parse_argument("git", argument, DEFAULTS)
    if not options["filters"]:
        path, options = parse_argument("git", argument, {**DEFAULTS, **FILTERS_OFF})
    if options["group"] not in ("time", "repo"):
        raise parse_error("group", options["group"], "time or repo")
    for key in ("min_hunks", "blocks"):
        if options[key] < 1:
            raise parse_error(key, options[key], "at least 1")
    if not options["rev"] or str(options["rev"]).startswith("-"):
        raise parse_error("rev", options["rev"], "a revision or range (git reads a value starting with '-' as an option)")
    return path, options


def parse_error(key: str, value, expected: str):
    from nep_core.errors import NepError

    return NepError(f"git: option '{key}' must be {expected}, not '{value}'")


class GitCollector(Collector):
    name = "git"
    description = "a local git repository's history: each commit's hunks as edits (git:PATH?min_hunks=2&max_hunk_lines=5...)"
    version = "2"  # 2: files that may hold secrets are skipped (private)

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        path, options = parse_git_argument(argument)
        check_git_version()
        repo = open_repository(path)
        if not has_commits(repo):
            report.warn(f"git: {repo} has no commits yet")
            return
        stem = repo.name[:-4] if repo.name.endswith(".git") and len(repo.name) > 4 else repo.name  # a bare clone's project.git
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "repo"
        boundary = shallow_boundary(repo)
        if boundary:
            report.warn(f"git: {repo} is a shallow clone; history before its {len(boundary)} boundary commit(s) is missing")
        logged = commit_times(repo, options["rev"], options["max_commits"])  # (sha, time), newest first
        if not logged:
            report.warn(f"git: {repo}: '{options['rev']}' selects no commits")
            return
        count = len(logged)
        # each commit's place in time, oldest 0; commits of the same second keep their history order
        order = sorted(range(count), key=lambda index: (logged[index][1], count - index))
        ranks = {logged[index][0]: rank for rank, index in enumerate(order)}
        cuts = [count * index // options["blocks"] for index in range(1, options["blocks"])]
        blobs, skips = BlobReader(repo), SkipLog(report)
        try:
            for commit in iter_commits(repo, options["rev"], options["max_commits"]):
                report.count("commits read")
                if commit is None:
                    report.count("log records that do not parse (skipped)")
                    continue
                if commit.sha not in ranks:
                    report.count("commits missing from the history's time order (skipped)")
                    continue
                if len(commit.parents) > 1:
                    report.count("merge commits (skipped)")
                    continue
                if commit.sha in boundary:
                    report.count("shallow-clone boundary commits (skipped)")
                    continue
                if not commit.parents:
                    report.count("root commits (skipped)")
                    continue
                if len(commit.changes) > options["max_files"]:
                    report.count(f"commits changing over {options['max_files']} files (skipped)")
                    continue
                files = [kept for change in commit.changes if (kept := self._file_edits(commit, change, blobs, options, skips))]
                hunks = sum(len(item.edits) for item in files)
                if hunks < options["min_hunks"]:
                    report.count(f"commits with under {options['min_hunks']} hunks (skipped)")
                    continue
                block = bisect.bisect_right(cuts, ranks[commit.sha])
                report.count("sessions")
                report.count("edits", hunks)
                yield self._session(name, repo, commit, files, block, options, seed)
        finally:
            blobs.close()
            skips.close()

    def _file_edits(self, commit: Commit, change: FileChange, blobs: BlobReader, options: dict, skips: SkipLog) -> FileEdits | None:
        try:
            path, utf8_name = change.path.decode("utf-8"), True
        except UnicodeDecodeError:
            path, utf8_name = repr(change.path), False
        where = f"{commit.sha[:12]}:{path}"
        if change.status in "RC":
            skips.skip(where, "renamed or copied files", "renamed or copied")
            return None
        if GITLINK in (change.old_mode, change.new_mode):
            skips.skip(where, "submodule changes", "a submodule")
            return None
        if SYMLINK in (change.old_mode, change.new_mode) or change.status not in "AMD":
            skips.skip(where, "symlinks and type changes", "a symlink or a type change")
            return None
        if not utf8_name:
            skips.skip(where, "files with non-UTF-8 names", "file name is not UTF-8")
            return None
        if options["ext"] and Path(path).suffix.lstrip(".") not in options["ext"]:
            skips.report.count("files of other types (skipped)")  # the user's own choice: not named
            return None
        if options["private"] and is_private(path):
            skips.skip(where, "private files (keys, certificates, credentials, .env)", "may hold secrets (private=0 keeps it)")
            return None
        sizes = [blobs.size(change.old_blob), blobs.size(change.new_blob)]
        if None in sizes:
            skips.skip(where, "files missing from the repository", "a blob is missing (a partial or damaged clone)")
            return None
        if max(sizes) > options["max_file_bytes"]:
            skips.skip(where, f"files over {options['max_file_bytes']} bytes", f"{max(sizes)} bytes")
            return None
        texts = []
        for blob in (change.old_blob, change.new_blob):
            data = blobs.read(blob) or b""
            if b"\0" in data[:8000]:
                skips.skip(where, "binary files", "binary")
                return None
            try:  # as an editor shows it: no byte order mark, one "\n" a line (a model must never suggest a "\r" that a save doubles)
                texts.append(data.decode("utf-8").removeprefix("\ufeff").replace("\r\n", "\n"))
            except UnicodeDecodeError as error:
                skips.skip(where, "non-UTF-8 files", f"not UTF-8 text (byte {error.start})")
                return None
        if not all(has_plain_line_breaks(text) for text in texts):
            skips.skip(where, "files with form feeds or other unusual line breaks", "form feeds or other unusual line breaks")
            return None
        before, after = split_lines(texts[0]), split_lines(texts[1])
        reason = text_filter_reason(before, after, options)  # before the diff, which is the slow part
        edits = [] if reason else line_edits(path, texts[0], texts[1], options["context_merge"])
        if not reason and not edits:
            skips.report.count("files with no line changes (skipped)")
            return None
        reason = reason or filter_reason(edits, options)
        if reason:
            skips.skip(where, f"files with {reason}", reason)
            return None
        return FileEdits(path, texts[0], edits)

    def _session(self, name: str, repo: Path, commit: Commit, files: list[FileEdits], block: int, options: dict, seed: int) -> Session:
        rng = random.Random(f"{seed}:{commit.sha}")
        first = files[0].edits[0]
        events = [Event(t=0.0, state={"files": {item.path: item.before for item in files},
                                      "cursor": {"file": first.file, "line": first.line, "column": 0}})]
        t, previous = 0.0, None
        for item in files:
            for edit in item.edits:
                jumped = previous is not None and (previous.file != edit.file or abs(edit.line - previous.line) > 3)
                t = round(t + edit_gap(rng, len(edit.insert), jumped), 2)
                events.append(Event(t=t, action=edit.to_action()))
                previous = edit
        blocks = options["blocks"]
        split = "train" if block < blocks * SPLIT_SHARES[0] else "val" if block < blocks * sum(SPLIT_SHARES) else "test"
        source_id = f"{name}#{block:02d}" if options["group"] == "time" else name
        return Session(
            id=f"git-{name}-{commit.sha[:12]}",
            domain="code",
            events=events,
            meta={"source": "git", "source_id": source_id, "repository": str(repo), "commit": commit.sha,
                  "commit_time": commit.time, "time_block": block, "subject": commit.subject[:200],
                  **({"split": split} if options["group"] == "time" else {})},
        )


@dataclass
class SkipLog:
    """Skipped files, counted in ``report`` by reason; the first ``NAMED_SKIPS`` of each named in its warnings."""

    report: CollectReport
    reasons: dict[str, int] = field(default_factory=dict)

    def skip(self, where: str, counted: str, why: str) -> None:
        """Count the file at ``where`` (``commit:path``) under ``counted`` and name it unless ``NAMED_SKIPS`` already are."""
        self.report.count(f"{counted} (skipped)")
        self.reasons[counted] = self.reasons.get(counted, 0) + 1
        if self.reasons[counted] <= NAMED_SKIPS:
            self.report.warn(f"{where}: {why}; skipped")

    def close(self) -> None:
        """Say how many of each reason were not named."""
        for counted, number in self.reasons.items():
            if number > NAMED_SKIPS:
                self.report.warn(f"git: {number - NAMED_SKIPS} more {counted} skipped (the first {NAMED_SKIPS} named above)")


def text_filter_reason(before: list[str], after: list[str], options: dict) -> str | None:
    """Why a file fails a filter its texts decide before any diff, or None: a line over ``max_line_chars`` (minified or
    generated), or changed lines that span over ``max_span`` whatever the diff (its first hunk starts at or above the
    first line that differs, its last ends at or below the last)."""
    limit = options["max_line_chars"]
    if limit and any(len(line) > limit + 1 for line in (*before, *after)):  # + 1: the "\n"
        return f"a line over {limit} characters (minified or generated)"
    head, tail = common_ends(before, after)
    if options["max_span"] and len(before) - head - tail > options["max_span"]:
        return span_reason(options)
    return None


def span_reason(options: dict) -> str:
    return f"hunks spread over {options['max_span']} lines"


def filter_reason(edits: list[LineEdit], options: dict) -> str | None:
    """Why a file's edits fail the literature's filters, or None when they pass. The span is checked first, as
    ``text_filter_reason`` checks it before the diff where it can."""
    if options["max_span"]:
        shift, starts, ends = 0, [], []
        for edit in edits:
            start = edit.line - shift
            starts.append(start)
            ends.append(start + max(edit.delete, 1) - 1)
            shift += len(edit.inserted_lines) - edit.delete
        if max(ends) - min(starts) + 1 > options["max_span"]:
            return span_reason(options)
    if options["additive"] and any(edit.delete for edit in edits):
        return "deletions (additive only)"
    limit = options["max_hunk_lines"]
    if limit and any(max(edit.delete, len(edit.inserted_lines)) > limit for edit in edits):
        return f"a hunk over {limit} lines"
    return None
