"""Video timeline actions as tokens, with a grammar bound to the timeline in context.

An action is ``@KIND track=T clip=N ARGS...`` out of context (``clip=N``: the item's index) and
``@KIND track=T c=+K ARGS...`` in a context (``for_context``): the clip counted from the *anchor*,
the clip of the newest located action in the history (an edit, a playhead move or a selection).
"The same trim on the next clip" is then the same tokens each time: ``@trim_in track=0 c=+1 f=12``.

====================  ====================  =================================================
kind                  args (tokens)         meaning (see ``edits.py``)
====================  ====================  =================================================
trim_in, trim_out     frames (``f=``)       move the in / out point, + is later (ripple)
slip, roll            frames (``f=``)       slip the media / roll the cut after the clip
split                 offset (``f=``)       split at that frame of the clip (1..length-1)
delete                -                     lift: the item becomes a gap
ripple_delete         -                     remove the item, later items move up
move                  to (``to=N``/``mv=K``) take the item out, put it back at ``to``
insert                media in frames       a clip of bin media ``m=`` at position ``clip``
                      (``m= f= f=``)
add_transition        frames (``f=``)       a dissolve on the cut after the clip
playhead, select      -                     not edits: context only
zoom                  direction (``zoom=``) not an edit: context only
====================  ====================  =================================================

Frame counts are quantized by ``frames.quantize_frames`` (exact up to 24 frames, log-spaced above).
Bound to a context, the grammar names only existing tracks and items, the kinds each item allows
(no trim on a gap, a roll needs an item after the cut) and frame counts that keep the clip within
its media (never before source frame 0, also when the media range is unknown) and longer than zero,
so every decoded suggestion applies to the timeline.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Hashable, Sequence

from nep_core.action_space import EOS, NO_EDIT_TOKEN, ActionSpace
from nep_core.actions import NO_EDIT, Action
from nep_core.errors import InvalidAction
from nep_video.frames import FRAME_TOKENS, MAX_FRAMES, SIGNED_STEPS, TOKEN_FRAMES, quantize_frames, step_span, steps_between
from nep_video.timeline import ITEM_CLIP, ITEM_GAP, MAX_BIN, TimelineView

MAX_TRACKS = 16
MAX_ITEMS = 512
"""The item positions actions can name on a track: 0..MAX_ITEMS (``c=`` reaches MAX_ITEMS either side
of the anchor). A longer track is read, but its items past MAX_ITEMS get no suggestion and an edit
there cannot be written (``canonical`` refuses it; the encoder writes ``<unk>``): docs/domains/video.md,
"The item limit"."""

EDIT_ARGS: dict[str, tuple[str, ...]] = {
    "trim_in": ("frames",), "trim_out": ("frames",), "slip": ("frames",), "roll": ("frames",), "split": ("offset",),
    "delete": (), "ripple_delete": (), "move": ("to",), "insert": ("media", "in", "frames"), "add_transition": ("frames",),
}
NON_EDIT_ARGS: dict[str, tuple[str, ...]] = {"playhead": (), "select": (), "zoom": ("direction",)}
KIND_ARGS = {**EDIT_ARGS, **NON_EDIT_ARGS}
TARGETLESS = frozenset({"zoom"})
EDIT_KINDS = tuple(EDIT_ARGS)
KIND_TOKENS = {f"@{kind}": kind for kind in KIND_ARGS}
ZOOM_DIRECTIONS = ("in", "out")

TRACK_TOKENS = [f"track={index}" for index in range(MAX_TRACKS)]
CLIP_TOKENS = [f"clip={index}" for index in range(MAX_ITEMS + 1)]
RELATIVE_TOKENS = {delta: f"c={delta:+d}" if delta else "c=0" for delta in range(-MAX_ITEMS, MAX_ITEMS + 1)}
TO_TOKENS = [f"to={index}" for index in range(MAX_ITEMS)]
MOVE_TOKENS = {delta: f"mv={delta:+d}" for delta in range(-MAX_ITEMS, MAX_ITEMS + 1) if delta}
MEDIA_TOKENS = [f"m={index}" for index in range(MAX_BIN)]
ZOOM_TOKENS = [f"zoom={direction}" for direction in ZOOM_DIRECTIONS]
_TRACK_INDEX = {token: index for index, token in enumerate(TRACK_TOKENS)}
_CLIP_INDEX = {token: index for index, token in enumerate(CLIP_TOKENS)}
_RELATIVE_INDEX = {token: delta for delta, token in RELATIVE_TOKENS.items()}
_TO_INDEX = {token: index for index, token in enumerate(TO_TOKENS)}
_MOVE_INDEX = {token: delta for delta, token in MOVE_TOKENS.items()}
_MEDIA_INDEX = {token: index for index, token in enumerate(MEDIA_TOKENS)}

BOUND_SPACES_KEPT = 32
"""Bound spaces ``for_context`` keeps (per timeline view and anchor): a few sessions' current ones."""

