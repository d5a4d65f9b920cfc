"""Reading a timeline from any supported project or interchange file, with one-line errors.

======================  ===========================  =================================================
suffix                  read with                    exported by
======================  ===========================  =================================================
.otio .otiod .otioz     opentimelineio               DaVinci Resolve (File > Export > Timeline, OTIO),
                                                     OTIO tools, ``nep video suggest --markers``
.edl                    otio-cmx3600-adapter         every NLE (CMX 3600 EDL); ``--rate`` sets its fps
.xml                    otio-fcp-adapter             Premiere Pro (File > Export > Final Cut Pro XML),
                                                     Resolve, Final Cut Pro 7 (XML interchange)
.kdenlive .mlt          nep_video.mlt (xml.etree)    Kdenlive and Shotcut project files, melt
======================  ===========================  =================================================

A file that cannot be read, or a timeline NEP cannot use (no tracks; a clip with neither a
``source_range`` nor a media ``available_range``), is a ``NepError`` naming the file and the field.
Mixed frame rates, nested stacks, gaps, transitions and clips without a media range are fine.
"""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from nep_core.errors import NepError
from nep_video.timeline import tracks_of

ADAPTERS = {".otio": "otio_json", ".otiod": "otiod", ".otioz": "otioz", ".edl": "cmx_3600", ".xml": "fcp_xml",
            ".kdenlive": "mlt", ".mlt": "mlt"}
SUFFIXES = tuple(ADAPTERS)
DEFAULT_EDL_RATE = 24.0


def is_timeline_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in ADAPTERS or path.is_dir() and path.suffix.lower() == ".otiod"


def read_timeline(path: str | Path, rate: float | None = None) -> otio.schema.Timeline:
    """The timeline in ``path`` (format by suffix); ``rate`` is the EDL's frame rate (EDLs do not say)."""
    path = Path(path)
    if not path.exists():
        raise NepError(f"{path}: no such file")
    adapter = ADAPTERS.get(path.suffix.lower())
    if adapter is None:
        raise NepError(f"{path}: unsupported format '{path.suffix}' (supported: {', '.join(SUFFIXES)})")
    try:
        if adapter == "mlt":
            from nep_video.mlt import read_mlt

            result = read_mlt(path)
        else:
            options = {"rate": rate or DEFAULT_EDL_RATE} if adapter == "cmx_3600" else {}
            result = otio.adapters.read_from_file(str(path), adapter_name=adapter, **options)
    except NepError:
        raise
    except Exception as error:  # the adapters raise many kinds of errors on bad input
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise NepError(f"{path}: cannot read as {adapter}: {type(error).__name__}: {reason}") from None
    timeline = _as_timeline(result, path)
    check_timeline(timeline, path)
    return timeline


def _as_timeline(result, path: Path) -> otio.schema.Timeline:
    if isinstance(result, otio.schema.Timeline):
        return result
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = [item for item in result.find_children(descended_from_type=otio.schema.Timeline)] if hasattr(result, "find_children") else []
        timelines = timelines or [item for item in result if isinstance(item, otio.schema.Timeline)]
        if timelines:
            return timelines[0]
    raise NepError(f"{path}: holds a {type(result).__name__}, not a timeline")


def check_timeline(timeline: otio.schema.Timeline, path: Path | str) -> None:
    """NepError (file and field) when NEP cannot use the timeline."""
    tracks = tracks_of(timeline)
    if not tracks:
        raise NepError(f"{path}: timeline '{timeline.name}' has no tracks")
    for track_index, track in enumerate(tracks):
        for position, child in enumerate(track):
            if isinstance(child, otio.schema.Clip) and child.source_range is None:
                reference = child.media_reference
                if reference is None or reference.available_range is None:
                    raise NepError(f"{path}: tracks[{track_index}] ('{track.name}') item {position} ('{child.name}'): "
                                   f"no source_range and no media available_range; its length is unknown")


def write_timeline(timeline: otio.schema.Timeline, path: str | Path) -> None:
    """Write ``timeline`` in the format of ``path``'s suffix (.otio, .otioz, .edl, .xml)."""
    path = Path(path)
    adapter = ADAPTERS.get(path.suffix.lower())
    if adapter in (None, "mlt"):
        raise NepError(f"{path}: NEP writes .otio, .otioz, .edl and .xml, not '{path.suffix}'")
    otio.adapters.write_to_file(timeline, str(path), adapter_name=adapter)
