"""OTIO timelines as NEP sees them: tracks, their items, frame arithmetic in the timeline's rate, problems.

Locations count a track's *items*: its children other than transitions (clips, gaps, nested stacks),
from 0. Frame counts are in the timeline's rate (``timeline_rate``, chosen by ``rate_choice``): a clip
of another rate (mixed rates) is trimmed by the same time, rescaled with ``RationalTime``, to the
nearest whole frame of its own rate (``edits._set_range``).
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class RateChoice:
    """The timeline's edit rate and where it came from (``source``): ``"start"``, the global start
    time's rate; ``"declared"``, the sequence rate an FCP XML file declares; ``"clips"``, the frame
    rate most of its clips' media are at (``rates``: every frame rate they have); ``"default"``:
    ``DEFAULT_RATE``, no frame rate found (``passed_over``: the rates seen that are not frame rates)."""

    rate: float
    source: str
    rates: tuple[float, ...] = ()
    passed_over: tuple[float, ...] = ()


def rate_choice(timeline: otio.schema.Timeline) -> RateChoice:
    """The edit rate (``timeline_rate``) and why: the global start time's rate, else the rate the file
    declares (FCP XML's sequence rate), else the frame rate most of the clips' media are at (each media
    counted once, by its address or else the clip's name, and weighed by its available length where every
    media has one; the first met wins a tie), else 24: what no
    trim, slip, roll or split changes, so a session's frames keep one rate (summing the clips' time
    made a 2-frame trim switch 24 fps to 25). A rate that is a time scale rather than a frame rate
    (``is_frame_rate``: 8 to 240 fps) is passed over."""
    passed_over: list[float] = []
    start = timeline.global_start_time
    if start is not None:
        if is_frame_rate(start.rate):
            return RateChoice(float(start.rate), "start")
        passed_over.append(float(start.rate))
    declared = _declared_rate(timeline)
    if declared is not None:
        return RateChoice(declared, "declared")
    media: dict[float, dict[str, float | None]] = {}
    exact: dict[float, float] = {}
    for clip in timeline.find_clips():
        used = clip.source_range
        if used is None or not is_finite_number(used.duration.rate):
            continue
        rate = float(used.duration.rate)
        if not is_frame_rate(rate):
            if rate not in passed_over:
                passed_over.append(rate)
            continue
        key = round(rate, 3)
        exact.setdefault(key, rate)
        address = getattr(clip.media_reference, "target_url", None)
        name = address if isinstance(address, str) and address else f"clip:{clip.name}"
        available = getattr(clip.media_reference, "available_range", None)
        length = available.duration.to_seconds() if available is not None else None
        media.setdefault(key, {})[name] = length if length is not None and is_finite_number(length) and length > 0 else None
    if media:
        lengths = [length for by_name in media.values() for length in by_name.values()]
        if all(length is not None for length in lengths):  # each media weighed by its length: one long take outweighs short b-roll
            best = max(media, key=lambda key: sum(media[key].values()))  # max keeps the first met of equal ones
        else:
            best = max(media, key=lambda key: len(media[key]))
        return RateChoice(exact[best], "clips", tuple(exact.values()))
    return RateChoice(DEFAULT_RATE, "default", passed_over=tuple(passed_over))


def _declared_rate(timeline: otio.schema.Timeline) -> float | None:
    """The sequence rate an FCP XML file declares (``<rate><timebase>``, ``<ntsc>``), kept by its reader."""
    try:
        declared = timeline.metadata.get("fcp_xml", {}).get("rate", {})
        timebase = float(declared.get("timebase"))
        ntsc = str(declared.get("ntsc", "")).upper() == "TRUE"
    except (AttributeError, TypeError, ValueError):
        return None
    rate = timebase * 1000 / 1001 if ntsc else timebase
    return rate if is_frame_rate(rate) else None


def timeline_rate(timeline: otio.schema.Timeline) -> float:
    """The edit rate frame counts are in (``rate_choice``)."""
    return rate_choice(timeline).rate


def rate_text(rate: float) -> str:
    """A rate as editors write it: 23.976, 29.97, 59.94, 25."""
    return f"{round(rate, 3):g}"


def rate_note(timeline: otio.schema.Timeline) -> str | None:
    """One line saying which rate NEP counts frames at when the file does not settle it (several clip
    rates and no declared one, or no frame rate at all), else None."""
    choice = rate_choice(timeline)
    if choice.source == "clips" and len(choice.rates) > 1:
        rates = " and ".join(rate_text(rate) for rate in choice.rates)
        return (f"no start timecode or sequence rate says the timeline's frame rate, and its clips are at {rates} fps; "
                f"frame counts are at {rate_text(choice.rate)} fps, the rate most of their media are at")
    if choice.source == "default" and choice.passed_over:
        rates = ", ".join(f"{rate:g}" for rate in choice.passed_over)
        return (f"no frame rate NEP takes ({FRAME_RATES[0]:g} to {FRAME_RATES[1]:g} fps): its times are at {rates} units a second; "
                f"frame counts are at {rate_text(DEFAULT_RATE)} fps")
    return None


TIMECODE_METADATA = "nep_timecode"
"""``timeline.metadata[TIMECODE_METADATA]``: ``"DF"`` or ``"NDF"``, the timecode an EDL's ``FCM`` line
(or its timecodes) said it was in, kept so NEP shows and writes the same."""


def drop_frame(timeline: otio.schema.Timeline) -> bool | None:
    """Whether the file's timecode is drop-frame: an EDL's ``FCM`` (``TIMECODE_METADATA``), FCP XML's
    ``<displayformat>``; None when it does not say (then OTIO infers it from the rate: 29.97 and
    59.94 are drop-frame)."""
    try:
        said = timeline.metadata.get(TIMECODE_METADATA)
        if said is None:
            said = timeline.metadata.get("fcp_xml", {}).get("timecode", {}).get("displayformat")
    except (AttributeError, TypeError):
        return None
    return {"DF": True, "NDF": False}.get(str(said).upper()) if said is not None else None


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
    source_in: int = 0
    """A clip's in point in its media, in whole frames from source frame 0: the furthest a trim or
    slip may move it earlier (a source in point is never negative)."""

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
    is_clip = isinstance(item, otio.schema.Clip)
    source_in = math.floor(to_frames(used.start_time, rate) + 1e-6) if is_clip else 0
    return ItemView(item_type(item), item.name or "", duration, head, tail, media_key(item) if is_clip else "", lead, trail, source_in)


BIN_METADATA = "nep_bin"
"""``timeline.metadata[BIN_METADATA]``: media in the project's bin beyond those on the timeline, each
``{"name", "url", "start", "duration", "rate"}`` (``duration`` null: the media's length is unknown, as in an EDL)."""
MAX_BIN = 64


def media_bin(timeline: otio.schema.Timeline) -> list[BinEntry]:
    """The media ``insert`` may use, by index: the bin metadata's, then each media on the timeline in
    order of first use (at most MAX_BIN)."""
    rate = timeline_rate(timeline)
    entries: dict[str, BinEntry] = {}
    for record in bin_records(timeline):
        duration = None if record["duration"] is None else round(record["duration"] * rate / record["rate"])
        entries.setdefault(record["url"], BinEntry(record["name"], record["url"], duration))
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


def media_records(timeline: otio.schema.Timeline) -> list[dict]:
    """Bin records of all the media ``timeline`` holds, in ``media_bin``'s order: its bin records', then
    each clip's media in order of first use."""
    records = {record["url"]: record for record in bin_records(timeline)}
    for clip in timeline.find_clips():
        key = media_key(clip)
        if key and key not in records:
            available = available_range(clip)
            rate = (available or source_range(clip)).duration.rate
            records[key] = {"name": clip.name or key, "url": key, "rate": rate,
                            "start": 0 if available is None else available.start_time.value_rescaled_to(rate),
                            "duration": None if available is None else available.duration.value}
    return list(records.values())


def bin_reference(timeline: otio.schema.Timeline, index: int):
    """A fresh media reference for bin entry ``index`` (and the entry's name)."""
    entry = media_bin(timeline)[index]
    for record in bin_records(timeline):
        if record["url"] == entry.key:
            available = (None if record["duration"] is None else
                         TimeRange(RationalTime(record["start"], record["rate"]), RationalTime(record["duration"], record["rate"])))
            return otio.schema.ExternalReference(target_url=record["url"], available_range=available), record["name"]
    for clip in timeline.find_clips():
        if media_key(clip) == entry.key:
            return clip.media_reference.deepcopy(), clip.name
    raise IndexError(index)


class Problem(str):
    """One ``timeline_problems`` problem: its text (which names the item by its position, as errors
    do), and what it is whatever the position: ``key`` (the track, the names of the items it lies in,
    the item's type, name and media, and the kind of problem) and ``excess`` (how far out, in frames:
    how far a clip lies outside its media or before source frame 0, how much longer a transition is
    than its clips). Two versions of a timeline have the same problem when key and excess are the
    same (``verifier.added_problem``), wherever the item moved."""

    key: tuple
    excess: float

    def __new__(cls, text: str, key: tuple | None = None, excess: float = 0.0):
        problem = super().__new__(cls, text)
        problem.key = (text,) if key is None else key
        problem.excess = excess
        return problem

    def __reduce__(self):
        return (Problem, (str(self), self.key, self.excess))


def timeline_problems(timeline: otio.schema.Timeline, strict: bool = True) -> list[Problem]:
    """What makes the timeline inconsistent: times that are not finite numbers at a sane rate, zero or
    negative durations, transitions longer than the items around them, the same inside nested stacks,
    and unless not ``strict`` what real timelines may hold: clips outside their media or before
    source frame 0, transitions at a track's ends (fades) or beside another. Empty when it is consistent."""
    rate = timeline_rate(timeline)
    tracks = tracks_of(timeline)
    return [problem for index, track in enumerate(tracks) for problem in track_problems(track, index, track_label(tracks, index), rate, strict)]


def unusable(timeline: otio.schema.Timeline) -> list[str]:
    """What keeps NEP from using the timeline at all, each as ``FIELD: reason``: no tracks, a name that
    is not text, a bad bin record, and the ``timeline_problems`` real timelines do not have (the
    verifier judges an edit by the problems it adds)."""
    if _name(timeline) is None:
        return ["name: not UTF-8 text"]
    if not tracks_of(timeline):
        return [f"tracks: none (timeline '{timeline.name}' has no tracks)"]
    return bin_problems(timeline.metadata.get(BIN_METADATA)) + timeline_problems(timeline, strict=False)


def track_problems(track: otio.schema.Track, track_index: int, label: str, rate: float, strict: bool = True) -> list[Problem]:
    """``timeline_problems`` of one track (track ``track_index`` of a timeline at ``rate``, named ``label``: ``track_label``)."""
    return _composition_problems(track, label, ("track", track_index), rate, strict)


def track_label(tracks: list, index: int) -> str:
    """The track's name, else V1, V2... / A1, A2... as editors number them (also for the bare ``V`` the
    EDL reader names an EDL's video track)."""
    track = tracks[index]
    name = shown_name(track)
    if name and name not in ("V", "A"):
        return name
    letter = "A" if track.kind == otio.schema.TrackKind.Audio else "V"
    return f"{letter}{sum(other.kind == track.kind for other in tracks[: index + 1])}"


def item_name(item, number: int) -> str:
    """``clip N 'NAME'``, ``gap N``, ``stack N 'NAME'``: the item as ``nep video suggest`` names it, N
    counting its track's items (clips, gaps, nested stacks; not transitions) from 1."""
    if isinstance(item, otio.schema.Gap):
        return f"gap {number}"
    kind = "clip" if isinstance(item, otio.schema.Clip) else "stack" if isinstance(item, otio.schema.Stack) else "item"
    return f"{kind} {number} '{shown_name(item)}'"


def child_name(children: list, position: int) -> str:
    """``item_name`` of ``children[position]`` (a track's children, transitions among them), or for a
    transition ``transition 'NAME' after clip N 'A'`` (``at the start`` when no item is before it)."""
    items = [child for child in children[: position + 1] if not isinstance(child, otio.schema.Transition)]
    child = children[position]
    if not isinstance(child, otio.schema.Transition):
        return item_name(child, len(items))
    named = f"transition '{shown_name(child)}'" if shown_name(child) else "transition"
    return f"{named} after {item_name(items[-1], len(items))}" if items else f"{named} at the start"


def _problem(where: str, key: tuple, kind: str, text: str, excess: float = 0.0) -> Problem:
    return Problem(f"{where}: {text}", (*key, kind), excess)


def _item_key(child) -> tuple:
    """What names an item whatever its position: its type, name and media."""
    try:
        media = media_key(child) if isinstance(child, otio.schema.Clip) else ""
    except (TypeError, UnicodeDecodeError):  # not UTF-8: ``item_problems`` says so
        media = ""
    return (type(child).__name__, _name(child) or "", media)


def _composition_problems(composition, label: str, key: tuple, rate: float, strict: bool) -> list[Problem]:
    """A track's problems, or a nested stack's: those of each of its tracks (or items)."""
    own = item_problems(composition)
    if own:
        return [_problem(label, key, f"own:{problem}", problem) for problem in own]
    if isinstance(composition, otio.schema.Stack):
        problems = []
        for number, layer in enumerate(composition):
            if isinstance(layer, otio.schema.Track):
                problems += _composition_problems(layer, f"{label} > {_name(layer) or f'track {number + 1}'}",
                                                  (*key, ("layer", number, _name(layer) or "")), rate, strict)
            else:
                problems += _sequence_problems([layer], f"{label} >", (*key, ("layer", number)), rate, strict)
        return problems
    return _sequence_problems(list(composition), label, key, rate, strict)


def _frames_text(frames: float) -> str:
    return f"{round(frames, 3):g} frame{'' if round(frames, 3) == 1 else 's'}"


def _sequence_problems(children: list, label: str, key: tuple, rate: float, strict: bool) -> list[Problem]:
    problems: list[Problem] = []
    for position, child in enumerate(children):
        where = f"{label} {child_name(children, position)}"
        here = (*key, _item_key(child))
        own = item_problems(child)
        if own:
            problems += [_problem(where, here, f"own:{problem}", problem) for problem in own]
            continue
        if isinstance(child, otio.schema.Transition):
            before = children[position - 1] if position else None
            after = children[position + 1] if position + 1 < len(children) else None
            if before is None or after is None or isinstance(before, otio.schema.Transition) or isinstance(after, otio.schema.Transition):
                if strict:  # OTIO's own sample transition_test.otio fades in and out at a track's ends
                    problems.append(_problem(where, here, "alone", "a transition needs an item on each side"))
                continue
            try:
                over = max(to_frames(child.in_offset - source_range(before).duration, rate),
                           to_frames(child.out_offset - source_range(after).duration, rate))
                if over > 0:
                    problems.append(_problem(where, here, "long", "the transition is longer than the clips around it", over))
            except UNKNOWN_LENGTH:
                pass  # the neighbour's own problem is reported with it
            continue
        if isinstance(child, otio.schema.Stack):
            inner = _composition_problems(child, where, here, rate, strict)
            if inner:
                problems += inner
                continue
        try:
            used = source_range(child)
        except UNKNOWN_LENGTH as error:
            problems.append(_problem(where, here, "length", str(error)))
            continue
        length = to_frames(used.duration, rate)
        if not length > 1e-6:
            problems.append(_problem(where, here, "duration", f"duration {length:g} frames is not positive", -length))
        if not strict or not isinstance(child, otio.schema.Clip):
            continue
        available = available_range(child)
        if available is not None:
            early = to_frames(available.start_time - used.start_time, rate)
            late = to_frames(used.end_time_exclusive() - available.end_time_exclusive(), rate)
            if early > 1e-6:
                problems.append(_problem(where, here, "media-start", f"source_range leaves the media's available_range "
                                                                     f"(starts {_frames_text(early)} before it)", early))
            if late > 1e-6:
                problems.append(_problem(where, here, "media-end", f"source_range leaves the media's available_range "
                                                                   f"(ends {_frames_text(late)} past it)", late))
        below = -to_frames(used.start_time, rate)
        if below > 1e-6:
            problems.append(_problem(where, here, "negative-in", f"source_range starts {_frames_text(below)} before source frame 0 "
                                                                 "(a source in point is never negative)", below))
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


def shown_name(item) -> str:
    """``item``'s name as a one-line message shows it: line breaks and runs of spaces as one space."""
    return " ".join((_name(item) or "").split())


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
                       or record["duration"] is not None
                       and time_problem(record["duration"], record["rate"], f"{where}.duration", f"{where}.rate", negative=False))
            if problem:
                problems.append(problem)
    return problems