SIGNED_KINDS = frozenset({"trim_in", "trim_out", "slip", "roll"})
"""Kinds whose frame count is signed and never 0."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_kind(kind: str) -> None:
    if kind not in KIND_ARGS:
        raise InvalidAction(f"unknown video action kind '{kind}' (kinds: {', '.join(KIND_ARGS)})")


def canonical(action: Action) -> Action:
    """``action`` with its target and arguments checked and its frame counts quantized; InvalidAction names the field."""
    if action.is_no_edit:
        return NO_EDIT
    kind = action.kind
    check_kind(kind)
    unknown = sorted(set(action.args) - set(KIND_ARGS[kind]))
    if unknown:
        raise InvalidAction(f"{kind}: unknown argument args.{unknown[0]}")
    target = None
    if kind not in TARGETLESS:
        raw = action.target if isinstance(action.target, dict) else {}
        track, clip = raw.get("track"), raw.get("clip")
        if not _is_int(track) or not 0 <= track < MAX_TRACKS:
            raise InvalidAction(f"{kind}: target.track must be a whole number 0..{MAX_TRACKS - 1}, got {track!r}")
        if not _is_int(clip) or not 0 <= clip <= MAX_ITEMS:
            raise InvalidAction(f"{kind}: target.clip must be a whole number 0..{MAX_ITEMS}, got {clip!r}")
        target = {"track": track, "clip": clip}
    args: dict[str, Any] = {}
    for name in KIND_ARGS[kind]:
        value = action.args.get(name)
        if name == "direction":
            if value not in ZOOM_DIRECTIONS:
                raise InvalidAction(f"zoom: args.direction must be 'in' or 'out', got {value!r}")
        elif name in ("to", "media"):
            limit = MAX_ITEMS if name == "to" else MAX_BIN
            if not _is_int(value) or not 0 <= value < limit:
                raise InvalidAction(f"{kind}: args.{name} must be a whole number 0..{limit - 1}, got {value!r}")
        else:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value or abs(value) == float("inf"):
                raise InvalidAction(f"{kind}: args.{name} must be a number of frames, got {value!r}")
            value = quantize_frames(value)
            smallest = 0 if name == "in" else 1
            if kind in SIGNED_KINDS and value == 0:
                raise InvalidAction(f"{kind}: args.{name} must not be 0")
            if kind not in SIGNED_KINDS and value < smallest:
                raise InvalidAction(f"{kind}: args.{name} must be at least {smallest}, got {action.args.get(name)!r}")
        args[name] = value
    if kind == "move" and args["to"] == target["clip"]:
        raise InvalidAction("move: args.to must differ from target.clip")
    return Action(kind=kind, target=target, args=args, edit=kind in EDIT_ARGS)


class VideoActionSpace(ActionSpace):
    """Timeline edits and NO_EDIT. Out of context, clips are absolute (``clip=N``); ``for_context``
    gives the ``BoundVideoSpace`` of the context's timeline, with clips relative to the anchor."""

    name = "video"
    version = "1"

    def __init__(self, locator: Callable[[Any], tuple[TimelineView, tuple[int, int]]] | None = None):
        self.locator = locator
        self._bound: OrderedDict[tuple[int, tuple[int, int]], BoundVideoSpace] = OrderedDict()
        self._bound_lock = threading.Lock()

    def for_context(self, context) -> ActionSpace:
        """The space bound to the context's timeline view and anchor; the same object while they stay
        (the replay keeps one view per timeline), so its grammar, computed once, serves the requests
        between two edits, and the view's bound spaces share where each kind applies."""
        if context is None or self.locator is None:
            return self
        view, anchor = self.locator(context)
        key = (id(view), anchor)
        with self._bound_lock:
            bound = self._bound.get(key)
            if bound is not None and bound.view is view:
                self._bound.move_to_end(key)
                return bound
            shared = next((other.shared for other in reversed(self._bound.values()) if other.view is view), {})
            bound = self._bound[key] = BoundVideoSpace(self, view, anchor, shared=shared)
            while len(self._bound) > BOUND_SPACES_KEPT:
                self._bound.popitem(last=False)
        return bound

    def check_kind(self, kind: str) -> None:
        check_kind(kind)

    def vocabulary(self) -> list[str]:
        return [*KIND_TOKENS, *TRACK_TOKENS, *CLIP_TOKENS, *RELATIVE_TOKENS.values(), *TO_TOKENS, *MOVE_TOKENS.values(),
                *MEDIA_TOKENS, *ZOOM_TOKENS, *FRAME_TOKENS.values()]

    def validate(self, action: Action) -> Action:
        return canonical(action)

    def encode(self, action: Action) -> list[str]:
        return self.write(action, None)

    def write(self, action: Action, anchor_clip: int | None) -> list[str]:
        """The action's tokens; clips relative to ``anchor_clip`` (``c=+K``, ``mv=K``), absolute when it is None."""
        action = canonical(action)
        if action.is_no_edit:
            return [NO_EDIT_TOKEN]
        tokens = [f"@{action.kind}"]
        target = action.target
        if target is not None:
            tokens.append(TRACK_TOKENS[target["track"]])
            if anchor_clip is None:
                tokens.append(CLIP_TOKENS[target["clip"]])
            else:
                tokens.append(RELATIVE_TOKENS[max(-MAX_ITEMS, min(MAX_ITEMS, target["clip"] - anchor_clip))])
        for name in KIND_ARGS[action.kind]:
            value = action.args[name]
            if name == "direction":
                tokens.append(f"zoom={value}")
            elif name == "media":
                tokens.append(MEDIA_TOKENS[value])
            elif name == "to":
                tokens.append(TO_TOKENS[value] if anchor_clip is None else MOVE_TOKENS[value - target["clip"]])
            else:
                tokens.append(FRAME_TOKENS[value])
        return tokens

    def decode(self, tokens: Sequence[str]) -> Action:
        return self.read(tokens, None)

    def read(self, tokens: Sequence[str], anchor_clip: int | None) -> Action:
        """The action ``tokens`` write (clips relative to ``anchor_clip`` when it is not None)."""
        tokens = list(tokens)
        if tokens == [NO_EDIT_TOKEN]:
            return NO_EDIT
        if not tokens or tokens[0] not in KIND_TOKENS:
            raise InvalidAction(f"not a video action: {' '.join(tokens) or '(empty)'}")
        kind = KIND_TOKENS[tokens[0]]
        rest = tokens[1:]
        expected = (0 if kind in TARGETLESS else 2) + len(KIND_ARGS[kind])
        if len(rest) != expected:
            raise InvalidAction(f"{kind}: expected {expected} tokens after the kind, got {len(rest)}")
        target = None
        if kind not in TARGETLESS:
            track = _TRACK_INDEX.get(rest[0])
            clip = _CLIP_INDEX.get(rest[1]) if anchor_clip is None else (
                None if rest[1] not in _RELATIVE_INDEX else anchor_clip + _RELATIVE_INDEX[rest[1]])
            if track is None or clip is None or clip < 0:
                raise InvalidAction(f"{kind}: bad target tokens {rest[0]} {rest[1]}")
            target = {"track": track, "clip": clip}
            rest = rest[2:]
        args: dict[str, Any] = {}
        for name, token in zip(KIND_ARGS[kind], rest):
            if name == "direction":
                value = token.partition("=")[2] if token in ZOOM_TOKENS else None
            elif name == "media":
                value = _MEDIA_INDEX.get(token)
            elif name == "to":
                value = _TO_INDEX.get(token) if anchor_clip is None else (
                    None if token not in _MOVE_INDEX else target["clip"] + _MOVE_INDEX[token])
            else:
                value = TOKEN_FRAMES.get(token)
            if value is None:
                raise InvalidAction(f"{kind}: '{token}' is not a value of args.{name}")
            args[name] = value
        return canonical(Action(kind=kind, target=target, args=args))

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        """Out of context: any well-formed action (absolute clips)."""
        if not prefix:
            return [NO_EDIT_TOKEN, *KIND_TOKENS]
        if prefix[0] == NO_EDIT_TOKEN:
            return [EOS] if len(prefix) == 1 else []
        kind = KIND_TOKENS.get(prefix[0])
        if kind is None:
            return []
        slots = ([] if kind in TARGETLESS else [TRACK_TOKENS, CLIP_TOKENS]) + [self._free_slot(kind, name) for name in KIND_ARGS[kind]]
        position = len(prefix) - 1
        if position > len(slots) or any(token not in slots[index] for index, token in enumerate(prefix[1:])):
            return []
        return [EOS] if position == len(slots) else list(slots[position])

    @staticmethod
    def _free_slot(kind: str, name: str) -> list[str]:
        if name == "direction":
            return ZOOM_TOKENS
        if name == "media":
            return MEDIA_TOKENS
        if name == "to":
            return TO_TOKENS
        low = -MAX_FRAMES if kind in SIGNED_KINDS else (0 if name == "in" else 1)
        return [FRAME_TOKENS[step] for step in SIGNED_STEPS if step >= low and not (kind in SIGNED_KINDS and step == 0)]

    def non_edit_start_tokens(self) -> frozenset[str]:
        return frozenset(f"@{kind}" for kind in NON_EDIT_ARGS)

    def is_edit_kind(self, kind: str) -> bool:
        return kind in EDIT_ARGS

    def location(self, action: Action) -> Hashable:
        """``track:clip`` of the action's target."""
        target = action.target if isinstance(action.target, dict) else {}
        return f"{target.get('track')}:{target.get('clip')}"

    def describe(self, action: Action) -> str:
        """The edit in words, its track and item counted from 1 (``track 1 item 5``: item 5 is what ``nep
        video suggest`` calls ``V1 clip 5`` when the first track is V1; ``target`` counts from 0)."""
        target = action.target if isinstance(action.target, dict) else {}
        track, clip = target.get("track"), target.get("clip")
        return edit_text(action, f"track {track + 1} item {clip + 1}" if _is_int(track) and _is_int(clip) else "")


