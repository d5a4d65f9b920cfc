"""``refactor[:PATH][?option=value&...]``: synthetic propagation sessions, one refactoring applied site by site.

The predictable part of next-edit work is propagation: a rename made at one site is repeated at the
next, a new parameter added to a signature is passed at each call. Each session takes a window of a
real Python file (whole top-level statements, at most ``max_lines`` lines), picks a refactoring that
touches at least two lines, and emits a state event (the window, the cursor at the first site), then
one ``edit`` per site (one line replaced), mostly top to bottom, sometimes the definition first.
The window parses with ``ast`` after every edit. With chance ``chain`` a second refactoring follows
after a pause longer than the domain's pause threshold, so the first one's last site is followed by a
NO_EDIT target (the end of a session is one too). With chance ``stop_early`` a refactoring whose
unfinished form still works (``parameter``, ``keywords``, ``quotes``) stops after two or more of
its sites, before the last, as a commit changes some of the places only: the sites left keep their
text, and NO_EDIT follows the last one made. With chance ``interleave`` the session makes two
refactorings of different lines in turn, top to bottom, as a commit makes two changes at once, so
that the next edit may continue the one before the newest.

Refactorings (``kinds``):

- ``rename``: a local variable or parameter of one function (every ``Name``/``arg`` occurrence of it
  there) gets a plausible new name (an abbreviation expanded or made, a prefix or suffix, a
  snake_case variant);
- ``attribute``: ``self.a`` becomes ``self.b`` across a class;
- ``parameter``: a parameter is added to a function's signature (with a default), then passed at
  each call in the window;
- ``keywords``: the calls of a function defined in the window switch from positional to keyword
  arguments (``f(x, y)`` -> ``f(a=x, b=y)``), call after call;
- ``quotes``: the string literals of one function or class switch quote style, line after line.

The default corpus (no PATH) is the Python standard library of the running interpreter, tests left
out, sampled deterministically by seed. Files that are not UTF-8, do not parse or have form feeds are
skipped and counted; so are files where no window offers a refactoring.

============== ======= =====================================================================
option         default meaning
============== ======= =====================================================================
sessions       1200    sessions to make
per_file       2       sessions from one file per pass over the corpus
max_lines      150     lines in a session's file window
min_sites      2       lines a refactoring touches, at least...
max_sites      10      ...and at most
chain          0.3     chance that a second refactoring follows after a long pause
stop_early     0.2     chance that a ``parameter``, ``keywords`` or ``quotes`` refactoring stops before its last site
interleave     0.2     chance that two refactorings of different lines are made in turn, top to bottom
kinds          all     the refactorings to draw from (comma-separated)
max_file_bytes 400000  larger files are skipped
============== ======= =====================================================================
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
from nep_code.collectors.pychunks import window
from nep_code.collectors.refactorings import KINDS, Refactoring, find
from nep_code.collectors.timing import edit_gap, pause_gap
from nep_code.edits import LineEdit, byte_length
from nep_code.syntax import parse_python, python_parses

DEFAULTS = {
    "sessions": 1200, "per_file": 2, "max_lines": 150, "min_sites": 2, "max_sites": 10, "chain": 0.3,
    "stop_early": 0.2, "interleave": 0.2, "kinds": KINDS, "max_file_bytes": 400_000,
}
WINDOW_TRIES = 4
STOPPABLE_KINDS = ("parameter", "keywords", "quotes")
"""Refactorings whose unfinished form still works: a parameter with a default passed at some calls only,
some calls with keywords, some strings in the other quotes."""


class RefactorCollector(Collector):
    name = "refactor"
    description = "synthetic propagation sessions: one rename or signature change applied site by site (default corpus: the standard library)"
    version = "1"

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        path, options = parse_argument("refactor", argument, DEFAULTS)
        if options["min_sites"] < 2 or options["max_sites"] < options["min_sites"]:
            raise NepError("refactor: options need 2 <= min_sites <= max_sites")
        check_chances("refactor", options, ("chain", "stop_early", "interleave"))
        unknown = [kind for kind in options["kinds"] if kind not in KINDS]
        if unknown or not options["kinds"]:
            raise NepError(f"refactor: unknown kind '{unknown[0] if unknown else ''}' (known: {', '.join(KINDS)})")
        corpus = PythonCorpus("refactor", path, seed, report, options["max_file_bytes"])
        made, productive, produced = 0, set(), set()
        for file, relative, parsed, rng in corpus.visits(options["sessions"], lambda: made):
            for _ in range(options["per_file"]):
                if made >= options["sessions"]:
                    break
                for _ in range(2):
                    built = make_events(parsed, relative, rng, options)
                    key = built and (relative, tuple(event.action.key() for event in built[0] if event.action))
                    if built is None or key not in produced:
                        break
                if built is None or key in produced:
                    continue
                produced.add(key)
                events, kinds, interleaved = built
                productive.add(file)
                made += 1
                report.count("sessions")
                report.count("edits", sum(event.action is not None for event in events))
                for kind in kinds:
                    report.count(f"refactorings: {kind}")
                yield Session(
                    id=f"refactor-{seed}-{made:05d}", domain="code", events=events,
                    meta={"source": "refactor", "source_id": f"{corpus.label}/{relative}", "file": relative, "seed": seed,
                          "refactorings": kinds, "interleaved": interleaved},
                )
            if file not in productive:
                corpus.skip(file)
                report.count("files without a refactoring candidate (skipped)")


def _refactoring(lines: list[str], rng: random.Random, options: dict, exclude: str = "", kinds: list[str] | None = None) -> Refactoring | None:
    """A refactoring of ``lines`` whose every step parses: of one of ``kinds`` (in that order), else of a kind drawn at random, then the others."""
    try:
        tree = parse_python("".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if kinds is None:
        kinds = [kind for kind in options["kinds"] if kind != exclude] or list(options["kinds"])
        rng.shuffle(kinds)
    for kind in kinds:
        for candidate in find(kind, tree, lines, rng):
            if not options["min_sites"] <= len(candidate.steps) <= options["max_sites"]:
                continue
            if any(len(text) > MAX_INSERT_CHARS for _, text in candidate.steps):
                continue
            current = list(lines)
            for index, text in candidate.steps:
                current[index] = text
                if not python_parses("".join(current)):
                    break
            else:
                return candidate
    return None


def make_events(parsed: tuple[ast.Module, list[str]], file: str, rng: random.Random, options: dict) -> tuple[list[Event], list[str], bool] | None:
    """The events of one session from a window of ``parsed``, the kinds of its refactorings and whether two
    were made in turn, or None without a candidate."""
    tree, all_lines = parsed
    wanted = rng.choice(options["kinds"])  # each kind about as often as the corpus allows
    for attempt in range(WINDOW_TRIES):
        lines = window(tree, all_lines, rng, options["max_lines"])
        if not lines or not lines[-1].endswith("\n"):
            continue
        first = _refactoring(lines, rng, options, kinds=None if attempt == WINDOW_TRIES - 1 else [wanted])
        if first is not None:
            break
    else:
        return None
    in_turn = _interleaved(lines, first, rng, options) if rng.random() < options["interleave"] else None
    if in_turn is not None:
        first, other_kind = in_turn
    start = first.steps[0][0]
    column = byte_length(lines[start]) - byte_length(lines[start].lstrip())
    events = [Event(t=0.0, state={"files": {file: "".join(lines)}, "cursor": {"file": file, "line": start + 1, "column": column}})]
    kinds, t, current, refactoring = [], 0.0, list(lines), first
    previous = start
    while refactoring is not None:
        kinds.append(refactoring.kind)
        if in_turn is not None:
            kinds.append(other_kind)
        steps = refactoring.steps
        if in_turn is None and refactoring.kind in STOPPABLE_KINDS and len(steps) >= 3 and rng.random() < options["stop_early"]:
            steps = steps[: rng.randint(2, len(steps) - 1)]
        for number, (index, text) in enumerate(steps):
            jumped = abs(index - previous) > 3
            if number == 0 and len(kinds) > 1:
                gap = pause_gap(rng)
            else:
                gap = edit_gap(rng, refactoring.typed, jumped)
            t = round(t + gap, 2)
            events.append(Event(t=t, action=LineEdit(file, index + 1, 1, text).to_action()))
            current[index] = text
            previous = index
        refactoring = None
        if len(kinds) == 1 and rng.random() < options["chain"]:
            refactoring = _refactoring(current, rng, options, exclude=kinds[0])
    return events, kinds, in_turn is not None


def _interleaved(lines: list[str], first: Refactoring, rng: random.Random, options: dict) -> tuple[Refactoring, str] | None:
    """``first`` and another refactoring of other lines made in turn, top to bottom (as one refactoring,
    with the other's kind), when one fits and the window parses after every step; else None."""
    other = _refactoring(lines, rng, options, exclude=first.kind)
    if other is None or {index for index, _ in first.steps} & {index for index, _ in other.steps}:
        return None
    steps = tuple(sorted(first.steps + other.steps))
    current = list(lines)
    for index, text in steps:
        current[index] = text
        if not python_parses("".join(current)):
            return None
    return Refactoring(first.kind, steps, max(first.typed, other.typed), f"in turn with {other.kind}"), other.kind
