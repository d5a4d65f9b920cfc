"""Timeline edits: each action kind applied to an OTIO timeline with ``RationalTime`` and ``TimeRange``.

``apply_edit(timeline, action)`` returns an edited copy; ``apply_in_place`` edits the timeline
itself; ``edited_track`` copies and edits only the track the action targets (every edit stays in
its track), which is what a check needs. Targets are ``{"track": T, "clip": I}`` (I counts the track's items: clips, gaps, nested
stacks; not transitions). Frame counts are in the timeline's rate; on a clip of another rate an in
or out point moves to the nearest whole frame of the clip's own rate. An edit that cannot be made
raises ``EditError`` naming the field; an edit that can be made but leaves the timeline
inconsistent (a clip past its media) is the verifier's to judge (``timeline_problems``).

======================  =============================  ==================================================
kind                    args                           effect
======================  =============================  ==================================================
trim_in                 frames (+ later, shorter)      the clip's in point moves; the track ripples
trim_out                frames (+ later, longer)       the clip's out point moves; the track ripples
slip                    frames                         the clip shows other media, same length and place
roll                    frames                         the cut after the clip moves: its out and the next
                                                       item's in move together; the track keeps its length
split                   offset (frames from its start) the clip becomes two clips at that frame
delete                  -                              the item becomes a gap of its length (lift)
ripple_delete           -                              the item is removed, later items move up
move                    to (item index after removal)  the item is taken out and put back at ``to``
insert                  media (bin index), in, frames  a clip of that media at item position ``clip``
add_transition          frames                         a dissolve on the cut after the clip, centred
======================  =============================  ==================================================
"""

from __future__ import annotations

import math
from typing import Callable

import opentimelineio as otio

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_video.timeline import (
    RationalTime, TimeRange, bin_reference, is_frame_rate, items_of, media_bin, source_range, timeline_rate, tracks_of,
)


class EditError(InvalidAction):
    """An edit that cannot be made on this timeline (no such clip, a gap where a clip is needed...)."""


def apply_edit(timeline: otio.schema.Timeline, action: Action) -> otio.schema.Timeline:
    """A copy of ``timeline`` with ``action`` applied."""
    edited = timeline.deepcopy()
    apply_in_place(edited, action)
    return edited


def apply_in_place(timeline: otio.schema.Timeline, action: Action) -> None:
    _handler(action)(_Edit(timeline, action))


def edited_track(timeline: otio.schema.Timeline, action: Action) -> tuple[int, otio.schema.Track]:
    """(index, a copy of the track ``action`` targets with the action applied); ``timeline`` is not edited."""
    handler = _handler(action)
    edit = _Edit(timeline, action, copy_track=True)
    handler(edit)
    return edit.track_index, edit.track


def _handler(action: Action) -> Callable[[_Edit], None]:
    handler = EDITS.get(action.kind)
    if handler is None:
        raise EditError(f"'{action.kind}' is not a timeline edit (edits: {', '.join(EDITS)})")
    return handler


