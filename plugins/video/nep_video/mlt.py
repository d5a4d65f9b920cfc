"""MLT XML (Kdenlive ``.kdenlive``, Shotcut and melt ``.mlt``) to an OTIO timeline, with ``xml.etree``.

The timeline is the last ``<tractor>`` of the document or, in Kdenlive 23.04+ (sequences), the
sequence tractor its project tractor plays (``timeline_tractor``); each of its ``<track>`` elements
names a ``<playlist>`` (or, in Kdenlive 20+, a per-track ``<tractor>`` whose first playlist with
entries is used). A playlist ``<entry producer= in= out=>`` becomes a clip (MLT's ``out`` is
inclusive), a ``<blank length=>`` a gap, an entry playing a Shotcut transition tractor a dissolve. A
producer (or ``<chain>``) gives the media: its ``resource`` property, and its ``length`` (or ``out`` +
1) as the available range. Times are frames, clock values or timecodes, counted as MLT does
(``parse_time``); the rate is the ``<profile>``'s ``frame_rate_num/den``. Track names come from
``kdenlive:track_name`` or ``shotcut:name``. Kdenlive's ``main_bin`` playlist and the black background
track (Kdenlive's and Shotcut's) are skipped.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import opentimelineio as otio

from nep_core.errors import NepError
from nep_video.timeline import RationalTime, TimeRange, is_time_rate

DEFAULT_MLT_RATE = 25.0
_TIME = re.compile(r"^\d+(:\d+){0,3}([.,]\d+)?$")


def parse_time(value: str | None, rate: float, where: str) -> float:
    """An MLT time attribute as frames (not negative), counted as MLT does (``mlt_property.c``): a clock
    value ``HH:MM:SS.mmm`` rounds its seconds to the nearest frame, a timecode ``HH:MM:SS:FF`` (or
    ``MM:SS:FF``, ``SS:FF``) adds its frames to the seconds."""
    if value is None or value == "":
        raise NepError(f"{where}: missing")
    text = value.strip()
    if re.fullmatch(r"-\d+", text):
        raise NepError(f"{where}: '{value}' is negative")
    if re.fullmatch(r"\d+", text):
        return float(int(text))
    if not _TIME.match(text) or ":" not in text:
        raise NepError(f"{where}: '{value}' is neither frames nor a clock time (HH:MM:SS.mmm)")
    *larger, last = text.replace(",", ".").split(":")
    if "." in last:  # clock value: the last part is seconds
        hours, minutes = ([0, 0] + [int(part) for part in larger])[-2:]
        return float(math.floor(rate * hours * 3600) + math.floor(rate * minutes * 60) + round(rate * float(last)))
    if "." in text:
        raise NepError(f"{where}: '{value}' is neither frames nor a clock time (HH:MM:SS.mmm)")
    hours, minutes, seconds = ([0, 0, 0] + [int(part) for part in larger])[-3:]
    return float(math.floor(rate * hours * 3600) + math.floor(rate * minutes * 60) + math.ceil(rate * seconds) + int(last))


def _properties(element) -> dict[str, str]:
    return {prop.get("name"): (prop.text or "") for prop in element.findall("property")}


def read_mlt(path: Path) -> otio.schema.Timeline:
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise NepError(f"{path}: not well-formed XML ({error})") from None
    if root.tag != "mlt":
        raise NepError(f"{path}: the root element is <{root.tag}>, not <mlt>")
    profile = root.find("profile")
    rate = DEFAULT_MLT_RATE
    if profile is not None and profile.get("frame_rate_num"):
        try:
            rate = float(profile.get("frame_rate_num")) / float(profile.get("frame_rate_den") or 1)
        except (TypeError, ValueError, ZeroDivisionError):
            rate = None
        if not is_time_rate(rate):
            raise NepError(f"{path}: profile.frame_rate_num/frame_rate_den "
                           f"('{profile.get('frame_rate_num')}'/'{profile.get('frame_rate_den')}') is not a frame rate")
    producers = {element.get("id"): element for element in root if element.tag in ("producer", "chain")}
    playlists = {element.get("id"): element for element in root.findall("playlist")}
    tractors = {element.get("id"): element for element in root.findall("tractor")}
    if not tractors:
        raise NepError(f"{path}: no <tractor> (the timeline); is this an MLT project?")
    main = timeline_tractor(list(root.findall("tractor"))[-1], tractors)
    timeline = otio.schema.Timeline(name=_properties(main).get("kdenlive:projectTitle") or path.stem, global_start_time=RationalTime(0, rate))
    for track_element in main.findall("track"):
        owner = tractors.get(track_element.get("producer"))  # Kdenlive 20+: a tractor per track
        playlist = _playlist_of(track_element.get("producer"), playlists, tractors)
        if playlist is None or playlist.get("id") == "main_bin":
            continue
        entries = [element for element in playlist if element.tag in ("entry", "blank")]
        if entries and all(element.tag == "entry" and _is_black(producers.get(element.get("producer"))) for element in entries):
            continue
        described = {**_properties(owner if owner is not None else playlist), **_properties(playlist)}
        audio = track_element.get("hide") == "video" or described.get("kdenlive:audio_track") == "1" or described.get("shotcut:audio") == "1"
        name = _properties(owner).get("kdenlive:track_name") if owner is not None else None
        track = otio.schema.Track(name=name or described.get("kdenlive:track_name") or described.get("shotcut:name") or "",
                                  kind=otio.schema.TrackKind.Audio if audio else otio.schema.TrackKind.Video)
        lead = 0
        for position, element in enumerate(entries):
            where = f"{path}: playlist '{playlist.get('id')}' {element.tag} {position}"
            if element.tag == "blank":
                length = parse_time(element.get("length"), rate, f"{where}.length")
                track.append(otio.schema.Gap(source_range=TimeRange(RationalTime(0, rate), RationalTime(length, rate))))
            elif element.get("producer") in tractors:
                lead = _add_transition(track, tractors[element.get("producer")], element, entries[position - 1 : position + 2], rate, where)
                continue
            elif element.get("producer") in producers:
                clip = _clip(producers[element.get("producer")], element, rate, where)
                used = clip.source_range
                clip.source_range = TimeRange(used.start_time - RationalTime(lead, rate), used.duration + RationalTime(lead, rate))
                track.append(clip)
            else:
                raise NepError(f"{where}.producer: no producer '{element.get('producer')}' in the file")
            lead = 0
        timeline.tracks.append(track)
    return timeline


def timeline_tractor(last, tractors: dict):
    """The tractor holding the tracks: the document's last one, or, in Kdenlive 23.04+ projects (with
    sequences), the sequence tractor that this project tractor (``kdenlive:projectTractor``) plays."""
    tracks = last.findall("track")
    if _properties(last).get("kdenlive:projectTractor") == "1" and len(tracks) == 1 and tracks[0].get("producer") in tractors:
        return tractors[tracks[0].get("producer")]
    return last


def _add_transition(track: otio.schema.Track, tractor, entry, beside: list, rate: float, where: str) -> int:
    """A Shotcut transition (a playlist entry playing a two-track tractor that mixes the end of the clip
    before with the start of the clip after) as an OTIO dissolve, the cut at its middle: the clip before
    is lengthened by the frames before the cut; returns the frames the clip after starts earlier."""
    length = parse_time(entry.get("out"), rate, f"{where}.out") - parse_time(entry.get("in", "0"), rate, f"{where}.in") + 1
    problem = _transition_problem(tractor, beside, length, rate, where)
    if problem:
        raise NepError(f"{where}.producer: '{entry.get('producer')}' {problem}; NEP reads a Shotcut transition only "
                       "between the two clips it joins (other nested tractors are not read)")
    before, after = length // 2, length - length // 2
    used = track[-1].source_range
    track[-1].source_range = TimeRange(used.start_time, used.duration + RationalTime(before, rate))
    track.append(otio.schema.Transition(name=_properties(tractor).get("shotcut:transition") or "Dissolve",
                                        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                        in_offset=RationalTime(before, rate), out_offset=RationalTime(after, rate)))
    return after


def _transition_problem(tractor, beside: list, length: float, rate: float, where: str) -> str | None:
    """Why the transition ``tractor`` (between the entries ``beside``: before, it, after) cannot be read, or None."""
    sides = tractor.findall("track")
    if _properties(tractor).get("shotcut:transition") is None or len(sides) != 2:
        return "is a nested tractor, not a Shotcut transition"
    if len(beside) != 3 or any(element.tag != "entry" for element in beside):
        return "is not between two clips"
    before, _, after = beside
    outgoing, incoming = sides
    if (outgoing.get("producer"), incoming.get("producer")) != (before.get("producer"), after.get("producer")):
        return "mixes other media than the clips beside it"
    if parse_time(outgoing.get("in", "0"), rate, f"{where} a_track.in") != parse_time(before.get("out"), rate, f"{where} clip before.out") + 1 or \
            parse_time(incoming.get("in", "0"), rate, f"{where} b_track.in") + length != parse_time(after.get("in", "0"), rate, f"{where} clip after.in"):
        return "does not continue the clips beside it"
    return None


def _playlist_of(name, playlists, tractors):
    if name in playlists:
        return playlists[name]
    tractor = tractors.get(name)
    if tractor is not None:
        for track in tractor.findall("track"):
            if track.get("producer") in playlists and len(playlists[track.get("producer")].findall("entry")):
                return playlists[track.get("producer")]
        first = tractor.find("track")
        return playlists.get(first.get("producer")) if first is not None else None
    return None


BLACK_COLORS = ("black", "0", "#000000", "#00000000", "#ff000000", "0x000000ff", "0x00000000")
"""Colours of the background track's producer: Kdenlive writes ``black``, Shotcut ``0`` (transparent black)."""


