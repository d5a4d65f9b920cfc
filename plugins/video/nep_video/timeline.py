"""OTIO timelines as NEP sees them: tracks, their items, frame arithmetic in the timeline's rate, problems.

Locations count a track's *items*: its children other than transitions (clips, gaps, nested stacks),
from 0. Frame counts are in the timeline's rate (``timeline_rate``): a clip of another rate (mixed
rates) is trimmed by the same time, rescaled with ``RationalTime``.
"""

from __future__ import annotations

from dataclasses import dataclass

import opentimelineio as otio

RationalTime = otio.opentime.RationalTime
TimeRange = otio.opentime.TimeRange
DEFAULT_RATE = 24.0

ITEM_CLIP, ITEM_GAP, ITEM_STACK = "clip", "gap", "stack"


def tracks_of(timeline: otio.schema.Timeline) -> list[otio.schema.Track]:
    """The timeline's tracks in order (top-level children that are tracks)."""
    return [child for child in timeline.tracks if isinstance(child, otio.schema.Track)]


def items_of(track: otio.schema.Track) -> list:
    """The track's items: its children other than transitions."""
    return [child for child in track if not isinstance(child, otio.schema.Transition)]


def item_type(item) -> str:
    if isinstance(item, otio.schema.Clip):
        return ITEM_CLIP
    if isinstance(item, otio.schema.Gap):
        return ITEM_GAP
    return ITEM_STACK


FRAME_RATES = (8.0, 240.0)
"""Rates (exclusive, inclusive) taken for a frame rate. Others are time scales (AVFoundation writes
times at 1, 600 or 24000 units a second), not frames."""


def is_frame_rate(rate: float) -> bool:
    return FRAME_RATES[0] < rate <= FRAME_RATES[1]


def timeline_rate(timeline: otio.schema.Timeline) -> float:
    """The edit rate: the global start time's rate, else the first clip's, else 24; a rate that is a
    time scale rather than a frame rate (``is_frame_rate``) is passed over."""
    start = timeline.global_start_time
    if start is not None and is_frame_rate(start.rate):
        return float(start.rate)
    for clip in timeline.find_clips():
        if clip.source_range is not None and is_frame_rate(clip.source_range.duration.rate):
            return float(clip.source_range.duration.rate)
    return DEFAULT_RATE


def to_frames(time: RationalTime, rate: float) -> float:
    """``time`` as a (possibly fractional) frame count at ``rate``."""
    return time.value_rescaled_to(rate)


def frames_time(frames: float, rate: float) -> RationalTime:
    return RationalTime(frames, rate)


def available_range(item) -> TimeRange | None:
    """The media range a clip may use, or None when its media does not say (missing media range)."""
    if not isinstance(item, otio.schema.Clip):
        return None
    reference = item.media_reference
    return None if reference is None else reference.available_range


def source_range(item) -> TimeRange:
    """The part of the item's source the track plays (a gap or stack without one: its whole length)."""
    if item.source_range is not None:
        return item.source_range
    if isinstance(item, otio.schema.Clip):
        available = available_range(item)
        if available is None:
            raise ValueError("no source_range and no available_range")
        return available
    return item.trimmed_range()


def media_key(item) -> str:
    """What identifies a clip's media: its target URL, else the reference's or the clip's name."""
    reference = getattr(item, "media_reference", None)
    url = getattr(reference, "target_url", "") or ""
    if url:
        return url
    if reference is not None and reference.name:
        return reference.name
    return item.name or ""


@dataclass(frozen=True)
class ItemView:
    """One item as the grammar and the encoder see it, in timeline frames (rounded)."""

    type: str
    name: str
    duration: int
    head: int | None
    """Frames of media before the in point (None: unknown, the media range is missing)."""
    tail: int | None
    media: str
    lead: int = 0
    """Frames of a transition before the item that lie on it (the transition's out_offset)."""
    trail: int = 0
    """Frames of a transition after the item that lie on it (the transition's in_offset)."""

    @property
    def transition_after(self) -> bool:
        return self.trail > 0

    @property
    def shortest(self) -> int:
        """The shortest the item may become: a frame, and no shorter than the transitions on it."""
        return max(1, self.lead, self.trail)


@dataclass(frozen=True)
class BinEntry:
    """One media of the bin: what ``insert`` can put on the timeline."""

    name: str
    key: str
    duration: int | None


@dataclass(frozen=True)
class TimelineView:
    """A light picture of a timeline: per track, its items; the media bin; the rate."""

    rate: float
    tracks: tuple[tuple[ItemView, ...], ...]
    bin: tuple[BinEntry, ...]

    def item(self, track: int, index: int) -> ItemView | None:
        if 0 <= track < len(self.tracks) and 0 <= index < len(self.tracks[track]):
            return self.tracks[track][index]
        return None