class _Edit:
    """One action on one timeline: its target resolved, its numbers read."""

    def __init__(self, timeline: otio.schema.Timeline, action: Action, copy_track: bool = False):
        self.timeline = timeline
        self.action = action
        self.rate = timeline_rate(timeline)
        target = action.target if isinstance(action.target, dict) else {}
        tracks = tracks_of(timeline)
        track_index, index = target.get("track"), target.get("clip")
        if not _is_int(track_index) or not 0 <= track_index < len(tracks):
            raise EditError(f"{action.kind}: target.track {track_index!r} is not a track (the timeline has {len(tracks)})")
        if not _is_int(index):
            raise EditError(f"{action.kind}: target.clip must be a whole number, got {index!r}")
        self.track_index = track_index
        self.track = tracks[track_index].deepcopy() if copy_track else tracks[track_index]
        self.items = items_of(self.track)
        self.index = index

    def number(self, name: str) -> int:
        value = self.action.args.get(name)
        if not _is_int(value):
            raise EditError(f"{self.action.kind}: args.{name} must be a whole number of frames, got {value!r}")
        return value

    def time(self, frames: float) -> RationalTime:
        return RationalTime(frames, self.rate)

    def item(self, index: int | None = None, clip_only: bool = False):
        index = self.index if index is None else index
        if not 0 <= index < len(self.items):
            raise EditError(f"{self.action.kind}: target.clip {index} is not an item of track '{self.track.name}' ({len(self.items)} items)")
        item = self.items[index]
        if clip_only and not isinstance(item, otio.schema.Clip):
            kind = "a gap" if isinstance(item, otio.schema.Gap) else "a nested stack"
            raise EditError(f"{self.action.kind}: target.clip {index} of track '{self.track.name}' is {kind}, not a clip")
        return item

    def child_position(self, item) -> int:
        return next(position for position, child in enumerate(self.track) if child is item)

    def remove(self, item) -> None:
        """Take ``item`` out of the track with the transitions that touch it."""
        position = self.child_position(item)
        doomed = [position]
        if position + 1 < len(self.track) and isinstance(self.track[position + 1], otio.schema.Transition):
            doomed.append(position + 1)
        if position and isinstance(self.track[position - 1], otio.schema.Transition):
            doomed.append(position - 1)
        for child_position in sorted(doomed, reverse=True):
            del self.track[child_position]

    def insert_item(self, index: int, item) -> None:
        """Put ``item`` at item position ``index`` (after any transition that ends the item before)."""
        items = items_of(self.track)
        if index >= len(items):
            self.track.append(item)
            return
        position = self.child_position(items[index])
        if position and isinstance(self.track[position - 1], otio.schema.Transition):
            del self.track[position - 1]  # the transition between the two items no longer has them both
            position -= 1
        self.track.insert(position, item)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _set_range(edit: _Edit, item, start: RationalTime, duration: RationalTime, exact: bool = False) -> None:
    """Give ``item`` the source range ``start`` + ``duration``, in its own rate; on an item of another
    frame rate than the timeline's, an in or out point that moved lands on the nearest whole frame of
    that rate (the same time as near as the item's frames allow: no fraction of a frame). An item
    timed in a time scale (``timeline.is_frame_rate``: AVFoundation's 600 units a second, or seconds)
    has no frames to land on and takes the time exactly; so does one set ``exact`` (the other side of a roll, which
    must move by the very time the first side moved, or the track's length would change)."""
    used = source_range(item)
    rate = used.duration.rate
    old_in, old_out = used.start_time.value_rescaled_to(rate), used.end_time_exclusive().value_rescaled_to(rate)
    new_in, new_out = start.value_rescaled_to(rate), (start + duration).value_rescaled_to(rate)
    if is_frame_rate(rate) and not _same_rate(rate, edit.rate) and not exact:
        new_in = old_in if abs(new_in - old_in) < 1e-9 else _whole(new_in)
        new_out = old_out if abs(new_out - old_out) < 1e-9 else _whole(new_out)
    item.source_range = TimeRange(RationalTime(new_in, rate), RationalTime(new_out - new_in, rate))


def _same_rate(rate: float, other: float) -> bool:
    return abs(rate - other) < 1e-9 * max(1.0, abs(other))


def _whole(frames: float) -> float:
    return float(math.floor(frames + 0.5))


def clip_frames(timeline: otio.schema.Timeline, item, frames: int) -> float | None:
    """``frames`` of the timeline as whole frames of ``item``'s own rate (what an edit moves it by,
    ``_set_range``), or None when the item is at the timeline's rate or timed in a time scale."""
    rate, own = timeline_rate(timeline), source_range(item).duration.rate
    if _same_rate(own, rate) or not is_frame_rate(own):
        return None
    return _whole(RationalTime(frames, rate).value_rescaled_to(own))


def _move_in(edit: _Edit, item, frames: int) -> None:
    used = source_range(item)
    delta = edit.time(frames)
    _set_range(edit, item, used.start_time + delta, used.duration - delta)


def _move_out(edit: _Edit, item, frames: int) -> None:
    used = source_range(item)
    _set_range(edit, item, used.start_time, used.duration + edit.time(frames))


def trim_in(edit: _Edit) -> None:
    _move_in(edit, edit.item(clip_only=True), edit.number("frames"))


def trim_out(edit: _Edit) -> None:
    _move_out(edit, edit.item(clip_only=True), edit.number("frames"))


def slip(edit: _Edit) -> None:
    item = edit.item(clip_only=True)
    used = source_range(item)
    _set_range(edit, item, used.start_time + edit.time(edit.number("frames")), used.duration)


