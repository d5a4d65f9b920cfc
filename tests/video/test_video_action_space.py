"""The video action space: tokens and back, canonical checks that name the field, and a grammar bound to the timeline."""

from __future__ import annotations

import random

import pytest

from nep_core.action_space import EOS, NO_EDIT_TOKEN
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction
from nep_core.session import Context, Event
from nep_video.action_space import KIND_ARGS, VideoActionSpace
from nep_video.replay import locate
from nep_video.snapshot import timeline_state
from nep_video.verifier import TimelineVerifier
from video_timelines import awkward, interview

SPACE = VideoActionSpace(locator=locate)


def context_on(timeline, *actions):
    events = [Event(0.0, state=timeline_state(timeline))]
    events += [Event(1.0 + index, action=action) for index, action in enumerate(actions)]
    return Context(history=events, state=events[0].state)


EXAMPLES = [
    Action("trim_in", {"track": 0, "clip": 3}, {"frames": 12}),
    Action("trim_out", {"track": 1, "clip": 0}, {"frames": -1000}),
    Action("slip", {"track": 0, "clip": 2}, {"frames": -7}),
    Action("roll", {"track": 0, "clip": 2}, {"frames": 30}),
    Action("split", {"track": 0, "clip": 5}, {"offset": 48}),
    Action("delete", {"track": 0, "clip": 1}),
    Action("ripple_delete", {"track": 2, "clip": 0}),
    Action("move", {"track": 0, "clip": 1}, {"to": 4}),
    Action("insert", {"track": 0, "clip": 6}, {"media": 3, "in": 0, "frames": 96}),
    Action("add_transition", {"track": 0, "clip": 0}, {"frames": 12}),
    Action("playhead", {"track": 0, "clip": 4}, edit=False),
    Action("zoom", None, {"direction": "in"}, edit=False),
]


@pytest.mark.parametrize("action", EXAMPLES, ids=lambda action: action.kind)
def test_every_kind_round_trips_out_of_context_and_relative_to_an_anchor(action):
    expected = SPACE.validate(action)
    assert SPACE.decode(SPACE.encode(action)) == expected
    assert SPACE.read(SPACE.write(action, 3), 3) == expected
    assert set(SPACE.encode(action)) <= set(SPACE.vocabulary())
    tokens = SPACE.encode(action)
    for index in range(len(tokens)):
        assert tokens[index] in SPACE.allowed_next(tokens[:index])
    assert EOS in SPACE.allowed_next(tokens)


def test_kinds_are_all_covered_and_large_counts_are_quantized():
    assert {action.kind for action in EXAMPLES} >= set(KIND_ARGS) - {"select"}
    assert SPACE.validate(EXAMPLES[1]).args["frames"] == -1043
    assert SPACE.encode(NO_EDIT) == [NO_EDIT_TOKEN] and SPACE.decode([NO_EDIT_TOKEN]) == NO_EDIT


@pytest.mark.parametrize("action, message", [
    (Action("trim_in", {"track": 0}, {"frames": 3}), r"trim_in: target.clip must be a whole number"),
    (Action("trim_in", {"track": 0, "clip": 1}, {"frames": 0}), r"trim_in: args.frames must not be 0"),
    (Action("trim_in", {"track": 0, "clip": 1}, {"frames": float("nan")}), r"args.frames must be a number of frames"),
    (Action("split", {"track": 0, "clip": 1}, {"offset": -3}), r"split: args.offset must be at least 1"),
    (Action("move", {"track": 0, "clip": 1}, {"to": 1}), r"move: args.to must differ from target.clip"),
    (Action("explode", {"track": 0, "clip": 1}), r"unknown video action kind 'explode'"),
    (Action("delete", {"track": 0, "clip": 1}, {"frames": 2}), r"delete: unknown argument args.frames"),
])
def test_malformed_actions_name_the_field(action, message):
    with pytest.raises(InvalidAction, match=message):
        SPACE.validate(action)


def test_in_context_the_same_trim_on_the_next_clip_is_the_same_tokens():
    history = [Action("trim_in", {"track": 0, "clip": index}, {"frames": 12}) for index in range(3)]
    context = context_on(interview(6), *history)
    bound = SPACE.for_context(context)
    assert bound.encode(Action("trim_in", {"track": 0, "clip": 3}, {"frames": 12})) == ["@trim_in", "track=0", "c=+1", "f=12"]
    assert bound.decode(["@trim_in", "track=0", "c=+1", "f=12"]) == Action("trim_in", {"track": 0, "clip": 3}, {"frames": 12})


