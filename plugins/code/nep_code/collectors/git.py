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
filters        1       0: turn the four filters above off (options given explicitly still apply)
context_merge  0       hunks at most this many unchanged lines apart become one edit
max_files      20      commits that change more files are skipped (vendoring, mass renames)
max_file_bytes 300000  larger files are skipped
ext            (all)   only files with these extensions, e.g. ``ext=py,js``
rev            HEAD    the revision (or range, e.g. ``v1.0..main``) whose history is read
max_commits    0       read at most this many commits, newest first (0: all)
group          time    ``time``: split groups are blocks of the history in time; ``repo``: the repository
blocks         20      how many time blocks (``group=time``)
============== ======= ==========================================================================

Merge commits, root commits, shallow-clone boundaries, renames and copies, submodules, symlinks,
binary, huge and non-UTF-8 files are skipped and counted; nothing in the history stops collection.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass
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
from nep_code.edits import LineEdit, line_edits, split_lines

DEFAULTS = {
    "min_hunks": 2, "max_hunk_lines": 5, "max_span": 80, "additive": False, "filters": True, "context_merge": 0,
    "max_files": 20, "max_file_bytes": 300_000, "ext": (), "rev": "HEAD", "max_commits": 0, "group": "time", "blocks": 20,
}
FILTERS_OFF = {"min_hunks": 1, "max_hunk_lines": 0, "max_span": 0, "additive": False}
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
    version = "1"

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
        logged = commit_times(repo, options["rev"], options["max_commits"])  # newest first, as iter_commits walks
        if not logged:
            report.warn(f"git: {repo}: '{options['rev']}' selects no commits")
            return
        count = len(logged)
        # each commit's place in time, oldest 0; commits of the same second keep their history order
        ranks = {key: rank for rank, key in enumerate(sorted((time, count - index) for index, time in enumerate(logged)))}
        cuts = [count * index // options["blocks"] for index in range(1, options["blocks"])]
        blobs = BlobReader(repo)
        try:
            for index, commit in enumerate(iter_commits(repo, options["rev"], options["max_commits"])):
                report.count("commits read")
                if commit is None:
                    report.count("log records that do not parse (skipped)")
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
                files = [kept for change in commit.changes if (kept := self._file_edits(commit, change, blobs, options, report))]
                hunks = sum(len(item.edits) for item in files)
                if hunks < options["min_hunks"]:
                    report.count(f"commits with under {options['min_hunks']} hunks (skipped)")
                    continue
                block = bisect.bisect_right(cuts, ranks.get((commit.time, count - index), count - 1 - index))
                report.count("sessions")
                report.count("edits", hunks)
                yield self._session(name, repo, commit, files, block, options, seed)
        finally:
            blobs.close()

    def _file_edits(self, commit: Commit, change: FileChange, blobs: BlobReader, options: dict, report: CollectReport) -> FileEdits | None:
        where = f"{commit.sha[:12]}"
        if change.status in "RC":
            report.count("renamed or copied files (skipped)")
            return None
        if GITLINK in (change.old_mode, change.new_mode):
            report.count("submodule changes (skipped)")
            return None
        if SYMLINK in (change.old_mode, change.new_mode) or change.status not in "AMD":
            report.count("symlinks and type changes (skipped)")
            return None
        try:
            path = change.path.decode("utf-8")
        except UnicodeDecodeError:
            report.count("files with non-UTF-8 names (skipped)")
            report.warn(f"{where}:{change.path!r}: file name is not UTF-8; skipped")
            return None
        if options["ext"] and Path(path).suffix.lstrip(".") not in options["ext"]:
            report.count("files of other types (skipped)")
            return None
        sizes = [blobs.size(change.old_blob), blobs.size(change.new_blob)]
        if None in sizes:
            report.count("files missing from the repository (skipped)")
            report.warn(f"{where}:{path}: a blob is missing (a partial or damaged clone); skipped")
            return None
        if max(sizes) > options["max_file_bytes"]:
            report.count(f"files over {options['max_file_bytes']} bytes (skipped)")
            return None
        texts = []
        for blob in (change.old_blob, change.new_blob):
            data = blobs.read(blob) or b""
            if b"\0" in data[:8000]:
                report.count("binary files (skipped)")
                return None
            try:  # CRLF as an editor shows it, one "\n" a line: a model must never suggest a "\r" that a save doubles
                texts.append(data.decode("utf-8").replace("\r\n", "\n"))
            except UnicodeDecodeError as error:
                report.count("non-UTF-8 files (skipped)")
                report.warn(f"{where}:{path}: not UTF-8 text (byte {error.start}); skipped")
                return None
        if not all(has_plain_line_breaks(text) for text in texts):
            report.count("files with form feeds or other unusual line breaks (skipped)")
            return None
        edits = trimmed_line_edits(path, texts[0], texts[1], options["context_merge"])
        if not edits:
            report.count("files with no line changes (skipped)")
            return None
        reason = filter_reason(edits, options)
        if reason:
            report.count(f"files with {reason} (skipped)")
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


def trimmed_line_edits(path: str, old: str, new: str, context_merge: int) -> list[LineEdit]:
    """``line_edits``, with the unchanged lines at both ends set aside first (difflib is the slow part)."""
    before, after = split_lines(old), split_lines(new)
    head = 0
    while head < min(len(before), len(after)) and before[head] == after[head]:
        head += 1
    tail = 0
    while tail < min(len(before), len(after)) - head and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    middle = line_edits(path, "".join(before[head : len(before) - tail]), "".join(after[head : len(after) - tail]), context_merge)
    return [LineEdit(edit.file, edit.line + head, edit.delete, edit.insert) for edit in middle]


def filter_reason(edits: list[LineEdit], options: dict) -> str | None:
    """Why a file's edits fail the literature's filters, or None when they pass."""
    if options["additive"] and any(edit.delete for edit in edits):
        return "deletions (additive only)"
    limit = options["max_hunk_lines"]
    if limit and any(max(edit.delete, len(edit.inserted_lines)) > limit for edit in edits):
        return f"a hunk over {limit} lines"
    if options["max_span"]:
        shift, starts, ends = 0, [], []
        for edit in edits:
            start = edit.line - shift
            starts.append(start)
            ends.append(start + max(edit.delete, 1) - 1)
            shift += len(edit.inserted_lines) - edit.delete
        if max(ends) - min(starts) + 1 > options["max_span"]:
            return f"hunks spread over {options['max_span']} lines"
    return None