def view_of(timeline: otio.schema.Timeline) -> TimelineView:
    rate = timeline_rate(timeline)
    tracks = []
    for track in tracks_of(timeline):
        items = []
        children = list(track)
        for position, child in enumerate(children):
            if isinstance(child, otio.schema.Transition):
                continue
            before = children[position - 1] if position else None
            after = children[position + 1] if position + 1 < len(children) else None
            lead = round(to_frames(before.out_offset, rate)) if isinstance(before, otio.schema.Transition) else 0
            trail = round(to_frames(after.in_offset, rate)) if isinstance(after, otio.schema.Transition) else 0
            items.append(_item_view(child, rate, lead, trail))
        tracks.append(tuple(items))
    return TimelineView(rate, tuple(tracks), tuple(media_bin(timeline)))


def _item_view(item, rate: float, lead: int, trail: int) -> ItemView:
    used = source_range(item)
    duration = round(to_frames(used.duration, rate))
    head = tail = None
    available = available_range(item)
    if available is not None:
        head = round(to_frames(used.start_time - available.start_time, rate))
        tail = round(to_frames(available.end_time_exclusive() - used.end_time_exclusive(), rate))
    return ItemView(item_type(item), item.name or "", duration, head, tail, media_key(item) if isinstance(item, otio.schema.Clip) else "", lead, trail)


BIN_METADATA = "nep_bin"
"""``timeline.metadata[BIN_METADATA]``: media in the project's bin beyond those on the timeline, each
``{"name", "url", "start", "duration", "rate"}``."""
MAX_BIN = 64


def media_bin(timeline: otio.schema.Timeline) -> list[BinEntry]:
    """The media ``insert`` may use, by index: the bin metadata's, then each media on the timeline in
    order of first use (at most MAX_BIN)."""
    rate = timeline_rate(timeline)
    entries: dict[str, BinEntry] = {}
    for record in bin_records(timeline):
        entries.setdefault(record["url"], BinEntry(record["name"], record["url"], round(record["duration"] * rate / record["rate"])))
    for clip in timeline.find_clips():
        key = media_key(clip)
        if key and key not in entries:
            available = available_range(clip)
            duration = None if available is None else round(to_frames(available.duration, rate))
            entries[key] = BinEntry(clip.name or key, key, duration)
    return list(entries.values())[:MAX_BIN]


def bin_records(timeline: otio.schema.Timeline) -> list[dict]:
    records = timeline.metadata.get(BIN_METADATA) or []
    return [dict(record) for record in records]


def bin_reference(timeline: otio.schema.Timeline, index: int):
    """A fresh media reference for bin entry ``index`` (and the entry's name)."""
    entry = media_bin(timeline)[index]
    for record in bin_records(timeline):
        if record["url"] == entry.key:
            available = TimeRange(RationalTime(record["start"], record["rate"]), RationalTime(record["duration"], record["rate"]))
            return otio.schema.ExternalReference(target_url=record["url"], available_range=available), record["name"]
    for clip in timeline.find_clips():
        if media_key(clip) == entry.key:
            return clip.media_reference.deepcopy(), clip.name
    raise IndexError(index)


def timeline_problems(timeline: otio.schema.Timeline) -> list[str]:
    """What makes the timeline inconsistent: zero or negative durations, clips outside their media,
    transitions without two clips around them or longer than them. Empty when it is consistent."""
    rate = timeline_rate(timeline)
    return [problem for index, track in enumerate(tracks_of(timeline)) for problem in track_problems(track, index, rate)]


def track_problems(track: otio.schema.Track, track_index: int, rate: float) -> list[str]:
    """``timeline_problems`` of one track (track ``track_index`` of a timeline at ``rate``)."""
    problems = []
    children = list(track)
    name = track.name or f"track {track_index}"
    for position, child in enumerate(children):
        where = f"{name} item {position} ('{child.name}')"
        if isinstance(child, otio.schema.Transition):
            before = children[position - 1] if position else None
            after = children[position + 1] if position + 1 < len(children) else None
            if before is None or after is None or isinstance(before, otio.schema.Transition) or isinstance(after, otio.schema.Transition):
                problems.append(f"{where}: a transition needs an item on each side")
                continue
            if child.in_offset > source_range(before).duration or child.out_offset > source_range(after).duration:
                problems.append(f"{where}: the transition is longer than the clips around it")
            continue
        try:
            used = source_range(child)
        except ValueError as error:
            problems.append(f"{where}: {error}")
            continue
        if to_frames(used.duration, rate) <= 1e-6:
            problems.append(f"{where}: duration {to_frames(used.duration, rate):g} frames is not positive")
        available = available_range(child)
        if available is not None and (used.start_time < available.start_time - RationalTime(1e-6, rate)
                                      or used.end_time_exclusive() > available.end_time_exclusive() + RationalTime(1e-6, rate)):
            problems.append(f"{where}: source_range leaves the media's available_range")
    return problems