def _counted_from_1(index: object) -> object:
    """An index the args count from 0, as a person counts it (anything else as it is)."""
    return index + 1 if _is_int(index) else index


def edit_text(action: Action, place: str) -> str:
    """``action`` in words, its target named by ``place`` (``track 1 item 5``, ``V1 clip 5 'INT_5'``);
    move positions and bin media counted from 1 (their args count from 0)."""
    if action.is_no_edit:
        return "no edit"
    args = action.args if isinstance(action.args, dict) else {}
    place = place or "(no such item)"
    if action.kind in SIGNED_KINDS:
        frames = args.get("frames", 0)
        return f"{action.kind.replace('_', ' ')} {place} by {f'{frames:+d}' if _is_int(frames) else frames} frames"
    if action.kind == "split":
        return f"split {place} at frame {args.get('offset')}"
    if action.kind == "move":
        return f"move {place} to position {_counted_from_1(args.get('to'))}"
    if action.kind == "insert":
        return f"insert bin media {_counted_from_1(args.get('media'))} ({args.get('frames')} frames from frame {args.get('in')}) at {place}"
    if action.kind == "add_transition":
        return f"add a {args.get('frames')}-frame dissolve after {place}"
    if action.kind == "zoom":
        return f"zoom {args.get('direction')}"
    return f"{action.kind.replace('_', ' ')} {place}"


