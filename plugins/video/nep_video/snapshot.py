"""A timeline as a session-log ``state`` (compact JSON) and back, so logs stay small and readable.

``{"timeline": {"name", "rate", "tracks": [{"name", "kind", "items": [...]}], "bin": [...]}}`` where an
item is one of

- ``{"clip": NAME, "media": URL, "in": FRAMES, "dur": FRAMES, "avail": [START, DURATION], "rate": R}``
  (``avail`` absent: the media range is missing; ``rate`` absent: the timeline's rate);
- ``{"gap": FRAMES}``;
- ``{"transition": NAME, "in": FRAMES, "out": FRAMES}`` (a dissolve);
- ``{"stack": OTIO_JSON}``: a nested stack, kept whole in OTIO's own JSON.

A bad snapshot is a ``NepError`` naming the field (``state.timeline.tracks[0].items[3].dur``,
``state.timeline.bin[0].url``); so is one NEP cannot use (``timeline.unusable``: a zero or negative
length, a misplaced or overlong transition, a rate that is neither a frame rate nor a time scale...).
"""

from __future__ import annotations

import json
from typing import Any, Mapping

import opentimelineio as otio

from nep_core.actions import is_finite_number
from nep_core.errors import NepError
from nep_video.formats import one_line, readable_types
from nep_video.timeline import (
    BIN_METADATA, Problem, RationalTime, TimeRange, available_range, bin_problems, media_key, source_range, time_problem, timeline_rate,
    tracks_of, unusable,
)


def timeline_state(timeline: otio.schema.Timeline) -> dict[str, Any]:
    """The ``state`` payload of ``timeline``."""
    rate = timeline_rate(timeline)
    tracks = []
    for track in tracks_of(timeline):
        items = []
        for child in track:
            if isinstance(child, otio.schema.Transition):
                items.append({"transition": child.name or "Dissolve", "in": child.in_offset.value_rescaled_to(rate),
                              "out": child.out_offset.value_rescaled_to(rate)})
            elif isinstance(child, otio.schema.Gap):
                items.append({"gap": source_range(child).duration.value_rescaled_to(rate)})
            elif isinstance(child, otio.schema.Clip):
                items.append(_clip_state(child, rate))
            else:
                items.append({"stack": json.loads(otio.adapters.write_to_string(child, "otio_json"))})
        tracks.append({"name": track.name, "kind": track.kind, "items": items})
    out = {"name": timeline.name, "rate": rate, "tracks": tracks}
    records = timeline.metadata.get(BIN_METADATA)
    if records:
        out["bin"] = [dict(record) for record in records]
    return {"timeline": out}


def _clip_state(clip: otio.schema.Clip, rate: float) -> dict[str, Any]:
    used = source_range(clip)
    clip_rate = used.duration.rate
    out: dict[str, Any] = {"clip": clip.name, "media": media_key(clip), "in": used.start_time.value_rescaled_to(clip_rate),
                           "dur": used.duration.value}
    available = available_range(clip)
    if available is not None:
        out["avail"] = [available.start_time.value_rescaled_to(clip_rate), available.duration.value_rescaled_to(clip_rate)]
    if clip_rate != rate:
        out["rate"] = clip_rate
    return out


def timeline_from_state(state: Mapping[str, Any], where: str = "state") -> otio.schema.Timeline:
    """The OTIO timeline a ``state`` payload describes; a malformed one is a NepError naming the field."""
    data = state.get("timeline") if isinstance(state, Mapping) else None
    if not isinstance(data, Mapping):
        raise NepError(f"{where}.timeline: missing or not an object")
    rate = _number(data.get("rate"), f"{where}.timeline.rate", positive=True)
    problem = time_problem(0, rate, f"{where}.timeline", f"{where}.timeline.rate")
    if problem:
        raise NepError(problem)
    timeline = otio.schema.Timeline(name=str(data.get("name") or ""), global_start_time=RationalTime(0, rate))
    problems = bin_problems(data.get("bin"))
    if problems:
        raise NepError(f"{where}.timeline.{problems[0]}")
    if data.get("bin"):
        timeline.metadata[BIN_METADATA] = [dict(record) for record in data["bin"]]
    tracks = data.get("tracks")
    if not isinstance(tracks, list):
        raise NepError(f"{where}.timeline.tracks: must be a list")
    for track_number, track_data in enumerate(tracks):
        track_where = f"{where}.timeline.tracks[{track_number}]"
        if not isinstance(track_data, Mapping) or not isinstance(track_data.get("items"), list):
            raise NepError(f"{track_where}.items: must be a list")
        track = otio.schema.Track(name=str(track_data.get("name") or ""), kind=str(track_data.get("kind") or otio.schema.TrackKind.Video))
        for item_number, item in enumerate(track_data["items"]):
            track.append(_item(item, rate, f"{track_where}.items[{item_number}]"))
        timeline.tracks.append(track)
    problems = unusable(timeline)
    if problems:  # a field (``tracks: none``), or a track's problem naming its item as editors do (``V1 clip 2 'A': ...``)
        raise NepError(f"{where}.timeline{': ' if isinstance(problems[0], Problem) else '.'}{problems[0]}")
    return timeline


def _item(item: Any, rate: float, where: str):
    if not isinstance(item, Mapping):
        raise NepError(f"{where}: must be an object")
    if "gap" in item:
        duration = _number(item["gap"], f"{where}.gap", positive=True)
        return otio.schema.Gap(source_range=TimeRange(RationalTime(0, rate), RationalTime(duration, rate)))
    if "transition" in item:
        return otio.schema.Transition(name=str(item["transition"]), transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                      in_offset=RationalTime(_number(item.get("in"), f"{where}.in"), rate),
                                      out_offset=RationalTime(_number(item.get("out"), f"{where}.out"), rate))
    if "stack" in item:
        try:
            stack = otio.adapters.read_from_string(json.dumps(item["stack"]), "otio_json")
        except Exception as error:
            raise NepError(f"{where}.stack: not an OTIO stack ({one_line(error)})") from None
        if not isinstance(stack, otio.schema.Stack):
            raise NepError(f"{where}.stack: not an OTIO stack (a {readable_types(type(stack).__name__)})")
        return stack
    if "clip" in item:
        clip_rate = _number(item.get("rate", rate), f"{where}.rate", positive=True)
        start = _number(item.get("in"), f"{where}.in")
        duration = _number(item.get("dur"), f"{where}.dur")
        available = None
        if item.get("avail") is not None:
            pair = item["avail"]
            if not isinstance(pair, list) or len(pair) != 2:
                raise NepError(f"{where}.avail: must be [start, duration]")
            available = TimeRange(RationalTime(_number(pair[0], f"{where}.avail[0]"), clip_rate),
                                  RationalTime(_number(pair[1], f"{where}.avail[1]"), clip_rate))
        reference = otio.schema.ExternalReference(target_url=str(item.get("media") or ""), available_range=available)
        return otio.schema.Clip(name=str(item["clip"]), media_reference=reference,
                                source_range=TimeRange(RationalTime(start, clip_rate), RationalTime(duration, clip_rate)))
    raise NepError(f"{where}: an item is a clip, gap, transition or stack")


def _number(value: Any, where: str, positive: bool = False) -> float:
    if not is_finite_number(value):
        raise NepError(f"{where}: must be a number, got {value!r}")
    if positive and value <= 0:
        raise NepError(f"{where}: must be positive, got {value!r}")
    return value
