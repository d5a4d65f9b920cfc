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
