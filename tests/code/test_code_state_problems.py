"""A code state event the encoder cannot read is named field by field (``nep serve`` answers it with 422)."""

from __future__ import annotations

import pytest

from nep_core.plugins import get_domain

GOOD = {"files": {"a.py": "x = 1\n"}, "cursor": {"file": "a.py", "line": 1, "column": 0}}


@pytest.mark.parametrize("state, problem", [
    ({"files": ["a.py"]}, "state.files: must be an object of file names to their whole texts"),
    ({"files": {"a.py": ["x = 1\n"]}}, 'state.files["a.py"]: must be a string'),
    ({"cursor": "a.py:3"}, "state.cursor: must be an object with file, line and column"),
    ({"cursor": {"file": 3, "line": 1}}, "state.cursor.file: must be a string"),
    ({"cursor": {"file": "a.py", "line": 0}}, "state.cursor.line: must be at least 1 (got 0)"),
    ({"cursor": {"file": "a.py", "line": 2.5}}, "state.cursor.line: must be a whole number, not float"),
    ({"cursor": {"file": "a.py", "line": True}}, "state.cursor.line: must be a whole number, not bool"),
    ({"cursor": {"file": "a.py", "line": 1, "column": -1}}, "state.cursor.column: must be at least 0 (got -1)"),
])
def test_bad_states_are_named_by_field(state, problem):
    found = get_domain("code").encoder.state_problem(state, "state")
    assert found is not None and found.startswith(problem), found


@pytest.mark.parametrize("state", [GOOD, {}, {"cursor": {}}, {"files": {}}, {"files": {"a.py": ""}, "cursor": {"file": "a.py", "line": 1}}])
def test_good_states_have_no_problem(state):
    assert get_domain("code").encoder.state_problem(state, "history[0].state") is None


def _logs_with_one_bad_state(folder):
    from nep_core.actions import Action
    from nep_core.session import Event, Session
    from nep_core.sessionlog import write_session

    edit = Action(kind="replace", args={"file": "a.py", "line": 1, "old": "x = 1", "new": "x = 2"})
    good = [Event(t=0.0, state=GOOD), Event(t=1.0, action=edit)]
    bad = [Event(t=0.0, state=GOOD), Event(t=1.0, state={"cursor": {"file": "a.py", "line": 0}}), Event(t=2.0, action=edit)]
    write_session(folder / "good.jsonl", Session(id="good", domain="code", events=good))
    return write_session(folder / "bad.jsonl", Session(id="bad", domain="code", events=bad))


def test_train_eval_and_collect_read_no_state_the_encoder_cannot_read(tmp_path):
    """`nep predict` and `nep serve` refused such a snapshot; `nep eval` and `nep train` crashed inside the encoder."""
    from nep_core.collector import CollectReport
    from nep_core.dataset import collect, load_sessions
    from nep_core.errors import NepError

    code = get_domain("code")
    bad = _logs_with_one_bad_state(tmp_path)
    problem = f"{bad}:3: state.cursor.line: must be at least 1 (got 0)"  # the header is line 1
    with pytest.raises(NepError) as raised:
        load_sessions(code, tmp_path)  # nep eval reads strictly
    assert str(raised.value) == problem
    sessions, report = load_sessions(code, tmp_path, strict=False)  # nep train skips the file and says so
    assert [session.id for session in sessions] == ["good"] and report.warnings == [problem + "; file skipped"]
    collected = CollectReport()
    assert [session.id for session in collect(code, f"logs:{tmp_path}", collected)] == ["good"]
    assert collected.warnings == [problem + "; file skipped"]


def test_nep_eval_names_the_file_line_and_field_of_a_state_it_cannot_read(tmp_path):
    import subprocess
    import sys

    bad = _logs_with_one_bad_state(tmp_path)
    result = subprocess.run([sys.executable, "-m", "nep_core.cli.main", "eval", "--domain", "code", "--model", "ngram", "--data", str(tmp_path)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    # read as training reads it: the line is skipped with a warning that names it, and no example is left here
    assert f"warning: {bad}:3: state.cursor.line: must be at least 1 (got 0)" in " ".join(result.stderr.split()), result.stderr
