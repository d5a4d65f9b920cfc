"""The `lintseq` collector: insertions that keep Python parseable at every step, from real source files."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_code.collectors.lintseq import LintSeqCollector
from nep_code.collectors.pycorpus import stdlib_root
from nep_code.edits import LineEdit, Workspace

GOOD = '''"""A module."""
import os


def walk(root):
    # count the files
    total = 0
    for folder, _, files in os.walk(root):
        if folder.startswith("."):
            continue
        total += len(files)
        print(folder)
    return total


class Counter:
    """Counts."""

    def __init__(self):
        self.value = 0
        self.steps = []

    @property
    def double(self):
        return self.value * 2

    def add(self, amount):
        self.value += amount
        self.steps.append(amount)
        return self.value
'''


def collect(argument: str, seed: int = 0) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(LintSeqCollector(None).collect(argument, report, seed=seed)), report


def replay_parses(session) -> Workspace:
    """Replay the session's edits, checking that every file state parses; the final workspace."""
    workspace = Workspace()
    for event in session.events:
        if event.state is not None:
            workspace.apply_state(event.state)
        if event.action is not None:
            workspace.apply_edit(LineEdit.from_action(event.action))
        for path in workspace.files:
            ast.parse(workspace.text(path), filename=path)
    return workspace


def test_default_corpus_is_the_standard_library_and_every_step_parses() -> None:
    sessions, report = collect("?sessions=12")
    assert len(sessions) == 12 and report.counts["sessions"] == 12
    for session in sessions:
        assert session.domain == "code" and session.meta["source"] == "lintseq"
        assert session.meta["source_id"] == f"stdlib/{session.meta['file']}"
        (path,) = session.events[0].state["files"]
        assert session.events[0].state["cursor"]["file"] == path
        assert len(session.actions()) >= 2
        assert all(len(action.args["insert"]) <= 240 for action in session.actions())
        final = replay_parses(session).text(path)
        source = (stdlib_root() / path).read_text(encoding="utf-8").splitlines(keepends=True)
        assert set(final.splitlines(keepends=True)) <= set(source)


def test_sessions_depend_only_on_the_seed() -> None:
    as_json = lambda sessions: json.dumps([[event.to_json() for event in session.events] for session in sessions])
    first, second, other = collect("?sessions=5")[0], collect("?sessions=5")[0], collect("?sessions=5", seed=1)[0]
    assert as_json(first) == as_json(second) != as_json(other)


def test_a_folder_corpus_skips_what_does_not_parse_and_counts_it(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "latin.py").write_bytes("y = 1\nx = 'caf\xe9'\n".encode("latin-1"))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(GOOD)
    sessions, report = collect(f"{tmp_path}?sessions=6&per_file=3&abandon=0")
    assert len(sessions) == 6 and {session.meta["file"] for session in sessions} == {"good.py"}
    assert report.counts["files that do not parse (skipped)"] == 1
    assert report.counts["non-UTF-8 files (skipped)"] == 1
    assert any(warning.startswith(f"{tmp_path / 'broken.py'}:1: does not parse") for warning in report.warnings)
    assert any(warning.startswith(f"{tmp_path / 'latin.py'}:2: not UTF-8 (byte 14)") for warning in report.warnings)  # was :0
    for session in sessions:
        edits = [LineEdit.from_action(action) for action in session.actions()]
        assert all(edit.delete == 0 for edit in edits)
        assert replay_parses(session).text("good.py").strip()
    assert len({json.dumps(session.events[0].state) for session in sessions}) > 1


def test_abandoned_edits_are_undone_and_pauses_are_long(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    sessions, _ = collect(f"{tmp_path}?sessions=8&abandon=1&pause=1&max_steps=5&max_insert_chars=1000")
    abandoned = pauses = 0
    for session in sessions:
        replay_parses(session)
        edits = [(event.t, LineEdit.from_action(event.action)) for event in session.events if event.action]
        for (t0, first), (t1, second) in zip(edits, edits[1:]):
            if second.delete == 1 and not second.insert:
                assert first.delete == 0 and first.line == second.line and len(first.inserted_lines) == 1
                abandoned += 1
            pauses += t1 - t0 > 30
    assert abandoned > 0 and pauses > 0


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(NepError, match="not a Python file"):
        collect(str(tmp_path / "missing"))
    with pytest.raises(NepError, match="unknown option 'count'"):
        collect("?count=3")
    with pytest.raises(NepError, match="min_steps"):
        collect("?min_steps=5&max_steps=2")
    for option in ("pause=-5", "pause=nan", "abandon=2", "abandon=inf"):  # they were taken
        with pytest.raises(NepError, match=f"lintseq: option {option.split('=')[0]} is a chance, between 0 and 1"):
            collect(f"?{option}")
    with pytest.raises(NepError, match="no .py files"):
        collect(str(tmp_path))


def test_fewer_sessions_than_asked_are_a_warning_with_the_number_and_why(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    sessions, report = collect(f"{tmp_path}?sessions=500&per_file=3&abandon=0")
    assert 0 < len(sessions) < 500
    assert any(warning.startswith(f"lintseq: made {len(sessions)} of the 500 sessions asked: ") for warning in report.warnings)
