"""MLT XML (Kdenlive ``.kdenlive``, Shotcut and melt ``.mlt``) to an OTIO timeline, with ``xml.etree``.

The main tractor is the last ``<tractor>`` of the document; each of its ``<track>`` elements names a
``<playlist>`` (or, in Kdenlive 20+, a per-track ``<tractor>`` whose first playlist is used). A
playlist ``<entry producer= in= out=>`` becomes a clip (MLT's ``out`` is inclusive), a ``<blank
length=>`` a gap. A producer (or ``<chain>``) gives the media: its ``resource`` property, and its
``length`` (or ``out`` + 1) as the available range. Times are frames or clock values
(``HH:MM:SS.mmm``, ``HH:MM:SS:FF``); the rate is the ``<profile>``'s ``frame_rate_num/den``.
Kdenlive's ``main_bin`` playlist and the ``black`` background track are skipped.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import opentimelineio as otio

from nep_core.errors import NepError
from nep_video.timeline import RationalTime, TimeRange, is_time_rate

DEFAULT_MLT_RATE = 25.0
_CLOCK = re.compile(r"^(\d+):(\d+):(\d+)(?:([.,])(\d+)|:(\d+))?$")


def parse_time(value: str | None, rate: float, where: str) -> float:
    """An MLT time attribute as frames (not negative)."""
    if value is None or value == "":
        raise NepError(f"{where}: missing")
    text = value.strip()
    if re.fullmatch(r"-\d+", text):
        raise NepError(f"{where}: '{value}' is negative")
    if re.fullmatch(r"\d+", text):
        return float(int(text))
    match = _CLOCK.match(text)
    if not match:
        raise NepError(f"{where}: '{value}' is neither frames nor a clock time (HH:MM:SS.mmm)")
    hours, minutes, seconds = (int(match.group(index)) for index in (1, 2, 3))
    whole = (hours * 3600 + minutes * 60 + seconds) * rate
    if match.group(5):
        return whole + round(float(f"0.{match.group(5)}") * rate)
    if match.group(6):
        return whole + int(match.group(6))
    return whole


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
    main = list(root.findall("tractor"))[-1]
    timeline = otio.schema.Timeline(name=_properties(main).get("kdenlive:projectTitle") or path.stem, global_start_time=RationalTime(0, rate))
    for number, track_element in enumerate(main.findall("track")):
        playlist = _playlist_of(track_element.get("producer"), playlists, tractors)
        if playlist is None or playlist.get("id") == "main_bin":
            continue
        entries = [element for element in playlist if element.tag in ("entry", "blank")]
        if entries and all(element.tag == "entry" and _is_black(producers.get(element.get("producer"))) for element in entries):
            continue
        audio = track_element.get("hide") == "video" or _properties(playlist).get("kdenlive:audio_track") == "1"
        track = otio.schema.Track(name=_properties(playlist).get("kdenlive:track_name") or playlist.get("id") or f"track {number}",
                                  kind=otio.schema.TrackKind.Audio if audio else otio.schema.TrackKind.Video)
        for position, element in enumerate(entries):
            where = f"{path}: playlist '{playlist.get('id')}' {element.tag} {position}"
            if element.tag == "blank":
                length = parse_time(element.get("length"), rate, f"{where}.length")
                track.append(otio.schema.Gap(source_range=TimeRange(RationalTime(0, rate), RationalTime(length, rate))))
                continue
            producer = producers.get(element.get("producer"))
            if producer is None:
                raise NepError(f"{where}.producer: no producer '{element.get('producer')}' in the file")
            track.append(_clip(producer, element, rate, where))
        timeline.tracks.append(track)
    return timeline


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


def _is_black(producer) -> bool:
    if producer is None:
        return False
    properties = _properties(producer)
    return producer.get("id") == "black_track" or properties.get("resource") == "black" and properties.get("mlt_service") in ("color", "colour")


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
