"""The ``timeline`` verifier: apply the predicted edit to a copy of the context's timeline with OTIO
(of the track it edits: every edit stays in its track).

Valid: the action is a well-formed edit, it applies (its track and clip exist, a trim targets a
clip, a roll has an item after the cut...), and the edited timeline has no problem the timeline
did not have before, nor one it had made worse (``timeline_problems``, compared by ``added_problem``:
a clip outside its media's available range or before source frame 0, a zero or negative duration,
a transition without clips around it or longer than them).

Reward against the real next edit: 1 for an exact match (after quantizing); ``NEAR_REWARD`` when
kind and location match and every frame count is within ``TOLERANCE_FRAMES``; ``PLACE_REWARD`` when
kind and location match; else 0. ``details`` says which parts matched (``kind_match``,
``location_match``, ``frames_error``), so ``nep eval`` averages them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable

import opentimelineio as otio

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_core.session import Context
from nep_core.verifier import Verdict, Verifier
from nep_video.action_space import canonical
from nep_video.edits import edited_track
from nep_video.replay import timeline_at
from nep_video.timeline import timeline_problems, timeline_rate, track_label, track_problems, tracks_of

TOLERANCE_FRAMES = 2
NEAR_REWARD = 0.75
PLACE_REWARD = 0.25
FRAME_ARGS = ("frames", "offset", "in")
CHECKS_KEPT = 512
"""Checks remembered per (timeline, edit): a session's requests between two edits share one timeline
object (``timeline_at``), and they, the speculation and its accept check the same suggestions again."""


class TimelineVerifier(Verifier):
    name = "timeline"
    description = "the edit applies to the timeline (OTIO) within every clip's media, no empty clips; reward = exact or within 2 frames"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked: OrderedDict[tuple[int, str], tuple[otio.schema.Timeline, str | None]] = OrderedDict()
        self._problems_before: OrderedDict[int, tuple[otio.schema.Timeline, list[str]]] = OrderedDict()

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        try:
            predicted = canonical(predicted)
        except InvalidAction as error:
            return Verdict(False, 0.0, {"error": str(error)})
        if predicted.is_no_edit:
            return Verdict(True, float(reference is not None and reference.is_no_edit))
        if not predicted.edit:
            return Verdict(False, 0.0, {"error": f"{predicted.kind} is not an edit"})
        problem = self._problem(timeline_at(context).timeline, predicted)
        if problem is not None:
            return Verdict(False, 0.0, {"error": problem})
        if reference is None:
            return Verdict(True, 0.0)
        try:
            reference = canonical(reference)
        except InvalidAction:
            return Verdict(True, 0.0)
        return Verdict(True, *match_reward(predicted, reference))

    def _problem(self, timeline: otio.schema.Timeline, edit: Action) -> str | None:
        """Why ``edit`` does not apply to ``timeline`` cleanly, or None (remembered; ``timeline`` is never edited)."""

        def check() -> str | None:
            try:
                index, track = edited_track(timeline, edit)
            except InvalidAction as error:
                return str(error)
            before = self._remembered(self._problems_before, id(timeline), timeline, lambda: timeline_problems(timeline), 8)
            return added_problem(before, track_problems(track, index, track_label(tracks_of(timeline), index), timeline_rate(timeline)))

        return self._remembered(self._checked, (id(timeline), edit.key()), timeline, check, CHECKS_KEPT)

    def _remembered(self, table: OrderedDict, key, timeline: otio.schema.Timeline, compute, limit: int):
        """``compute()``, remembered in ``table`` under ``key`` while ``timeline`` is the object it was for."""
        with self._lock:
            known = table.get(key)
        if known is not None and known[0] is timeline:
            return known[1]
        value = compute()
        with self._lock:
            table[key] = (timeline, value)
            while len(table) > limit:
                table.popitem(last=False)
        return value


def added_problem(before: Iterable[str], after: Iterable[str]) -> str | None:
    """The first problem of ``after`` (those of an edited timeline or track) that ``before`` (the
    timeline's own) does not have, or None: an edit is judged by the problems it adds.

    Problems are compared by what they are (``timeline.Problem``: the track, the item's type, name
    and media, the kind of problem), not by their text, which names items by position: an edit that
    moves the items of a timeline holding a clip past its media does not add that problem again. A
    problem made worse counts as added: of the problems with one key, the largest after the edit is
    compared with the largest before it, the second with the second..., and one more of them, or one
    that lies further out (``excess``: frames outside the media, before frame 0...) is added."""
    known: dict[tuple, list[float]] = {}
    for problem in before:
        known.setdefault(_key(problem), []).append(getattr(problem, "excess", 0.0))
    found: dict[tuple, list[tuple[float, str]]] = {}
    for problem in after:
        found.setdefault(_key(problem), []).append((getattr(problem, "excess", 0.0), problem))
    for key, problems in found.items():
        was = sorted(known.get(key, ()), reverse=True)
        for number, (excess, problem) in enumerate(sorted(problems, key=lambda pair: -pair[0])):
            if number >= len(was):
                return str(problem)
            if excess > was[number] + WORSE_FRAMES:
                return f"{problem}; {round(was[number], 3):g} before the edit"
    return None


WORSE_FRAMES = 1e-3
"""How much further out (frames) a problem must lie to be worse: less is rounding."""


def _key(problem: str) -> tuple:
    return getattr(problem, "key", (str(problem),))


def match_reward(predicted: Action, reference: Action) -> tuple[float, dict]:
    """(reward, details) of ``predicted`` against ``reference``, both canonical."""
    kind_match = predicted.kind == reference.kind
    location_match = kind_match and predicted.target == reference.target
    details: dict = {"kind_match": float(kind_match), "location_match": float(location_match)}
    if predicted == reference:
        details["frames_error"] = 0.0
        return 1.0, details
    if not location_match:
        return 0.0, details
    errors = [abs(predicted.args[name] - reference.args[name]) for name in FRAME_ARGS if name in reference.args]
    same_rest = all(predicted.args[name] == reference.args[name] for name in reference.args if name not in FRAME_ARGS)
    if errors:
        details["frames_error"] = float(max(errors))
    if same_rest and errors and max(errors) <= TOLERANCE_FRAMES:
        return NEAR_REWARD, details
    return PLACE_REWARD, details
