"""Reading a timeline from any supported project or interchange file, with one-line errors.

======================  ===========================  =================================================
suffix                  read with                    exported by
======================  ===========================  =================================================
.otio .otiod .otioz     opentimelineio               DaVinci Resolve (File > Export > Timeline, OTIO),
                                                     OTIO tools, ``nep video suggest --markers``
.edl                    otio-cmx3600-adapter         every NLE (CMX 3600 EDL); ``--rate`` sets its fps,
                                                     else ``edl_frame_rate`` infers it
.xml                    otio-fcp-adapter             Premiere Pro (File > Export > Final Cut Pro XML),
                                                     Resolve, Final Cut Pro 7 (XML interchange)
.kdenlive .mlt          nep_video.mlt (xml.etree)    Kdenlive and Shotcut project files, melt
======================  ===========================  =================================================

A file that cannot be read, or a timeline NEP cannot use (``timeline.unusable``: no tracks; a time
that is not a finite number at a sane rate; a zero or negative length; a clip with neither a
``source_range`` nor a media ``available_range``; a misplaced or overlong transition; the same in
nested stacks), is a ``NepError`` naming the file and the field; OTIO JSON nested too deeply for
OTIO's reader (which crashes on it) is refused before OTIO reads it, and so is an ``.otioz`` whose
``content.otio`` unpacks to over 64 MiB (``MAX_OTIOZ_DOCUMENT_BYTES``: a zip bomb).
Mixed frame rates, nested stacks, gaps, transitions and clips without a media range are fine.
"""

from __future__ import annotations

import json
import re
import zipfile
from functools import partial
from pathlib import Path

import opentimelineio as otio

from nep_core.atomic_files import atomic_path
from nep_core.errors import NepError, first_line
from nep_core.zip_members import MemberTooLarge, read_capped
from nep_video.timeline import (
    TIMECODE_METADATA, available_range, drop_frame, rate_note, rate_text, timeline_problems, tracks_of, unusable,
)

ADAPTERS = {".otio": "otio_json", ".otiod": "otiod", ".otioz": "otioz", ".edl": "cmx_3600", ".xml": "fcp_xml",
            ".kdenlive": "mlt", ".mlt": "mlt"}
SUFFIXES = tuple(ADAPTERS)
WRITTEN_ADAPTERS = ("otio_json", "otioz", "cmx_3600", "fcp_xml")
"""The formats NEP writes (``write_timeline``): single files, written whole."""
DEFAULT_EDL_RATE = 24.0
EDL_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0)
"""The rates ``edl_frame_rate`` chooses from, lowest first."""
NTSC_RATES = tuple(base * 1000 / 1001 for base in (24, 30, 48, 60, 120))
"""23.976, 29.97, 47.952, 59.94 and 119.88 as OTIO needs them: exactly N*1000/1001 (it refuses 29.97 as a timecode rate)."""
TIMECODE_RATES = (24000 / 1001, 24.0, 25.0, 30000 / 1001, 30.0, 48000 / 1001, 48.0, 50.0, 60000 / 1001, 60.0)
"""The rates OTIO (and so the EDL reader and writer) reads and writes SMPTE timecode at."""
BUNDLE_DOCUMENT = "content.otio"
"""The member of an ``.otioz`` bundle that holds its OTIO JSON."""
MAX_OTIOZ_DOCUMENT_BYTES = 64 * 2**20
"""An ``.otioz`` whose ``content.otio`` unpacks to more is refused unread (a zip bomb; a long edit's OTIO JSON is a few MB)."""
TIMECODE = re.compile(r"\b\d{2}:\d{2}:\d{2}([:;.,])(\d{2})\b")


def check_edl_rate(rate: float | None, option: str, zero_infers: bool = True) -> None:
    """NepError unless ``rate`` (an EDL frame rate given by the user; None, and 0 with ``zero_infers``: inferred)
    is one EDL timecode has (``TIMECODE_RATES``; 23.976, 29.97... as people write them)."""
    if rate is None or (zero_infers and rate == 0) or exact_rate(rate) in TIMECODE_RATES:
        return
    rates = ", ".join(f"{round(known, 3):g}" for known in TIMECODE_RATES)
    raise NepError(f"{option} must be a frame rate EDL timecode has ({rates}){', or 0 to infer it' if zero_infers else ''}; got {rate:g}")


