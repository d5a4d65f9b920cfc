"""The blender domain's synthetic sessions: generated in real bpy, deterministic, learnable, well-formed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import InvalidAction, NepError
from nep_core.sessionlog import read_session, write_session


@pytest.fixture(scope="module")
def domain():
    from nep_core.plugins import get_domain

    return get_domain("blender")


@pytest.fixture(scope="module")
def generated(domain):
    report = CollectReport()
    sessions = list(domain.collectors["synthetic"].collect("60", report, seed=11))
    return sessions, report


def test_sixty_sessions_cover_the_recipe_families_and_report_counts(generated):
    from nep_blender.synthetic.recipes import FAMILIES

    sessions, report = generated
    assert len(FAMILIES) >= 15
    assert len(sessions) == 60 and report.counts["sessions"] == 60 and not report.warnings
    seen = Counter(family for session in sessions for family in session.meta["families"])
    assert len(seen) >= 15
    assert report.counts["actions"] == sum(len(session.events) for session in sessions)
    assert report.counts["recipe families"] == len(seen)
    lengths = [len(session.events) for session in sessions]
    assert min(lengths) >= 8 and sum(lengths) / len(lengths) >= 20


def test_the_same_seed_gives_the_same_sessions_whatever_the_worker_count(generated, domain):
    from nep_blender.synthetic.collector import SyntheticCollector

    sessions, _ = generated
    again = list(SyntheticCollector(workers=1).collect("6", CollectReport(), seed=11))
    assert [session.id for session in again] == [session.id for session in sessions[:6]]
    assert [[event.to_json() for event in session.events] for session in again] == [
        [event.to_json() for event in session.events] for session in sessions[:6]
    ]
    other = list(SyntheticCollector(workers=1).collect("2", CollectReport(), seed=12))
    assert [event.to_json() for event in other[0].events] != [event.to_json() for event in sessions[0].events]


def test_every_action_is_written_exactly_by_the_action_space(generated, domain):
    sessions, _ = generated
    space = domain.action_space
    for session in sessions:
        for event in session.events:
            action = event.action
            try:
                tokens = space.encode(action)
            except InvalidAction as error:  # pragma: no cover - the assertion says which
                pytest.fail(f"{session.id}: {action.kind}: {error}")
            assert action.edit == space.registry.get(action.kind).is_edit
            assert set(action.context) == {"mode", "active", "selected"}
            assert tokens[0] == f"@{action.kind}"


def test_sessions_have_views_selections_undo_pauses_and_growing_time(generated):
    sessions, _ = generated
    kinds = Counter(event.action.kind for session in sessions for event in session.events)
    assert kinds["view3d.view_orbit"] > 0 and kinds["mesh.select_all"] > 0 and kinds["ed.undo"] > 0
    assert kinds["object.mode_set"] > 0 and kinds["mesh.extrude_region_move"] > 0 and kinds["object.modifier_add"] > 0
    non_edits = sum(1 for session in sessions for event in session.events if not event.action.edit)
    assert 0.1 < non_edits / sum(kinds.values()) < 0.6
    gaps = [b.t - a.t for session in sessions for a, b in zip(session.events, session.events[1:])]
    assert min(gaps) >= 0 and max(gaps) > 20  # pauses longer than the domain's pause threshold
    edit_mode_actions = [
        event.action for session in sessions for event in session.events if event.action.context["mode"] == "EDIT_MESH"
    ]
    assert any(action.kind == "mesh.inset" for action in edit_mode_actions)


def test_sessions_survive_the_session_log_round_trip(generated, tmp_path):
    sessions, _ = generated
    path = tmp_path / "one.jsonl"
    write_session(path, sessions[0])
    back = read_session(path)
    assert [event.to_json() for event in back.events] == [event.to_json() for event in sessions[0].events]
    assert back.meta["source"] == "synthetic" and back.domain == "blender"


def test_a_bad_argument_is_a_one_line_error(domain):
    with pytest.raises(NepError, match="ARGUMENT is a number of sessions, not 'lots'"):
        list(domain.collectors["synthetic"].collect("lots", CollectReport()))


def test_nep_collect_writes_synthetic_blender_sessions(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", "collect", "--domain", "blender", "--source", "synthetic:4", "--seed", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 4 sessions" in result.stdout and "recipe families" in result.stdout
    logs = sorted(tmp_path.glob("*.jsonl"))
    assert [log.name for log in logs] == [f"blender-synth-3-{index:05d}.jsonl" for index in range(4)]
    header = json.loads(logs[0].read_text().splitlines()[0])
    assert header["domain"] == "blender" and header["meta"]["app"].startswith("bpy ")
