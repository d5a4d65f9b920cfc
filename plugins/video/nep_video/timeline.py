"""OTIO timelines as NEP sees them: tracks, their items, frame arithmetic in the timeline's rate, problems.

Locations count a track's *items*: its children other than transitions (clips, gaps, nested stacks),
from 0. Frame counts are in the timeline's rate (``timeline_rate``): a clip of another rate (mixed
rates) is trimmed by the same time, rescaled with ``RationalTime``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import opentimelineio as otio

from nep_core.actions import is_finite_number

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


UNKNOWN_LENGTH = (ValueError, otio.exceptions.OTIOError)
"""What ``source_range`` raises for an item whose length is unknown (OTIO's for a nested stack)."""


def source_range(item) -> TimeRange:
    """The part of the item's source the track plays (a gap or stack without one: its whole length)."""
    if item.source_range is not None:
        return item.source_range
    if isinstance(item, otio.schema.Clip):
        available = available_range(item)
        if available is None:
            raise ValueError("no source_range and no media available_range; its length is unknown")
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


def timeline_problems(timeline: otio.schema.Timeline, strict: bool = True) -> list[str]:
    """What makes the timeline inconsistent: times that are not finite numbers at a sane rate, zero or
    negative durations, transitions longer than the items around them, the same inside nested stacks,
    and unless not ``strict`` what real timelines may hold: clips outside their media, transitions
    at a track's ends (fades) or beside another. Empty when it is consistent."""
    rate = timeline_rate(timeline)
    return [problem for index, track in enumerate(tracks_of(timeline)) for problem in track_problems(track, index, rate, strict)]


def unusable(timeline: otio.schema.Timeline) -> list[str]:
    """What keeps NEP from using the timeline at all, each as ``FIELD: reason``: no tracks, a name that
    is not text, a bad bin record, and the ``timeline_problems`` real timelines do not have (the
    verifier judges an edit by the problems it adds)."""
    if _name(timeline) is None:
        return ["name: not UTF-8 text"]
    if not tracks_of(timeline):
        return [f"tracks: none (timeline '{timeline.name}' has no tracks)"]
    return bin_problems(timeline.metadata.get(BIN_METADATA)) + timeline_problems(timeline, strict=False)


def track_problems(track: otio.schema.Track, track_index: int, rate: float, strict: bool = True) -> list[str]:
    """``timeline_problems`` of one track (track ``track_index`` of a timeline at ``rate``)."""
    return _composition_problems(track, f"tracks[{track_index}] ('{_name(track) or ''}')", rate, strict)


def _composition_problems(composition, label: str, rate: float, strict: bool) -> list[str]:
    """A track's problems, or a nested stack's: those of each of its tracks (or items)."""
    own = item_problems(composition)
    if own:
        return [f"{label}: {problem}" for problem in own]
    if isinstance(composition, otio.schema.Stack):
        return [problem for number, layer in enumerate(composition)
                for problem in (_composition_problems(layer, f"{label} > tracks[{number}] ('{_name(layer) or ''}')", rate, strict)
                                if isinstance(layer, otio.schema.Track) else _sequence_problems([layer], f"{label} >", rate, strict))]
    return _sequence_problems(list(composition), label, rate, strict)


def _sequence_problems(children: list, label: str, rate: float, strict: bool) -> list[str]:
    problems = []
    for position, child in enumerate(children):
        where = f"{label} item {position} ('{_name(child) or ''}')"
        own = item_problems(child)
        if own:
            problems += [f"{where}: {problem}" for problem in own]
            continue
        if isinstance(child, otio.schema.Transition):
            before = children[position - 1] if position else None
            after = children[position + 1] if position + 1 < len(children) else None
            if before is None or after is None or isinstance(before, otio.schema.Transition) or isinstance(after, otio.schema.Transition):
                if strict:  # OTIO's own sample transition_test.otio fades in and out at a track's ends
                    problems.append(f"{where}: a transition needs an item on each side")
                continue
            try:
                if child.in_offset > source_range(before).duration or child.out_offset > source_range(after).duration:
                    problems.append(f"{where}: the transition is longer than the clips around it")
            except UNKNOWN_LENGTH:
                pass  # the neighbour's own problem is reported with it
            continue
        if isinstance(child, otio.schema.Stack):
            inner = _composition_problems(child, where, rate, strict)
            if inner:
                problems += inner
                continue
        try:
            used = source_range(child)
        except UNKNOWN_LENGTH as error:
            problems.append(f"{where}: {error}")
            continue
        if not to_frames(used.duration, rate) > 1e-6:
            problems.append(f"{where}: duration {to_frames(used.duration, rate):g} frames is not positive")
        available = available_range(child)
        if strict and available is not None and (used.start_time < available.start_time - RationalTime(1e-6, rate)
                                                or used.end_time_exclusive() > available.end_time_exclusive() + RationalTime(1e-6, rate)):
            problems.append(f"{where}: source_range leaves the media's available_range")
    return problems


RATES = (1.0, 1e9)
"""The rates a time may have: frame rates, and time scales such as AVFoundation's 600 or 24000 units a second."""
MAX_SECONDS = 1e9
"""The furthest from zero a time may lie (about 31 years)."""


def is_time_rate(rate) -> bool:
    return is_finite_number(rate) and RATES[0] <= rate <= RATES[1]


def time_problem(value, rate, field: str, rate_field: str, negative: bool = True) -> str | None:
    """Why ``value`` (``field``) at ``rate`` (``rate_field``) is not a usable time: a value that is not
    a finite number (or is negative, unless ``negative``), a rate outside ``RATES``; None when it is one."""
    if not is_time_rate(rate):
        return f"{rate_field}: {rate!r} is not a frame rate or a time scale ({RATES[0]:g} to {RATES[1]:g})"
    if not is_finite_number(value) or abs(value / rate) > MAX_SECONDS:
        return f"{field}: {value!r} is not a finite time"
    if not negative and value < 0:
        return f"{field}: {value!r} is negative"
    return None


def item_problems(item) -> list[str]:
    """What makes one item's own fields unusable: a name or media URL that is not text, a time that
    ``time_problem`` refuses (a source or media range, a transition's offsets)."""
    reference = getattr(item, "media_reference", None)
    if _name(item) is None or reference is not None and (_name(reference) is None or _name(reference, "target_url") is None):
        return ["a name or media URL is not UTF-8 text"]
    if isinstance(item, otio.schema.Transition):
        times = [("in_offset", item.in_offset, False), ("out_offset", item.out_offset, False)]
    else:
        times = []  # a source_range's length is judged in frames by ``track_problems``
        for field, ranged, negative in (("source_range", item.source_range, True), ("media available_range", available_range(item), False)):
            if ranged is not None:
                times += [(f"{field}.start_time", ranged.start_time, True), (f"{field}.duration", ranged.duration, negative)]
    found = (time_problem(time.value, time.rate, f"{field}.value", f"{field}.rate", negative) for field, time, negative in times)
    return [problem for problem in found if problem]


def _name(item, field: str = "name") -> str | None:
    """``item.name`` (or another text field), None when OTIO cannot return it as text (bytes that are not UTF-8)."""
    try:
        return getattr(item, field, "")
    except (TypeError, UnicodeDecodeError):
        return None


def bin_problems(records) -> list[str]:
    """What is wrong with bin records (``timeline.metadata[BIN_METADATA]``), as ``bin[I].FIELD: ...``."""
    if records is None:
        return []
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence):
        return [f"bin: must be a list of media records, got {type(records).__name__}"]
    problems = []
    for index, record in enumerate(records):
        where = f"bin[{index}]"
        if not isinstance(record, Mapping):
            problems.append(f"{where}: must be an object, got {record!r}"[:200])
            continue
        missing = [field for field in ("name", "url", "start", "duration", "rate") if field not in record]
        if missing:
            problems.append(f"{where}.{missing[0]}: missing")
        elif not isinstance(record["name"], str) or not isinstance(record["url"], str) or not record["url"]:
            problems.append(f"{where}: name and url must be text (url not empty)")
        else:
            problem = (time_problem(record["start"], record["rate"], f"{where}.start", f"{where}.rate")
                       or time_problem(record["duration"], record["rate"], f"{where}.duration", f"{where}.rate", negative=False))
            if problem:
                problems.append(problem)
    return problems