def is_timeline_file(path: Path) -> bool:
    """A file (or .otiod folder) NEP reads as a timeline; hidden ones (an editor's or NEP's own temporary
    files) are not."""
    if path.name.startswith("."):
        return False
    return path.is_file() and path.suffix.lower() in ADAPTERS or path.is_dir() and path.suffix.lower() == ".otiod"


def exact_rate(rate: float) -> float:
    """``rate`` with the NTSC rates as written by people (23.976, 23.98, 29.97, 59.94...) made exact (30000/1001...)."""
    return next((exact for exact in NTSC_RATES if abs(rate - exact) < 0.005), rate)


def edl_frame_rate(path: Path) -> float:
    """An EDL's likely frame rate, which the file does not record: 30000/1001 (29.97) when its timecodes are
    drop-frame (``;``), else the lowest of ``EDL_RATES`` above every frame number in them (24 when
    none is over 23, as most film and drama EDLs)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return DEFAULT_EDL_RATE
    highest, drop_frame = 0, False
    for separator, frames in TIMECODE.findall(text):
        highest = max(highest, int(frames))
        drop_frame = drop_frame or separator in ";,"
    if drop_frame:
        return 30000 / 1001
    return next((rate for rate in EDL_RATES if highest < rate), EDL_RATES[-1])


def shared_edl_rate(rates) -> float:
    """One frame rate for EDLs of one project that alone would read at ``rates`` (``edl_frame_rate``):
    29.97 when any is drop-frame, else the highest (a frame number at or above 24 in one save shows
    that all are at 25 fps or more)."""
    rates = list(rates)
    return 30000 / 1001 if 30000 / 1001 in rates else max(rates)


def project_edl_rate(paths: list[Path], rate: float | None, option: str, notes: list[str] | None = None) -> float | None:
    """The frame rate to read the EDLs among ``paths`` (versions of one project) at: ``rate`` when given,
    else ``shared_edl_rate`` over them all, so that one project's saves are not read at 24 and 25 fps
    as their frame numbers happen to fall; ``notes`` gets one line naming those that alone would read
    at another rate (``option`` sets the rate); None when there is no EDL and no ``rate``."""
    if rate:
        return rate
    alone = {path: edl_frame_rate(path) for path in paths if path.suffix.lower() == ".edl"}
    if not alone:
        return None
    shared = shared_edl_rate(alone.values())
    differ = [path for path, own in alone.items() if own != shared]
    if differ and notes is not None:
        more = f" and {len(differ) - 1} more" if len(differ) > 1 else ""
        notes.append(f"{differ[0]}{more}: read at {rate_text(shared)} fps, as the timecodes of the other versions show (alone, "
                     f"{differ[0].name} would read at {rate_text(alone[differ[0]])} fps; EDLs do not record a frame rate: {option} sets it)")
    return shared


def read_timeline(path: str | Path, rate: float | None = None, notes: list[str] | None = None) -> otio.schema.Timeline:
    """The timeline in ``path`` (format by suffix); ``rate`` is an EDL's frame rate (EDLs do not say;
    without it, ``edl_frame_rate`` infers one from the timecodes).

    An EDL whose record timecodes disagree with its source timecodes (common in real EDLs) is read
    again as the adapter advises, placing events by their source durations; ``notes`` gets a line saying so.
    So does a timeline whose frame rate NEP had to choose (``timeline.rate_note``: clips of several
    rates and no declared rate; no frame rate at all, so 24 fps). An EDL's drop-frame or non-drop-frame
    timecode (its ``FCM`` line, else its timecodes' separators) is kept (``keep_edl_timecode``).
    """
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
            options = {"rate": exact_rate(rate) if rate else edl_frame_rate(path)} if adapter == "cmx_3600" else {}
            check_nesting(path, adapter)
            result = _read_with_adapter(path, adapter, options, notes)
        timeline = _as_timeline(result, path, notes)
        if adapter == "cmx_3600":
            keep_edl_timecode(timeline, edl_text(path))
        check_timeline(timeline, path)
        if notes is not None:
            notes += [f"{path}: {note}" for note in (rate_note(timeline), lone_transitions_note(timeline)) if note is not None]
    except NepError:
        raise
    except Exception as error:  # the adapters raise many kinds of errors on bad input
        raise NepError(f"{path}: cannot read as {adapter}: {one_line(error)}") from None
    return timeline


def lone_transitions_note(timeline: otio.schema.Timeline) -> str | None:
    """One line when a transition lacks an item on one side (at a track's start or end, or beside another
    transition), which NEP reads and keeps as it is (editors write fades in and out so), else None."""
    lone = [problem for problem in timeline_problems(timeline) if problem.key[-1] == "alone"]
    if not lone:
        return None
    more = f" (and {len(lone) - 1} more)" if len(lone) > 1 else ""
    return f"{lone[0]}{more}; read and kept as it is (a fade in or out at a track's end is written so)"


def _read_with_adapter(path: Path, adapter: str, options: dict, notes: list[str] | None):
    if adapter == "cmx_3600":  # EDLs are read as UTF-8, else Latin-1 (Avid on Windows)
        read = partial(otio.adapters.read_from_string, edl_text(path), adapter_name=adapter, **options)
    else:
        read = partial(otio.adapters.read_from_file, str(path), adapter_name=adapter, **options)
    try:
        return read()
    except Exception as error:
        if adapter != "cmx_3600" or type(error).__name__ != "EDLParseError":
            raise
        result = read(ignore_timecode_mismatch=True)
        if notes is not None:
            reason = one_line(error).removeprefix("EDLParseError: ")
            notes.append(f"{path}: record timecodes disagree with the source ({reason}); events placed by their source durations")
        return result


FCM = re.compile(r"^\s*FCM:\s*(NON[- ]?DROP|DROP)", re.IGNORECASE | re.MULTILINE)


def keep_edl_timecode(timeline: otio.schema.Timeline, text: str) -> None:
    """Record in ``timeline.metadata[TIMECODE_METADATA]`` whether the EDL ``text`` is drop-frame (``DF``)
    or not (``NDF``): its first ``FCM:`` line, else whether its timecodes use ``;``."""
    found = FCM.search(text)
    if found:
        timeline.metadata[TIMECODE_METADATA] = "NDF" if found.group(1).upper().startswith("NON") else "DF"
        return
    separators = [separator for separator, _ in TIMECODE.findall(text)]
    if separators:
        timeline.metadata[TIMECODE_METADATA] = "DF" if any(separator in ";," for separator in separators) else "NDF"


def edl_with_timecode(text: str, timeline: otio.schema.Timeline) -> str:
    """The CMX 3600 adapter's ``text`` for ``timeline`` in the timecode the timeline was read in
    (``timeline.drop_frame``): the adapter writes drop-frame timecode at 29.97 and 59.94 whatever the
    source was and no ``FCM`` line, so a non-drop-frame one is rewritten (event, ``M2`` and ``* LOC`` lines)
    and the ``FCM`` line put back after the title. A timeline that does not say is left as written."""
    dropped = drop_frame(timeline)
    if dropped is None:
        return text
    tracks = tracks_of(timeline)
    rate = tracks[0].duration().rate if tracks else None  # the rate the adapter writes at
    ntsc = bool(rate) and any(abs(rate - known) < 1e-6 for known in (30000 / 1001, 60000 / 1001))
    dropped = dropped and ntsc  # drop-frame timecode exists at 29.97 and 59.94 only
    if not dropped and ntsc:

        def non_drop(match: re.Match) -> str:
            return otio.opentime.to_timecode(otio.opentime.from_timecode(match.group(0), rate), rate, False)

        lines = text.split("\n")
        for number, line in enumerate(lines):
            if re.match(r"\s*(\d+\s|M2\s|\*\s*LOC:)", line):  # events, speed changes, markers: not clip names
                lines[number] = EDL_TIMECODE.sub(non_drop, line)
        text = "\n".join(lines)
    fcm = f"FCM: {'DROP FRAME' if dropped else 'NON-DROP FRAME'}"
    if text.startswith("TITLE:"):
        title, _, rest = text.partition("\n")
        return f"{title}\n{fcm}\n{rest}"
    return f"{fcm}\n{text}"


EDL_TIMECODE = re.compile(r"\b\d{2}:\d{2}:\d{2}[:;]\d{2}\b")


def edl_text(path: Path) -> str:
    """An EDL's text: UTF-8, else Latin-1 (every byte is a Latin-1 character)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def one_line(error: Exception) -> str:
    """``TYPE: first line of the message`` (200 characters at most), OTIO's C++ type names as its schema names."""
    return f"{type(error).__name__}: {readable_types(first_line(error))[:200]}" if str(error).strip() else type(error).__name__


def readable_types(text: str) -> str:
    """``N14opentimelineio4v1_04ClipE`` (a C++ type name in OTIO's messages) as ``Clip``."""
    def last_name(match: re.Match) -> str:
        body, names = match.group(1), []
        while body[:1].isdigit():
            digits = re.match(r"\d+", body).group()
            names.append(body[len(digits) : len(digits) + int(digits)])
            body = body[len(digits) + int(digits) :]
        return names[-1] if names and not body else match.group(0)

    return re.sub(r"N(\d+opentimelineio\w*?)E\b", last_name, text)


KINDS = {"AnyVector": "a list", "AnyDictionary": "a JSON object"}


def _as_timeline(result, path: Path, notes: list[str] | None = None) -> otio.schema.Timeline:
    """The timeline ``result`` is or holds; of several (a collection), the first, with a note saying so."""
    if isinstance(result, otio.schema.Timeline):
        return result
    if isinstance(result, otio.schema.SerializableCollection):
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if len(timelines) > 1 and notes is not None:
            names = ", ".join(f"'{timeline.name}'" for timeline in timelines)
            notes.append(f"{path}: holds {len(timelines)} timelines ({names}); NEP uses the first, '{timelines[0].name}'")
        if timelines:
            return timelines[0]
    kind = type(result).__name__
    raise NepError(f"{path}: holds {KINDS.get(kind, 'a ' + kind)}, not a timeline")


def check_timeline(timeline: otio.schema.Timeline, path: Path | str) -> None:
    """NepError (file and field) when NEP cannot use the timeline (``timeline.unusable``)."""
    problems = unusable(timeline)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise NepError(f"{path}: {problems[0]}{more}")


def check_nesting(path: Path, adapter: str) -> None:
    """NepError when the OTIO JSON in ``path`` nests deeper than Python's parser goes: OTIO's own
    reader crashes the process (no exception) some 50,000 levels down."""
    if adapter == "otio_json":
        text = path.read_bytes()
    elif adapter == "otiod":
        text = (path / "content.otio").read_bytes()
    elif adapter == "otioz" and zipfile.is_zipfile(path):
        text = bundle_document(path)
    else:
        return
    try:
        json.loads(text)
    except RecursionError:
        raise NepError(f"{path}: JSON nested too deeply") from None
    except ValueError:
        if b"\0" in text[:4096]:  # OTIO's reader stops at the first NUL and calls the document empty
            raise NepError(f"{path}: a binary file, not OTIO JSON") from None


def bundle_document(path: Path) -> bytes:
    """The ``content.otio`` of the ``.otioz`` bundle ``path`` (empty when it has none), the member OTIO's own
    reader reads next; NepError (file and member) when it unpacks to over ``MAX_OTIOZ_DOCUMENT_BYTES``: its
    declared size is checked before it is read, and the read stops one byte past the limit, so a small
    bundle cannot inflate in memory (a zip bomb)."""
    where = f"{path}: {BUNDLE_DOCUMENT}"
    limit = f"the {MAX_OTIOZ_DOCUMENT_BYTES // 2**20} MiB limit for a bundle's OTIO document"
    with zipfile.ZipFile(path) as bundle:
        try:
            info = bundle.getinfo(BUNDLE_DOCUMENT)  # the last of the name, as OTIO's reader takes it
        except KeyError:
            return b""
        try:
            return read_capped(bundle, info, MAX_OTIOZ_DOCUMENT_BYTES)
        except MemberTooLarge as error:
            raise NepError(f"{where}: {error}, over {limit}") from None


def write_timeline(timeline: otio.schema.Timeline, path: str | Path) -> None:
    """Write ``timeline`` in the format of ``path``'s suffix (.otio, .otioz, .edl, .xml); what the
    adapter refuses (an EDL of two video tracks, FCP XML of a nested stack...) is a NepError naming the file."""
    path = Path(path)
    adapter = written_adapter(path)
    problem = write_problem(timeline, adapter)
    if problem is not None:
        raise NepError(f"{path}: cannot write as {adapter}: {problem}")
    try:
        with atomic_path(path) as temporary:
            if adapter == "otioz":  # a bundle holds the media found on disk; a clip whose media is elsewhere keeps a missing reference
                from opentimelineio.adapters.file_bundle_utils import MediaReferencePolicy

                otio.adapters.write_to_file(adapter_copy(timeline, adapter), str(temporary), adapter_name=adapter,
                                            media_policy=MediaReferencePolicy.MissingIfNotFile)
            else:
                Path(temporary).write_text(written_text(timeline, adapter), encoding="utf-8")
    except OSError:
        raise
    except Exception as error:  # the adapters raise many kinds of errors on what they cannot write
        raise NepError(f"{path}: cannot write as {adapter}: {one_line(error)}") from None


def adapter_copy(timeline: otio.schema.Timeline, adapter: str) -> otio.schema.Timeline:
    """A copy of ``timeline`` for ``adapter`` to write: the adapters never see the caller's timeline (the
    CMX 3600 adapter shortens and lengthens the clips beside each transition in place). For an EDL
    the start timecode (``global_start_time``, which the adapter ignores) becomes the record start of
    its tracks, as the EDL reader keeps it."""
    copy = timeline.deepcopy()
    if adapter == "cmx_3600":
        for track in tracks_of(copy):
            markers_on_last_clip(track)
    start = copy.global_start_time
    if adapter == "cmx_3600" and start is not None and start.value:
        for track in tracks_of(copy):
            used = track.trimmed_range()
            track.source_range = otio.opentime.TimeRange(used.start_time - start.rescaled_to(used.start_time.rate), used.duration)
        copy.global_start_time = None
    return copy


def markers_on_last_clip(track: otio.schema.Track) -> None:
    """The markers on ``track`` itself (an insert after its last item is marked there) put on its last clip's last
    frame: an EDL holds a clip's markers only."""
    clips = [item for item in track if isinstance(item, otio.schema.Clip)]
    if not track.markers or not clips:
        return
    used = clips[-1].trimmed_range()
    frame = otio.opentime.RationalTime(1, used.duration.rate)
    for marker in list(track.markers):
        marker.marked_range = otio.opentime.TimeRange(used.end_time_exclusive() - frame, frame)
        clips[-1].markers.append(marker)
    track.markers[:] = []


def written_text(timeline: otio.schema.Timeline, adapter: str) -> str:
    """What ``adapter`` writes for ``timeline`` (``adapter_copy``); an EDL in the timeline's own timecode
    (``edl_with_timecode``), each marker once (``edl_without_repeated_markers``)."""
    text = otio.adapters.write_to_string(adapter_copy(timeline, adapter), adapter)
    return edl_with_timecode(edl_without_repeated_markers(text), timeline) if adapter == "cmx_3600" else text


EDL_EVENT = re.compile(r"^(\d+)\s")


def edl_without_repeated_markers(text: str) -> str:
    """The CMX 3600 adapter's EDL ``text`` without the ``* LOC`` lines it writes again under a dissolve's
    ``* FROM`` comments: those are the outgoing clip's markers, already written with its own event."""
    kept, number, dissolve, outgoing = [], None, False, False
    for line in text.split("\n"):
        event = EDL_EVENT.match(line)
        if event:  # a dissolve event is a cut line and a dissolve line of one number
            dissolve, number, outgoing = event.group(1) == number, event.group(1), False
        elif line.startswith("* FROM ") or line.startswith("* TO "):
            outgoing = dissolve and line.startswith("* FROM ")
        if not (outgoing and line.startswith("* LOC:")):
            kept.append(line)
    return "\n".join(kept)


NO_NESTED_STACKS = {"cmx_3600": "an EDL has no nested stacks (the CMX 3600 adapter leaves them out)",
                    "fcp_xml": "the FCP 7 XML adapter fails on a nested stack, or writes one that reads back empty"}


def write_problem(timeline: otio.schema.Timeline, adapter: str) -> str | None:
    """Why ``adapter`` cannot write ``timeline``, found before it fails with an error of its internals or
    leaves out what it cannot write, or None: a nested stack in an EDL or FCP 7 XML (``NO_NESTED_STACKS``);
    a suggestion's marker on an audio track in an EDL (the CMX 3600 adapter writes the video track only, and
    leaves the audio tracks out: ``edl_leaves_out`` says so); a clip without a media range (``available_range``)
    in FCP 7 XML, which gives each clip's file its media length (the adapter fails with an ``AttributeError``)."""
    if adapter not in NO_NESTED_STACKS:
        return None
    for track_number, track in enumerate(tracks_of(timeline)):
        where = f"(track {track_number} '{track.name}')"
        if adapter == "cmx_3600" and track.kind == otio.schema.TrackKind.Audio:
            if any(NEP_MARKER_KEY in marker.metadata for holder in (track, *track) for marker in getattr(holder, "markers", ())):
                return (f"a suggestion is on audio track '{track.name}', and the CMX 3600 adapter writes the video track only; "
                        "write .otio or .xml instead")
            continue
        stack = next(iter(track.find_children(descended_from_type=otio.schema.Stack)), None)
        if stack is not None:
            return f"nested stack '{stack.name}' {where}: {NO_NESTED_STACKS[adapter]}; write .otio instead"
        if adapter == "fcp_xml":
            for clip in track.find_clips():
                if available_range(clip) is None and not isinstance(clip.media_reference, otio.schema.GeneratorReference):
                    return (f"clip '{clip.name}' {where} has no media range (available_range), "
                            "which FCP 7 XML needs for each clip's file; write .otio or .edl instead")
    return None


NEP_MARKER_KEY = "nep"
"""The metadata key of the markers ``nep video suggest --markers`` adds (the suggestion's action)."""


def edl_leaves_out(timeline: otio.schema.Timeline) -> str | None:
    """What an EDL of ``timeline`` leaves out, in one line, or None: its audio tracks' items (an EDL's own
    ``A``/``AA`` events among them), which the CMX 3600 adapter does not write."""
    audio = [track for track in tracks_of(timeline) if track.kind == otio.schema.TrackKind.Audio and len(track)]
    if not audio:
        return None
    items = sum(len(track) for track in audio)
    return (f"the audio tracks ({', '.join(track.name or 'A' for track in audio)}: {items} item{'s' if items != 1 else ''}) are left out, as the CMX 3600 "
            "adapter writes the video track only; .otio or .xml keep them")


def check_writable(timeline: otio.schema.Timeline, path: Path, option: str) -> None:
    """NepError (naming ``option``, the file and the reason) when ``timeline`` cannot be written to ``path``'s
    format; checked by writing it to memory (a .otioz bundle, OTIO JSON with the media, always can be)."""
    adapter = written_adapter(path)
    if adapter == "otioz":
        return
    problem = write_problem(timeline, adapter)
    if problem is not None:
        raise NepError(f"{option} {path}: cannot write this timeline as {adapter}: {problem}")
    try:
        written_text(timeline, adapter)
    except Exception as error:
        raise NepError(f"{option} {path}: cannot write this timeline as {adapter}: {one_line(error)}") from None


def written_adapter(path: Path) -> str:
    adapter = ADAPTERS.get(path.suffix.lower())
    if adapter not in WRITTEN_ADAPTERS:
        raise NepError(f"{path}: NEP writes .otio, .otioz, .edl and .xml, not '{path.suffix}'")
    return adapter
