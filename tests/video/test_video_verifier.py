"""The timeline verifier: valid edits apply within the media; rewards for exact and near matches."""

from __future__ import annotations

from nep_core.actions import NO_EDIT, Action
from nep_core.session import Context, Event
from nep_video.snapshot import timeline_state
from nep_video.verifier import NEAR_REWARD, PLACE_REWARD, TimelineVerifier
from video_timelines import awkward, interview

VERIFIER = TimelineVerifier()


def context_on(timeline, *actions):
    events = [Event(0.0, state=timeline_state(timeline))] + [Event(1.0 + i, action=a) for i, a in enumerate(actions)]
    return Context(history=events, state=events[0].state)


def trim(clip, frames, kind="trim_in"):
    return Action(kind, {"track": 0, "clip": clip}, {"frames": frames})


def test_exact_near_and_same_place_rewards():
    context = context_on(interview(4))
    assert VERIFIER.verify(context, trim(2, 12), trim(2, 12)).reward == 1.0
    near = VERIFIER.verify(context, trim(2, 13), trim(2, 12))
    assert near.valid and near.reward == NEAR_REWARD and near.details["frames_error"] == 1.0
    far = VERIFIER.verify(context, trim(2, 20), trim(2, 12))
    assert far.reward == PLACE_REWARD and far.details["location_match"] == 1.0
    elsewhere = VERIFIER.verify(context, trim(3, 12), trim(2, 12))
    assert elsewhere.reward == 0.0 and elsewhere.details == {"kind_match": 1.0, "location_match": 0.0}


def test_invalid_edits_say_why():
    context = context_on(interview(2))
    past_media = VERIFIER.verify(context, trim(0, -150))
    assert not past_media.valid and "leaves the media's available_range" in past_media.details["error"]
    empty = VERIFIER.verify(context, trim(1, 96))
    assert not empty.valid and "not positive" in empty.details["error"]
    missing = VERIFIER.verify(context, trim(7, 1))
    assert not missing.valid and "target.clip 7 is not an item" in missing.details["error"]
    view_change = VERIFIER.verify(context, Action("playhead", {"track": 0, "clip": 0}, edit=False))
    assert not view_change.valid and "not an edit" in view_change.details["error"]


def test_edits_replay_from_the_snapshot_and_old_problems_are_not_blamed():
    timeline = awkward()
    context = context_on(timeline, Action("ripple_delete", {"track": 0, "clip": 2}))
    # after closing the gap, the 30 fps clip is item 2; trimming its head by 12 timeline frames is fine
    assert VERIFIER.verify(context, trim(2, 12)).valid
    assert VERIFIER.verify(context, NO_EDIT, NO_EDIT).reward == 1.0
    # a clip without a media range may be extended down to source frame 0 (it starts at frame 10), not past it
    assert VERIFIER.verify(context, trim(4, -10)).valid
    assert "before source frame 0" in VERIFIER.verify(context, trim(4, -20)).details["error"]
