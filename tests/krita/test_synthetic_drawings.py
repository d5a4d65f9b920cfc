"""The `synthetic` collector: procedural drawing sessions, the krita domain's embedded default dataset."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_core.examples import make_examples
from nep_core.sessionlog import read_session, write_session
from nep_krita.action_space import KritaActionSpace
from nep_krita.collectors.synthetic import FAMILIES, SyntheticDrawingCollector
from nep_krita.domain import build_domain
from nep_krita.strokes import Stroke


def collect(argument: str, seed: int = 0) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(SyntheticDrawingCollector(KritaActionSpace()).collect(argument, report, seed)), report


def as_json(sessions) -> str:
    return json.dumps([[session.header(), *(event.to_json() for event in session.events)] for session in sessions], sort_keys=True)


@pytest.fixture(scope="module")
def sessions_and_report():
    return collect("36")


def test_sessions_are_deterministic_by_seed_and_index() -> None:
    first, _ = collect("8", seed=3)
    again, _ = collect("8", seed=3)
    other, _ = collect("8", seed=4)
    assert as_json(first) == as_json(again)
    assert as_json(first) != as_json(other)
    longer, _ = collect("10", seed=3)
    assert as_json(longer[:8]) == as_json(first)


def test_every_family_is_drawn_and_counted(sessions_and_report) -> None:
    sessions, report = sessions_and_report
    assert len(FAMILIES) >= 6
    assert Counter(session.meta["family"] for session in sessions) == Counter({family: 6 for family in FAMILIES})
    for family in FAMILIES:
        assert report.counts[f"family {family}"] >= 6
    assert report.counts["sessions"] == 36
    assert len({session.source for session in sessions}) == 36
    assert all(session.meta["source"] == "synthetic" and session.domain == "krita" for session in sessions)


def test_every_action_is_well_formed_on_the_canvas_and_writable(sessions_and_report) -> None:
    sessions, report = sessions_and_report
    space = KritaActionSpace(1024, 768)
    strokes = 0
    for session in sessions:
        first = session.events[0]
        assert first.state["canvas"] == {"width": 1024, "height": 768} and first.t == 0.0
        times = [event.t for event in session.events]
        assert times == sorted(times)
        for action in session.actions():
            space.encode(action)  # raises InvalidAction when the grammar cannot write it
            if action.kind == "stroke":
                stroke = Stroke.from_action(action)
                assert stroke.on_canvas(1024, 768) and stroke.length() > 2
                assert [point[3] for point in stroke.points] == sorted(point[3] for point in stroke.points)
                strokes += 1
    assert strokes == report.counts["strokes"] > 36 * 10


def test_pressure_tapers_in_and_out_and_brushes_change_between_passes(sessions_and_report) -> None:
    sessions, report = sessions_and_report
    tapered = total = 0
    for session in sessions:
        for action in session.actions():
            if action.kind == "stroke" and len(action.args["points"]) >= 4:
                pressures = [point[2] for point in action.args["points"]]
                total += 1
                tapered += pressures[0] < max(pressures) and pressures[-1] < max(pressures)
    assert tapered > 0.8 * total
    kinds = Counter(action.kind for session in sessions for action in session.actions())
    for kind in ("brush", "color", "size", "undo", "eraser"):
        assert kinds[kind] > 0, kind
    assert report.counts["abandoned strokes"] > 0 and report.counts["long pauses"] > 0
    slips = [Stroke.from_action(a).length() / Stroke.from_action(c).length() for session in sessions
             for a, b, c in zip(session.actions(), session.actions()[1:], session.actions()[2:])
             if a.kind == "stroke" and b.kind == "undo" and c.kind == "stroke"]
    assert sum(ratio < 0.4 for ratio in slips) >= report.counts["abandoned strokes"] * 0.9  # a slip is a short start of the stroke
    eraser_states = [action.args["on"] for session in sessions for action in session.actions() if action.kind == "eraser"]
    assert eraser_states[::2] == [True] * len(eraser_states[::2]) and eraser_states[1::2] == [False] * len(eraser_states[1::2])


def test_domain_examples_have_stroke_targets_and_no_edit_after_long_pauses(sessions_and_report) -> None:
    sessions, _ = sessions_and_report
    domain = build_domain()
    examples = [example for session in sessions for example in make_examples(session, domain)]
    targets = Counter(example.target.kind for example in examples)
    assert targets["stroke"] > 0.7 * len(examples)
    assert 0 < targets["no_edit"] < 0.2 * len(examples)
    gaps = [b.t - a.t for session in sessions for a, b in zip(session.events, session.events[1:])]
    assert max(gaps) > domain.examples.pause_seconds
    median_gap = sorted(gaps)[len(gaps) // 2]
    assert 0.1 < median_gap < 3.0


def test_sessions_survive_a_round_trip_through_the_log_format(tmp_path: Path, sessions_and_report) -> None:
    sessions, _ = sessions_and_report
    for session in sessions[:6]:
        back = read_session(write_session(tmp_path / f"{session.id}.jsonl", session))
        assert as_json([back]) == as_json([session])


def test_options_and_bad_arguments() -> None:
    (session,), _ = collect("1?width=640&height=480&families=lettering&passes=1")
    assert session.events[0].state["canvas"] == {"width": 640, "height": 480}
    assert session.meta["families"] == ["lettering"]
    assert all(Stroke.from_action(a).on_canvas(640, 480) for a in session.actions() if a.kind == "stroke")
    for argument, message in (("abc", "number of sessions"), ("0", "number of sessions"), ("2?families=doodles", "unknown families doodles"),
                              ("2?colour=red", "unknown option 'colour'"), ("2?width=10", "option 'width' must be from 64 to 8192 pixels")):
        with pytest.raises(NepError, match=message):
            collect(argument)
    assert SyntheticDrawingCollector.version and math.isfinite(float(SyntheticDrawingCollector.version))


def test_the_canvas_and_the_passes_are_range_checked_before_anything_is_drawn() -> None:
    """`width=99999999` (or `passes=99999999`) grew memory without bound; `passes=0` was taken as 1."""
    for argument, message in (("3?height=8193", r"option 'height' must be from 64 to 8192 pixels \(got 8193\)"),
                              ("3?passes=0", r"option 'passes' must be from 1 to 50 \(got 0\)"),
                              ("3?width=99999999", r"option 'width' must be from 64 to 8192 pixels \(got 99999999\)"),
                              ("3?passes=99999999", r"option 'passes' must be from 1 to 50 \(got 99999999\)")):
        with pytest.raises(NepError, match=message):
            collect(argument)
    (session,), _ = collect("1?width=8192&height=64&passes=50")
    assert session.events[0].state["canvas"] == {"width": 8192, "height": 64}
