"""The synthetic rough-cut to fine-cut sessions: deterministic, valid edit by edit, and with the patterns they promise."""

from __future__ import annotations

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_core.examples import make_examples
from nep_core.plugins import get_domain
from nep_video.collectors.synthetic import SyntheticCutCollector
from nep_video.edits import apply_edit
from nep_video.snapshot import timeline_from_state
from nep_video.timeline import timeline_problems


@pytest.fixture(scope="module")
def sessions():
    return list(SyntheticCutCollector().collect("30", CollectReport()))


def test_sessions_are_deterministic_by_seed(sessions):
    again = list(SyntheticCutCollector().collect("3", CollectReport()))
    other = list(SyntheticCutCollector().collect("3", CollectReport(), seed=1))
    assert [session.events for session in again] == [session.events for session in sessions[:3]]
    assert [session.events for session in other] != [session.events for session in sessions[:3]]


def test_every_edit_applies_to_the_snapshot_in_turn_without_new_problems(sessions):
    for session in sessions[:10]:
        timeline = timeline_from_state(session.events[0].state)
        problems = len(timeline_problems(timeline))
        for action in session.actions():
            if action.edit:
                timeline = apply_edit(timeline, action)
                assert len(timeline_problems(timeline)) <= problems, (session.id, action)


def test_runs_of_similar_trims_non_edits_and_pauses(sessions):
    kinds = [action.kind for session in sessions for action in session.actions()]
    assert {"trim_in", "trim_out", "split", "ripple_delete", "roll", "add_transition", "playhead", "select"} <= set(kinds)
    repeated = 0
    for session in sessions:
        edits = [action for action in session.actions() if action.edit]
        repeated += sum(a.kind == b.kind and a.args == b.args and b.target["clip"] > a.target["clip"] for a, b in zip(edits, edits[1:]))
    assert repeated > 0.3 * sum(1 for kind in kinds if kind in ("trim_in", "trim_out"))  # the same trim on a later clip, again and again
    domain = get_domain("video")
    examples = [example for session in sessions for example in make_examples(session, domain)]
    assert 0.02 < sum(example.target.is_no_edit for example in examples) / len(examples) < 0.3


def test_every_target_is_written_by_the_grammar_of_its_context(sessions):
    domain = get_domain("video")
    for example in [example for session in sessions[:6] for example in make_examples(session, domain)]:
        bound = domain.action_space.for_context(example.context)
        tokens = bound.encode(example.target)
        for index, token in enumerate(tokens):
            assert token in bound.allowed_next(tokens[:index]), (example.target, tokens, index)
        assert bound.decode(tokens) == domain.action_space.validate(example.target)


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(NepError, match="synthetic: ARGUMENT is a number of sessions, not 'many'"):
        list(SyntheticCutCollector().collect("many", CollectReport()))
    with pytest.raises(NepError, match="synthetic: unknown option 'tracks'"):
        list(SyntheticCutCollector().collect("2?tracks=3", CollectReport()))


def test_the_time_key_is_all_the_encoder_reads_of_times(sessions):
    from inference_helpers import check_time_key
    from nep_core.session import Context

    encoder = get_domain("video").encoder
    contexts = [Context(history=session.events[:cut], session_id=session.id) for session in sessions[:6] for cut in (3, 12, 40)]
    unchanged, changed = check_time_key(encoder, contexts, variants=6)
    assert unchanged > 5 and changed > 10


def own_cut():
    """Eight interview segments from one take, with two B-roll shots (each used once) among them."""
    from video_timelines import clip, interview

    timeline = interview(8)
    track = timeline.tracks[0]
    track.insert(2, clip("BROLL_city", 200, 72))
    track.insert(6, clip("BROLL_sea", 400, 60))
    return timeline


def test_label_shots_takes_repeated_media_for_an_interview_and_media_used_once_for_b_roll():
    from nep_video.collectors.synthetic import label_shots
    from nep_video.timeline import items_of

    original = own_cut()
    labelled = label_shots(original)
    shots = [item.metadata["shot"] for item in items_of(labelled.tracks[0])]
    assert shots == ["int:file:///media/INT_ANNA_take1.mov"] * 2 + ["broll"] + ["int:file:///media/INT_ANNA_take1.mov"] * 3 + ["broll"] + [
        "int:file:///media/INT_ANNA_take1.mov"] * 3
    assert all("shot" not in item.metadata for item in items_of(original.tracks[0]))  # the caller's timeline is untouched


def test_sessions_from_your_own_timelines_start_from_them_and_every_edit_applies(tmp_path):
    from nep_video.formats import read_timeline
    from nep_video.timeline import items_of
    from video_timelines import write

    write(own_cut(), tmp_path / "cut.xml", "fcp_xml")
    (tmp_path / "broken.edl").write_text("001  AX  V  C  not a timecode\n")
    report = CollectReport()
    sessions = list(SyntheticCutCollector().collect(f"6?from={tmp_path}", report))
    assert report.counts["unreadable timelines"] == 1 and any("broken.edl" in warning for warning in report.warnings)
    names = [item.name for item in items_of(read_timeline(tmp_path / "cut.xml").tracks[0])]
    edits = 0
    for session in sessions:
        assert session.meta["start"] == "cut.xml"
        timeline = timeline_from_state(session.events[0].state)
        assert [item.name for item in items_of(timeline.tracks[0])] == names
        problems = len(timeline_problems(timeline))
        for action in session.actions():
            if action.edit:
                timeline = apply_edit(timeline, action)
                assert len(timeline_problems(timeline)) <= problems, (session.id, action)
                edits += 1
    assert edits >= 12
    kinds = {action.kind for session in sessions for action in session.actions() if action.edit}
    assert {"trim_in", "trim_out"} & kinds and len(kinds) >= 3


def test_from_a_missing_or_unusable_place_is_a_one_line_error(tmp_path):
    with pytest.raises(NepError, match=f"synthetic: option 'from': {tmp_path / 'nowhere'}: no such file or folder"):
        list(SyntheticCutCollector().collect(f"2?from={tmp_path / 'nowhere'}", CollectReport()))
    (tmp_path / "broken.edl").write_text("garbage\n")
    with pytest.raises(NepError, match="synthetic: option 'from': no timeline NEP can edit in"):
        list(SyntheticCutCollector().collect(f"2?from={tmp_path}", CollectReport()))
