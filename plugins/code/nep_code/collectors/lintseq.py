"""``lintseq[:PATH][?option=value&...]``: synthetic edit sequences from Python files, after LintSeq.

Each session takes a window of a real file (whole top-level statements, at most ``max_lines``
lines), deletes statements from it one at a time (whole-line statements with their decorators and
comments, mostly bottom-up around one function or class, a block sometimes before its body) so
that the window still parses with ``ast`` after every deletion, then replays the deletions in
reverse as the session's ``edit`` actions: the program grows and parses at every step. Some steps
are preceded by an abandoned edit (a copy of a nearby line typed, then deleted again) and some by a
pause long enough that the core makes a NO_EDIT target of it.

The default corpus (no PATH) is the Python standard library of the running interpreter
(``sysconfig.get_paths()["stdlib"]``, tests left out), so the default dataset needs no network.
Files are sampled deterministically by seed. A file that is not UTF-8, does not parse or has form
feeds is skipped and counted.

========= ======= ===========================================================================
option    default meaning
========= ======= ===========================================================================
sessions  1200    sessions to make
per_file  2       sessions from one file per pass over the corpus
max_lines 150     lines in a session's file window
min_steps 2       edits (insertions) per session, at least...
max_steps 8       ...and at most
abandon   0.08    chance that an insertion is preceded by an abandoned edit and its undo
pause     0.1     chance of a long pause before an edit
max_file_bytes 400000 larger files are skipped
max_insert_chars 240  longest insertion, the action space's limit (a block longer than that is written in parts)
========= ======= ===========================================================================
"""

from __future__ import annotations

import ast
import random
from typing import Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.errors import NepError
from nep_core.session import Event, Session
from nep_code.action_space import MAX_INSERT_CHARS
from nep_code.collectors.options import check_chances, parse_argument
from nep_code.collectors.pycorpus import PythonCorpus
from nep_code.collectors.pychunks import Chunk, chunks, window
from nep_code.collectors.timing import edit_gap, pause_gap
from nep_code.edits import LineEdit
from nep_code.syntax import parse_python, python_parses

DEFAULT_SESSIONS = 1200
DEFAULTS = {
    "sessions": DEFAULT_SESSIONS, "per_file": 2, "max_lines": 150, "min_steps": 2, "max_steps": 8,
    "abandon": 0.08, "pause": 0.1, "max_file_bytes": 400_000, "max_insert_chars": MAX_INSERT_CHARS,
}
class LintSeqCollector(Collector):
    name = "lintseq"
    description = "synthetic edit sequences that keep Python parseable at every step (default corpus: the standard library)"
    version = "1"

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        path, options = parse_argument("lintseq", argument, DEFAULTS)
        if options["min_steps"] < 1 or options["max_steps"] < options["min_steps"]:
            raise NepError("lintseq: options need 1 <= min_steps <= max_steps")
        check_chances("lintseq", options, ("abandon", "pause"))
        corpus = PythonCorpus("lintseq", path, seed, report, options["max_file_bytes"])
        made = 0
        for _, relative, parsed, rng in corpus.visits(options["sessions"], lambda: made):
            for _ in range(options["per_file"]):
                if made >= options["sessions"]:
                    break
                events = make_events(parsed, relative, rng, options)
                if events is None:
                    continue
                made += 1
                report.count("sessions")
                report.count("edits", sum(event.action is not None for event in events))
                yield Session(
                    id=f"lintseq-{seed}-{made:05d}", domain="code", events=events,
                    meta={"source": "lintseq", "source_id": f"{corpus.label}/{relative}", "file": relative, "seed": seed},
                )


