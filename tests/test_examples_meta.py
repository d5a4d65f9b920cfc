"""A session header's ``meta.context_events`` and ``meta.open_end``: malformed values are refused with
a one-line error naming the session and the field, never a traceback or a silent guess."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from nep_core.actions import Action
from nep_core.errors import NepError
from nep_core.examples import ExampleConfig, make_examples
from nep_core.session import Event, Session

STEPS = [(0.0, Action("open", target="a")), (1.0, Action("open", target="b")), (2.0, Action("close", target="b"))]


def _session(**meta) -> Session:
    return Session(id="cut-1", domain="tags", events=[Event(t=t, action=action) for t, action in STEPS], meta=meta)


@pytest.mark.parametrize(
    "meta, message",
    [
        ({"context_events": "abc"}, "session 'cut-1': meta.context_events must be a whole number >= 0, not 'abc'"),
        ({"context_events": None}, "meta.context_events must be a whole number >= 0, not None"),
        ({"context_events": [3]}, r"meta.context_events must be a whole number >= 0, not \[3\]"),
        ({"context_events": 1.5}, "meta.context_events must be a whole number >= 0, not 1.5"),
        ({"context_events": -1}, "meta.context_events must be a whole number >= 0, not -1"),
        ({"context_events": True}, "meta.context_events must be a whole number >= 0, not True"),
        ({"context_events": 10**400}, "meta.context_events must be a whole number >= 0, not 1000"),
        ({"open_end": "no"}, "session 'cut-1': meta.open_end must be true or false, not 'no'"),
        ({"open_end": 0}, "meta.open_end must be true or false, not 0"),
    ],
)
def test_malformed_cut_meta_is_refused_naming_the_session_and_field(tags_domain, meta, message):
    with pytest.raises(NepError, match=message):
        make_examples(_session(**meta), tags_domain, ExampleConfig())


@pytest.mark.parametrize("split", ["validation", "Test", {}, ["train"], None])
def test_a_split_that_is_not_train_val_or_test_is_refused_not_ignored(split):
    """Ignored, a typo put the session's source wherever its hash fell: a later part of a history could train."""
    from nep_core.examples import split_sessions

    good = [dataclasses.replace(_session(split="test"), id=f"s{n}") for n in range(3)]
    assert [len(part) for part in split_sessions(good, ExampleConfig()).values()] == [0, 0, 3]
    with pytest.raises(NepError, match=r"session 'bad': meta.split must be one of train, val, test, not "):
        split_sessions([*good, dataclasses.replace(_session(split=split), id="bad")], ExampleConfig())


def test_well_formed_cut_meta_is_read_as_before(tags_domain):
    config = ExampleConfig(horizon_events=2)
    assert [example.trigger for example in make_examples(_session(context_events=1, open_end=False), tags_domain, config)] == [1, 2]
    assert [example.trigger for example in make_examples(_session(context_events=1.0), tags_domain, config)] == [1, 2]
    assert [example.trigger for example in make_examples(_session(), tags_domain, config)] == [0, 1, 2]


def test_nep_eval_reports_a_bad_meta_value_in_one_line(tmp_path):
    data = tmp_path / "logs"
    data.mkdir()
    for number in range(6):
        meta = {"context_events": "abc"} if number == 3 else {}
        lines = [{"nep": 1, "domain": "tags", "session": f"s{number}", "created": "", "meta": meta}]
        lines += [{"t": float(t), "action": action.to_json()} for t, action in STEPS]
        (data / f"s{number}.jsonl").write_text("\n".join(map(json.dumps, lines)) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", "eval", "--domain", "tags", "--model", "most-frequent", "--data", str(data)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "300"},
    )
    assert "Traceback" not in result.stderr
    assert result.returncode != 0 and "session 's3': meta.context_events must be a whole number >= 0, not 'abc'" in result.stderr
