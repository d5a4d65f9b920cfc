"""The timeline at a trigger point: the newest ``state`` snapshot with the later edits applied.

Contexts of one session grow one action at a time, so each replay starts from the longest one
already made (an LRU table keyed by the snapshot's content and the edits after it, so the requests
``nep serve`` parses anew hit it too). An edit that does not apply (a log out of step with its
snapshot) is skipped and counted in ``Replayed.skipped``; a malformed snapshot is a warning (logger
``nep.video``, naming the session, the event and the field) and an empty timeline.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Mapping

import opentimelineio as otio

from nep_core.errors import InvalidAction, NepError
from nep_core.session import Context
from nep_video.action_space import anchor_of
from nep_video.edits import apply_in_place
from nep_video.snapshot import timeline_from_state
from nep_video.timeline import TimelineView, view_of

CACHE_SIZE = 512
log = logging.getLogger("nep.video")


@dataclass(frozen=True)
class Replayed:
    """A context's timeline (do not edit it: copy first), its view and the anchor (track, clip)."""

    timeline: otio.schema.Timeline
    view: TimelineView
    anchor: tuple[int, int]
    skipped: int = 0


_cache: OrderedDict[int, tuple[otio.schema.Timeline, int, TimelineView]] = OrderedDict()
_state_keys: OrderedDict[int, tuple[Mapping[str, Any], int]] = OrderedDict()
_EMPTY = otio.schema.Timeline(name="empty")
RECENT_CONTEXTS = 8
_recent: OrderedDict[int, tuple[Context, int, Any, Replayed]] = OrderedDict()
_recent_lock = threading.Lock()
_cache_lock = threading.Lock()
"""Guards ``_cache`` and ``_state_keys``: the server's threads and its event loop replay and check at once."""


def timeline_at(context: Context) -> Replayed:
    """The timeline ``context`` ends on; an empty one when its history has no timeline snapshot.

    The answers for the last few contexts are kept: one request asks for its timeline several times
    (the encoder, the grammar, each suggestion's check), and gets the same object each time."""
    last = context.history[-1] if context.history else None
    with _recent_lock:
        hit = _recent.get(id(context))
    if hit is not None and hit[0] is context and hit[1] == len(context.history) and hit[2] is last:
        return hit[3]
    replayed = _replayed(context)
    with _recent_lock:
        _recent[id(context)] = (context, len(context.history), last, replayed)
        while len(_recent) > RECENT_CONTEXTS:
            _recent.popitem(last=False)
    return replayed


def _replayed(context: Context) -> Replayed:
    history = list(context.history)
    start = next((index for index in range(len(history) - 1, -1, -1)
                  if history[index].state is not None and "timeline" in history[index].state), None)
    actions = [event.action for event in history if event.action is not None]
    if start is None:
        return Replayed(_EMPTY, view_of(_EMPTY), anchor_of(actions, view_of(_EMPTY)))
    state = history[start].state
    edits = [event.action for event in history[start + 1 :] if event.action is not None and event.action.edit]
    timeline, skipped, view = _replay(state, edits, f"session {context.session_id or '?'}, event {start}")
    return Replayed(timeline, view, anchor_of(actions, view), skipped)


def _state_key(state: Mapping[str, Any]) -> int:
    """A key for the snapshot's content (memoized per snapshot object, which is kept alive meanwhile)."""
    with _cache_lock:
        hit = _state_keys.get(id(state))
    if hit is not None and hit[0] is state:
        return hit[1]
    key = hash(json.dumps(state, sort_keys=True, separators=(",", ":")))
    with _cache_lock:
        _state_keys[id(state)] = (state, key)
        if len(_state_keys) > CACHE_SIZE:
            _state_keys.popitem(last=False)
    return key


def snapshot_problem(state: Mapping[str, Any], where: str = "state") -> str | None:
    """Why the timeline snapshot ``state`` cannot be read (``FIELD: reason``), or None; a state
    without ``timeline`` is not a snapshot. A good one is kept for the replay that follows."""
    if "timeline" not in state:
        return None
    key = _state_key(state)
    with _cache_lock:
        if key in _cache:
            return None
    try:
        timeline = timeline_from_state(state, where)
    except NepError as error:
        return str(error)
    _keep(key, (timeline, 0, view_of(timeline)))
    return None


def _keep(key: int, replayed: tuple[otio.schema.Timeline, int, TimelineView]) -> None:
    with _cache_lock:
        _cache[key] = replayed
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)


def _replay(state: Mapping[str, Any], edits: list, where: str) -> tuple[otio.schema.Timeline, int, TimelineView]:
    """The snapshot (event ``where``) with ``edits`` applied, starting from the longest cached replay of
    a prefix, and its view."""
    keys = [_state_key(state)]
    for action in edits:
        keys.append(hash((keys[-1], action.key())))
    with _cache_lock:
        done = len(edits)
        while done >= 0 and keys[done] not in _cache:
            done -= 1
        if done == len(edits):
            _cache.move_to_end(keys[done])
            return _cache[keys[done]]
        start = _cache[keys[done]] if done >= 0 else None
    if start is None:
        try:
            timeline = timeline_from_state(state)
        except NepError as error:  # one the collectors drop, met in `nep predict`, `nep serve` or a `logs:` dataset
            log.warning("%s: %s; its edits are replayed on an empty timeline", where, error)
            timeline = _EMPTY.deepcopy()
        done, skipped = 0, 0
    else:
        previous, skipped, _ = start
        timeline = previous.deepcopy()
    for action in edits[done:]:
        try:
            apply_in_place(timeline, action)
        except InvalidAction:
            skipped += 1
    replayed = (timeline, skipped, view_of(timeline))
    _keep(keys[-1], replayed)
    return replayed


def locate(context: Context) -> tuple[TimelineView, tuple[int, int]]:
    """The action space's locator: the context's timeline view and anchor."""
    replayed = timeline_at(context)
    return replayed.view, replayed.anchor