def make_events(parsed: tuple[ast.Module, list[str]], file: str, rng: random.Random, options: dict) -> list[Event] | None:
    """The events of one session from a window of ``parsed``, or None when it offers too few deletable statements."""
    tree, lines = parsed
    lines = window(tree, lines, rng, options["max_lines"])
    if not lines or not lines[-1].endswith("\n"):
        return None
    try:
        pieces = chunks(parse_python("".join(lines)), lines)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    present = [True] * len(lines)
    steps = rng.randint(options["min_steps"], options["max_steps"])
    deletions = _delete(lines, pieces, present, rng, steps, options["max_insert_chars"])
    if len(deletions) < options["min_steps"]:
        return None
    return _replay(file, lines, present, deletions, pieces, rng, options)


def _delete(lines: list[str], pieces: list[Chunk], present: list[bool], rng: random.Random, steps: int, max_chars: int) -> list[tuple[list[int], Chunk]]:
    """Delete up to ``steps`` chunks of at most ``max_chars`` characters, each leaving a file that parses; the deleted line indexes, in order."""
    blocks = [piece for piece in pieces if not piece.simple]
    focus = rng.choice(blocks) if blocks and rng.random() < 0.85 else None
    deletions: list[tuple[list[int], Chunk]] = []
    tried: set[Chunk] = set()
    while len(deletions) < steps:
        candidates = [
            piece for piece in pieces
            if piece not in tried and present[piece.first] and present[piece.last]
            and (focus is None or focus.first <= piece.first and piece.last <= focus.last)
            and sum(len(lines[index]) for index in range(piece.first, piece.last + 1) if present[index]) <= max_chars
        ]
        if not candidates:
            break
        piece = max(candidates, key=lambda chunk: chunk.first) if rng.random() < 0.6 else rng.choice(candidates)
        tried.add(piece)
        removed = [index for index in range(piece.first, piece.last + 1) if present[index]]
        for index in removed:
            present[index] = False
        if python_parses("".join(line for line, keep in zip(lines, present) if keep)) and any(present):
            deletions.append((removed, piece))
        else:
            for index in removed:
                present[index] = True
    return deletions


def _replay(file: str, lines: list[str], present: list[bool], deletions, pieces: list[Chunk], rng: random.Random, options: dict) -> list[Event]:
    """The deletions in reverse, as insertions on the file they leave (with abandoned edits and pauses)."""
    start_text = "".join(line for line, keep in zip(lines, present) if keep)
    first_line = 1 + sum(present[: deletions[-1][0][0]])
    events = [Event(t=0.0, state={"files": {file: start_text}, "cursor": {"file": file, "line": first_line, "column": 0}})]
    t, previous = 0.0, None
    for removed, piece in reversed(deletions):
        line = 1 + sum(present[: removed[0]])
        text = "".join(lines[index] for index in removed)
        if rng.random() < options["abandon"]:
            distractor = _distractor(lines, present, piece, pieces, rng)
            if distractor is not None:
                current = [item for item, keep in zip(lines, present) if keep]
                if python_parses("".join(current[: line - 1] + [distractor] + current[line - 1 :])):
                    t = round(t + edit_gap(rng, len(distractor), previous is None or abs(previous - line) > 3), 2)
                    events.append(Event(t=t, action=LineEdit(file, line, 0, distractor).to_action()))
                    t = round(t + rng.uniform(0.8, 3.0), 2)
                    events.append(Event(t=t, action=LineEdit(file, line, 1, "").to_action()))
                    previous = line
        jumped = previous is not None and abs(previous - line) > 3
        gap = pause_gap(rng) if previous is not None and rng.random() < options["pause"] else edit_gap(rng, len(text), jumped)
        t = round(t + gap, 2)
        events.append(Event(t=t, action=LineEdit(file, line, 0, text).to_action()))
        for index in removed:
            present[index] = True
        previous = line + len(removed) - 1
    return events


def _distractor(lines: list[str], present: list[bool], piece: Chunk, pieces: list[Chunk], rng: random.Random) -> str | None:
    """A present one-line statement of the same body as ``piece``: the line typed and abandoned."""
    siblings = [other for other in pieces if other.body == piece.body and other.simple and present[other.first] and other != piece]
    return lines[rng.choice(siblings).first] if siblings else None