def roll(edit: _Edit) -> None:
    item, following = edit.item(clip_only=True), edit.item(edit.index + 1)
    if isinstance(following, otio.schema.Stack):
        raise EditError(f"roll: target.clip {edit.index + 1} of track '{edit.track.name}' is a nested stack; roll needs a clip or gap after the cut")
    frames = edit.number("frames")
    if _other_rate(edit, following) and not _other_rate(edit, item):
        # the cut lands on a whole frame of the following clip's own rate, and the item before takes that very time
        started = source_range(following).start_time
        _move_in(edit, following, frames)
        moved = source_range(following).start_time - started
        used = source_range(item)
        _set_range(edit, item, used.start_time, used.duration + moved, exact=True)
        return
    before = source_range(item).duration
    _move_out(edit, item, frames)
    moved = source_range(item).duration - before  # what the cut moved by: whole frames of the item's own rate
    used = source_range(following)
    start = used.start_time if isinstance(following, otio.schema.Gap) else used.start_time + moved
    _set_range(edit, following, start, used.duration - moved, exact=True)


def _other_rate(edit: _Edit, item) -> bool:
    """Whether ``item`` is a clip of another frame rate than the timeline's (its points land on its own whole frames)."""
    rate = source_range(item).duration.rate
    return not isinstance(item, otio.schema.Gap) and is_frame_rate(rate) and not _same_rate(rate, edit.rate)


def split(edit: _Edit) -> None:
    item = edit.item(clip_only=True)
    offset = edit.number("offset")
    used = source_range(item)
    cut = edit.time(offset)
    if offset <= 0 or cut >= used.duration:
        raise EditError(f"split: args.offset {offset} is not inside the clip ({used.duration.value_rescaled_to(edit.rate):g} frames)")
    second = item.deepcopy()
    _set_range(edit, item, used.start_time, cut)
    _set_range(edit, second, used.start_time + cut, used.duration - cut)
    edit.track.insert(edit.child_position(item) + 1, second)  # a transition after the clip now follows the second half


def delete(edit: _Edit) -> None:
    item = edit.item()
    if isinstance(item, otio.schema.Gap):
        raise EditError(f"delete: target.clip {edit.index} of track '{edit.track.name}' is already a gap")
    gap = otio.schema.Gap(source_range=TimeRange(RationalTime(0, edit.rate), source_range(item).duration.rescaled_to(edit.rate)))
    edit.remove(item)
    edit.insert_item(edit.index, gap)


def ripple_delete(edit: _Edit) -> None:
    edit.remove(edit.item())


def move(edit: _Edit) -> None:
    item = edit.item()
    to = edit.number("to")
    if not 0 <= to < len(edit.items) or to == edit.index:
        raise EditError(f"move: args.to {to} must be another item position of track '{edit.track.name}' (0..{len(edit.items) - 1})")
    edit.remove(item)
    edit.insert_item(to, item)


def insert(edit: _Edit) -> None:
    if not 0 <= edit.index <= len(edit.items):
        raise EditError(f"insert: target.clip {edit.index} is not a position of track '{edit.track.name}' (0..{len(edit.items)})")
    entries = media_bin(edit.timeline)
    media = edit.number("media")
    if not 0 <= media < len(entries):
        raise EditError(f"insert: args.media {media} is not in the media bin ({len(entries)} media)")
    reference, name = bin_reference(edit.timeline, media)
    start, frames = edit.number("in"), edit.number("frames")
    if start < 0 or frames <= 0:
        raise EditError(f"insert: args.in must be >= 0 and args.frames > 0, got {start} and {frames}")
    origin = RationalTime(0, edit.rate) if reference.available_range is None else reference.available_range.start_time
    clip = otio.schema.Clip(name=name, media_reference=reference,
                            source_range=TimeRange(origin + edit.time(start), edit.time(frames).rescaled_to(origin.rate)))
    edit.insert_item(edit.index, clip)


def add_transition(edit: _Edit) -> None:
    item = edit.item(clip_only=True)
    edit.item(edit.index + 1, clip_only=True)  # a clip must follow the cut
    position = edit.child_position(item)
    if isinstance(edit.track[position + 1], otio.schema.Transition):
        raise EditError(f"add_transition: the cut after target.clip {edit.index} of track '{edit.track.name}' already has a transition")
    frames = edit.number("frames")
    if frames <= 0:
        raise EditError(f"add_transition: args.frames must be > 0, got {frames}")
    half = frames // 2
    transition = otio.schema.Transition(name="Dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                        in_offset=edit.time(half), out_offset=edit.time(frames - half))
    edit.track.insert(position + 1, transition)


EDITS: dict[str, Callable[[_Edit], None]] = {
    "trim_in": trim_in, "trim_out": trim_out, "slip": slip, "roll": roll, "split": split, "delete": delete,
    "ripple_delete": ripple_delete, "move": move, "insert": insert, "add_transition": add_transition,
}