@dataclass
class BoundVideoSpace(ActionSpace):
    """The video action space on one timeline: clips relative to ``anchor``, only edits that apply."""

    space: VideoActionSpace
    view: TimelineView
    anchor: tuple[int, int]
    name: str = "video"
    version: str = VideoActionSpace.version
    shared: dict = field(default_factory=dict, repr=False, compare=False)
    """What depends on the view alone (where each kind applies), shared by the view's bound spaces."""
    _signature: int | None = field(default=None, init=False, repr=False)

    @property
    def anchor_clip(self) -> int:
        return self.anchor[1]

    def vocabulary(self) -> list[str]:
        return self.space.vocabulary()

    def validate(self, action: Action) -> Action:
        return canonical(action)

    def location(self, action: Action) -> Hashable:
        return self.space.location(action)

    def describe(self, action: Action) -> str:
        return self.space.describe(action)

    def non_edit_start_tokens(self) -> frozenset[str]:
        return self.space.non_edit_start_tokens()

    def encode(self, action: Action) -> list[str]:
        return self.space.write(action, self.anchor_clip)

    def decode(self, tokens: Sequence[str]) -> Action:
        action = self.space.read(tokens, self.anchor_clip)
        if not action.is_no_edit and action.edit:
            tokens = list(tokens)
            for index in range(len(tokens)):
                if tokens[index] not in self.allowed_next(tokens[:index]):
                    raise InvalidAction(f"{action.kind}: '{tokens[index]}' does not apply to this timeline")
        return action

    def grammar_key(self, prefix: Sequence[str]) -> Hashable:
        if self._signature is None:
            self._signature = hash((self.view, self.anchor))
        return (self._signature, tuple(prefix))

    # -- the grammar on this timeline ---------------------------------------------------------------

    def allowed_next(self, prefix: Sequence[str]) -> Collection[str]:
        """What may follow ``prefix`` on this timeline (computed once per prefix: the search asks for
        each prefix it extends, and ``decode`` asks again for every prefix of what it reads)."""
        cache = self.__dict__.setdefault("_allowed_cache", {})
        key = tuple(prefix)
        allowed = cache.get(key)
        if allowed is None:
            allowed = cache[key] = self._allowed_next(key)
        return allowed

    def _allowed_next(self, prefix: tuple[str, ...]) -> list[str]:
        if not prefix:
            kinds = [token for token, kind in KIND_TOKENS.items() if kind in TARGETLESS or self._tracks_for(kind)]
            return [NO_EDIT_TOKEN, *kinds]
        if prefix[0] == NO_EDIT_TOKEN:
            return [EOS] if len(prefix) == 1 else []
        kind = KIND_TOKENS.get(prefix[0])
        if kind is None:
            return []
        if kind in TARGETLESS:
            return self.space.allowed_next(prefix)
        if len(prefix) == 1:
            return [TRACK_TOKENS[track] for track in self._tracks_for(kind)]
        track = _TRACK_INDEX.get(prefix[1])
        if track is None or track not in self._tracks_for(kind):
            return []
        if len(prefix) == 2:
            return [RELATIVE_TOKENS[index - self.anchor_clip] for index in self._items_for(kind, track)
                    if abs(index - self.anchor_clip) <= MAX_ITEMS]
        delta = _RELATIVE_INDEX.get(prefix[2])
        if delta is None or self.anchor_clip + delta not in self._items_for(kind, track):
            return []
        index = self.anchor_clip + delta
        values: list[int] = []
        for position, name in enumerate(KIND_ARGS[kind]):
            choices = self._arg_tokens(kind, track, index, name, values)
            if len(prefix) == 3 + position:
                return choices
            token = prefix[3 + position]
            if token not in choices:
                return []
            values.append(_MOVE_INDEX[token] if name == "to" else _MEDIA_INDEX[token] if name == "media" else TOKEN_FRAMES[token])
        return [EOS] if len(prefix) == 3 + len(KIND_ARGS[kind]) else []

    def _tracks_for(self, kind: str) -> list[int]:
        cache = self.shared.setdefault("tracks", {})
        if kind not in cache:
            cache[kind] = [track for track in range(min(len(self.view.tracks), MAX_TRACKS)) if self._applies_on(kind, track)]
        return cache[kind]

    def _applies_on(self, kind: str, track: int) -> bool:
        """Whether ``kind`` applies to some item of ``track`` (stops at the first)."""
        known = self.shared.get("items", {}).get((kind, track))
        if known is not None:
            return bool(known)
        if kind == "insert":
            return bool(self.view.bin)
        return any(self._applies(kind, track, index) for index in range(min(len(self.view.tracks[track]), MAX_ITEMS + 1)))

    def _items_for(self, kind: str, track: int) -> list[int]:
        """The item indices (positions, for insert) of ``track`` where ``kind`` applies."""
        cache = self.shared.setdefault("items", {})
        key = (kind, track)
        if key not in cache:
            items = self.view.tracks[track]
            if kind == "insert":
                found = list(range(len(items) + 1)) if self.view.bin else []
            else:
                found = [index for index in range(len(items)) if self._applies(kind, track, index)]
            cache[key] = [index for index in found if index <= MAX_ITEMS]
        return cache[key]

    def _applies(self, kind: str, track: int, index: int) -> bool:
        item = self.view.tracks[track][index]
        if kind in ("ripple_delete", "playhead", "select"):
            return True
        if kind == "delete":
            return item.type != ITEM_GAP
        if kind == "move":
            return len(self.view.tracks[track]) > 1
        name = KIND_ARGS[kind][0]
        if name in ("to", "media", "direction"):
            return bool(self._arg_tokens(kind, track, index, name, []))
        start, end = step_span(*self._frame_bounds(kind, self.view.tracks[track], index, name, []))
        if kind in SIGNED_KINDS:  # some step other than 0
            return end - start > 1 or (end - start == 1 and SIGNED_STEPS[start] != 0)
        return end > start

    def _arg_tokens(self, kind: str, track: int, index: int, name: str, earlier: list[int]) -> list[str]:
        """Tokens of argument ``name`` that keep the edit applicable, given the earlier arguments' values."""
        cache = self.shared.setdefault("args", {})
        key = (kind, track, index, name, tuple(earlier))
        tokens = cache.get(key)
        if tokens is None:
            tokens = cache[key] = self._arg_tokens_anew(kind, track, index, name, earlier)
        return tokens

    def _arg_tokens_anew(self, kind: str, track: int, index: int, name: str, earlier: list[int]) -> list[str]:
        items = self.view.tracks[track]
        if name == "to":
            return [MOVE_TOKENS[to - index] for to in range(min(len(items), MAX_ITEMS)) if to != index]
        if name == "media":
            return MEDIA_TOKENS[: len(self.view.bin)]
        if name == "direction":
            return ZOOM_TOKENS
        low, high = self._frame_bounds(kind, items, index, name, earlier)
        if low > high:
            return []
        return [FRAME_TOKENS[step] for step in steps_between(low, high) if not (kind in SIGNED_KINDS and step == 0)]

    def _frame_bounds(self, kind: str, items, index: int, name: str, earlier: list[int]) -> tuple[float, float]:
        unbounded = float(MAX_FRAMES)
        if kind == "insert":
            length = self.view.bin[earlier[0]].duration
            length = unbounded if length is None else length
            if name == "in":
                return 0, length - 1
            return 1, length - earlier[1]
        item = items[index]
        if item.type != ITEM_CLIP:
            return 1, 0
        head = item.source_in if item.head is None else min(item.head, item.source_in)  # never before source frame 0
        tail = unbounded if item.tail is None else item.tail
        if kind == "trim_in":
            return -head, item.duration - item.shortest
        if kind == "trim_out":
            return -(item.duration - item.shortest), tail
        if kind == "slip":
            return -head, tail
        if kind == "split":
            return max(1, item.lead), item.duration - max(1, item.trail)
        following = items[index + 1] if index + 1 < len(items) else None
        if following is None or following.type not in (ITEM_CLIP, ITEM_GAP):
            return 1, 0
        if kind == "roll":
            next_head = (unbounded if following.type == ITEM_GAP else following.source_in if following.head is None
                         else min(following.head, following.source_in))
            return -min(item.duration - item.shortest, next_head), min(tail, following.duration - following.shortest)
        if kind == "add_transition":
            if following.type != ITEM_CLIP or item.transition_after:
                return 1, 0
            return 2, min(item.duration, following.duration)
        return 1, 0


def anchor_of(actions: Sequence[Action], view: TimelineView) -> tuple[int, int]:
    """The (track, clip) of the newest action with a target, kept within the timeline; (0, 0) when none."""
    for action in reversed(actions):
        target = action.target if isinstance(action.target, dict) else None
        if target and _is_int(target.get("track")) and _is_int(target.get("clip")):
            track = min(max(target["track"], 0), max(len(view.tracks) - 1, 0))
            return track, max(target["clip"], 0)
    return 0, 0
