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