def test_the_bound_grammar_names_only_existing_items_and_keeps_trims_within_the_media():
    bound = SPACE.for_context(context_on(interview(3)))
    assert bound.allowed_next(["@trim_in"]) == ["track=0"]
    assert bound.allowed_next(["@trim_in", "track=0"]) == ["c=0", "c=+1", "c=+2"]
    frames = bound.allowed_next(["@trim_in", "track=0", "c=0"])
    values = [int(token[2:]) for token in frames]
    assert max(values) == 88 and min(values) == -99 and 0 not in values  # the grid steps within [-100 head, 95]
    assert {"f=12", "f=-12", "f=24"} <= set(frames)
    assert bound.allowed_next(["@roll", "track=0"]) == ["c=0", "c=+1"]  # no item after the last cut
    assert "@insert" in bound.allowed_next([]) and bound.allowed_next(["@insert", "track=0"])[-1] == "c=+3"
    with pytest.raises(InvalidAction, match="does not apply to this timeline"):
        bound.decode(["@trim_in", "track=0", "c=0", "f=99"])


def test_every_grammar_path_decodes_to_an_edit_the_verifier_accepts():
    """Random walks through the bound grammar on an awkward timeline: each finished action applies."""
    rng = random.Random(0)
    context = context_on(awkward(), Action("playhead", {"track": 0, "clip": 2}, edit=False))
    bound = SPACE.for_context(context)
    verifier = TimelineVerifier()
    kinds_seen = set()
    for _ in range(300):
        prefix: list[str] = []
        while True:
            allowed = [token for token in bound.allowed_next(prefix) if not (not prefix and token in bound.non_edit_start_tokens())]
            assert allowed, prefix
            token = rng.choice(allowed)
            if token == EOS:
                break
            prefix.append(token)
            if prefix == [NO_EDIT_TOKEN]:
                break
        action = bound.decode(prefix)
        if action.is_no_edit:
            continue
        kinds_seen.add(action.kind)
        verdict = verifier.verify(context, action)
        assert verdict.valid, (action, verdict.details)
    assert kinds_seen >= {"trim_in", "trim_out", "slip", "roll", "split", "delete", "ripple_delete", "move", "insert", "add_transition"}


def test_bound_spaces_of_one_timeline_share_where_kinds_apply_and_give_a_fresh_space_s_grammar():
    from nep_video.action_space import BoundVideoSpace

    timeline = awkward()
    contexts = [context_on(timeline, Action("playhead", {"track": track, "clip": clip}, edit=False)) for track, clip in ((0, 0), (0, 3), (1, 1))]
    spaces = [SPACE.for_context(context) for context in contexts]
    assert spaces[0].view is spaces[1].view is spaces[2].view  # one replayed view for the one timeline
    assert spaces[0].shared is spaces[1].shared is spaces[2].shared
    for space in spaces:
        fresh = BoundVideoSpace(SPACE, space.view, space.anchor)
        frontier, seen = [()], 0
        while frontier:
            prefix = frontier.pop()
            assert list(space.allowed_next(prefix)) == list(fresh.allowed_next(prefix)), prefix
            seen += 1
            if len(prefix) < 4:
                frontier += [(*prefix, token) for token in fresh.allowed_next(prefix) if token != EOS][:12]
        assert seen > 50
    assert SPACE.for_context(contexts[1]) is spaces[1]  # asked again: the same bound space


def test_grammar_masks_share_a_step_between_contexts_whose_prefixes_allow_the_same_tokens():
    from nep_core.inference.grammar import GrammarMasks

    vocabulary = {token: index for index, token in enumerate([EOS, NO_EDIT_TOKEN, *SPACE.vocabulary()])}
    masks = GrammarMasks(SPACE, vocabulary, len(vocabulary))
    timeline = interview(4)
    first = SPACE.for_context(context_on(timeline, Action("playhead", {"track": 0, "clip": 1}, edit=False)))
    second = SPACE.for_context(context_on(timeline, Action("playhead", {"track": 0, "clip": 2}, edit=False)))
    prefix = ("@trim_in", "track=0")
    assert first.grammar_key(prefix) != second.grammar_key(prefix)
    kinds_first, kinds_second = masks.step((), first), masks.step((), second)
    assert list(first.allowed_next(())) == list(second.allowed_next(()))
    assert kinds_first is kinds_second  # other keys, the same allowed tokens: one step
    edits_first = {vocabulary[token] for token in first.allowed_next(()) if token not in masks.excluded_first}
    assert len(edits_first) > 3 and set(kinds_first.ids) == edits_first  # non-edit kinds never start a suggestion
    assert masks.step(prefix, first) is not masks.step(prefix, second)  # the clips relative to each anchor differ
    assert list(first.allowed_next(prefix)) != list(second.allowed_next(prefix))