def _is_black(producer) -> bool:
    """Whether ``producer`` is the editor's black background (Kdenlive's ``black_track``, Shotcut's ``black``)."""
    if producer is None:
        return False
    properties = _properties(producer)
    if producer.get("id") == "black_track" or properties.get("kdenlive:playlistid") == "black_track":
        return True
    return properties.get("mlt_service") in ("color", "colour") and properties.get("resource", "").lower() in BLACK_COLORS


def _clip(producer, entry, rate: float, where: str) -> otio.schema.Clip:
    properties = _properties(producer)
    start = parse_time(entry.get("in", producer.get("in", "0")), rate, f"{where}.in")
    end = parse_time(entry.get("out", producer.get("out")), rate, f"{where}.out")
    if end < start:
        raise NepError(f"{where}.out: out ({end:g}) is before in ({start:g})")
    length = properties.get("length")
    available = None
    if length or producer.get("out"):
        total = parse_time(length, rate, f"{where} producer length") if length else parse_time(producer.get("out"), rate, f"{where} producer out") + 1
        available = TimeRange(RationalTime(0, rate), RationalTime(total, rate))
    resource = properties.get("resource", "")
    reference = otio.schema.ExternalReference(target_url=resource, available_range=available)
    name = properties.get("kdenlive:clipname") or Path(resource).name or producer.get("id") or "clip"
    return otio.schema.Clip(name=name, media_reference=reference,
                            source_range=TimeRange(RationalTime(start, rate), RationalTime(end - start + 1, rate)))
