"""``nep video suggest`` and ``nep video watch``: next-edit suggestions on a project file, in editor terms.

``suggest PROJECT`` reads the timeline (any format ``formats.py`` reads; earlier saved versions given
with ``--previous`` become the history), asks the model and prints the top suggestions as clip
name, timecode and frames; ``--markers OUT`` writes them as markers onto a copy of the editor's timeline
(red: the best; .otio, .otioz, .edl or .xml), ``--png OUT.png`` draws the timeline with the best one highlighted,
``--accept N --out OUT`` writes the editor's timeline with printed suggestion N applied. ``watch
PROJECT`` re-suggests each time the file is saved, the edits since the last save (diffed) added to
the history; with ``--accept-to OUT`` a number typed on stdin writes the latest save with that
suggestion applied; with ``--log`` it records the session, with feedback on the suggestions shown
(accepted, or ignored by the next save's edits), where the ``editor`` collector reads it.
An accepted edit is one ``checked_prediction`` kept (the domain's verifiers passed it, as ``nep
serve``'s), applied with ``edits.apply_edit`` and refused when it adds a ``timeline_problems``
problem (the verifier's rule) or OUT's format cannot hold the result; nothing else of the model's
output is run.
"""

from __future__ import annotations

import errno
import os
import queue
import signal
import sys
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Optional

import opentimelineio as otio
import typer

from nep_core.actions import Action
from nep_core.appkit.feedback import feedback_record
from nep_core.cli.evaluate import MAX_TOP_K, check_top_k
from nep_core.output_folders import make_output_file_folder
from nep_core.cli.subapp import tools_app
from nep_core.collector import CollectReport
from nep_core.encoder import context_from_events
from nep_core.errors import InvalidAction, NepError
from nep_core.inference.predictor import Prediction
from nep_core.server.suggest import checked_prediction
from nep_core.session import Event, Session
from nep_video.action_space import MAX_ITEMS
from nep_video.collectors.history import diff_events, version_events
from nep_video.edits import apply_edit, clip_frames, edited_track
from nep_video.formats import (
    ADAPTERS, NEP_MARKER_KEY, SUFFIXES, WRITTEN_ADAPTERS, check_edl_rate, check_writable, edl_frame_rate, edl_leaves_out,
    project_edl_rate, read_timeline, shared_edl_rate, write_timeline, written_adapter,
)
from nep_video.render import render_timeline
from nep_video.replay import timeline_at
from nep_video.timeline import (
    BIN_METADATA, bin_records, drop_frame, item_name, items_of, rate_text, source_range, timeline_problems, timeline_rate, to_frames,
    track_label, tracks_of, view_of,
)
from nep_video.verifier import added_problem

app = tools_app("video", "Video tools: next-edit suggestions on OTIO, EDL, FCP XML and Kdenlive/Shotcut timelines.")

VERBS = {"trim_in": "trim in", "trim_out": "trim out", "slip": "slip", "roll": "roll the cut after", "split": "split",
         "delete": "lift", "ripple_delete": "ripple delete", "move": "move", "insert": "insert", "add_transition": "add a dissolve after"}


def file_name(option: str, value: str) -> Path:
    """The file ``option`` names; a name ending in a path separator, which names a folder, is a one-line
    error (``Path`` drops the separator, and a file would be written under the folder's name)."""
    if value.endswith(("/", os.sep)):
        raise NepError(f"{option} {value}: a name ending in '/' is a folder; pass a file name")
    return Path(value)


@app.callback()
def video_tools() -> None:
    """Video tools: next-edit suggestions on OTIO, EDL, FCP XML and Kdenlive/Shotcut timelines."""


def _predictor(model: str, data: Optional[str]):
    from nep_core.inference.factory import is_baseline, load_predictor, train_examples_for
    from nep_core.plugins import get_domain

    domain = get_domain("video")
    if not is_baseline(model):
        from nep_core.checkpoint import read_meta

        trained_for = read_meta(model).get("domain")
        if trained_for != domain.name:  # `nep video` has no --domain to switch to
            raise NepError(f"{model} is a model of the {trained_for} domain; nep video needs a video model (nep train --domain video)")
    examples = train_examples_for(domain, data) if is_baseline(model) and data else None
    return domain, load_predictor(model, domain, examples)


def counted(number: int, noun: str) -> str:
    """``1 edit``, ``2 edits``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def timecode(frames: float, rate: float, dropped: bool | None = None) -> str:
    """SMPTE timecode, drop-frame or not as ``dropped`` says (None: as OTIO infers from the rate, drop-frame
    at 29.97 and 59.94), or hours:minutes:seconds at a rate SMPTE does not know."""
    time = otio.opentime.RationalTime(round(frames), rate)
    try:
        if dropped is None:
            return otio.opentime.to_timecode(time, rate)
        return otio.opentime.to_timecode(time, rate, dropped)
    except ValueError:
        return otio.opentime.to_time_string(time)


def editor_terms(timeline: otio.schema.Timeline, action: Action) -> str:
    """An edit as an editor reads it: the track, the clip's name and timecode, the frames."""
    if action.is_no_edit:
        return "no edit"
    tracks = tracks_of(timeline)
    rate = timeline_rate(timeline)
    dropped = drop_frame(timeline)
    track_index, index = action.target["track"], action.target["clip"]
    track = tracks[track_index] if track_index < len(tracks) else None
    if track is None:
        return f"{VERBS.get(action.kind, action.kind)} on track {track_index} (not on this timeline)"
    items = items_of(track)
    where = track_label(tracks, track_index)
    item = items[index] if index < len(items) else None
    if item is not None:
        point = editor_frames(timeline, item) + edit_point(item, action, rate)
        where += f" {item_label(item, index, rate)} at {timecode(point, rate, dropped)}"
    else:
        where += " after its last clip"
    args = action.args
    if action.kind in ("trim_in", "trim_out", "slip", "roll"):
        return f"{VERBS[action.kind]} {where}: {args['frames']:+d} frames{own_frames(timeline, item, args['frames'])}"
    if action.kind == "split":
        return f"split {where}, {args['offset']} frames in{own_frames(timeline, item, args['offset'])}"
    if action.kind == "move":
        return f"move {where} to position {args['to'] + 1}{removed_transitions(timeline, action)}"
    if action.kind == "insert":
        from nep_video.timeline import media_bin

        entries = media_bin(timeline)
        name = entries[args["media"]].name if args["media"] < len(entries) else f"media {args['media']}"
        return f"insert '{name}' ({args['frames']} frames from frame {args['in']}) at {where}{removed_transitions(timeline, action)}"
    if action.kind == "add_transition":
        return f"add a {args['frames']}-frame dissolve after {where}"
    return f"{VERBS.get(action.kind, action.kind)} {where}{removed_transitions(timeline, action)}"


def own_frames(timeline: otio.schema.Timeline, item, frames: int) -> str:
    """`` (15 frames at the clip's 29.97 fps)`` when ``item``'s rate is not the timeline's: what the edit
    moves it by, in whole frames of its own (``edits.clip_frames``); else empty."""
    if not isinstance(item, otio.schema.Clip):
        return ""
    own = clip_frames(timeline, item, frames)
    if own is None:
        return ""
    return f" ({own:+g} frames at the clip's {rate_text(source_range(item).duration.rate)} fps)"


def removed_transitions(timeline: otio.schema.Timeline, action: Action) -> str:
    """``, which removes the 12-frame dissolve 'Cross Dissolve'`` when applying ``action`` takes
    transitions off its track (a lift, ripple delete, move or insert next to a dissolve); else empty."""
    try:
        index, edited = edited_track(timeline, action)
    except InvalidAction:
        return ""
    rate = timeline_rate(timeline)
    left = [(child.name, child.in_offset, child.out_offset) for child in edited if isinstance(child, otio.schema.Transition)]
    gone = []
    for child in tracks_of(timeline)[index]:
        if isinstance(child, otio.schema.Transition):
            mark = (child.name, child.in_offset, child.out_offset)
            if mark in left:
                left.remove(mark)
            else:
                gone.append(f"the {round(to_frames(child.in_offset + child.out_offset, rate))}-frame dissolve '{child.name}'")
    if not gone:
        return ""
    return f", which removes {' and '.join(gone)}"


def item_label(item, index: int, rate: float) -> str:
    """``item_name`` of the item at ``index`` (``clip N 'NAME'``, N from 1, where the action's
    ``target.clip`` counts from 0), a gap with its length (``gap N (F frames)``)."""
    if isinstance(item, otio.schema.Gap):
        return f"{item_name(item, index + 1)} ({round(source_range(item).duration.value_rescaled_to(rate))} frames)"
    return item_name(item, index + 1)


CUT_AFTER = frozenset({"trim_out", "roll", "add_transition"})
"""Edits made at the cut after their clip (its end), not at its start."""


def edit_point(item, action: Action, rate: float) -> float:
    """Where on ``item`` the edit happens, in frames from its start: the cut after it (trim out, roll, a
    dissolve after it), a split's frame, else its start (trim in, slip, lift, move...)."""
    if action.kind in CUT_AFTER:
        return source_range(item).duration.value_rescaled_to(rate)
    if action.kind == "split":
        return action.args["offset"]
    return 0


def editor_frames(timeline: otio.schema.Timeline, item) -> float:
    """Where ``item`` starts, in frames of the timecodes the editor sees: from the timeline's
    ``global_start_time``, and past the record start an EDL's tracks keep (``01:00:00:00``)."""
    rate = timeline_rate(timeline)
    start = item.transformed_time_range(source_range(item), timeline.tracks).start_time.value_rescaled_to(rate)
    origin = timeline.global_start_time
    return start + (origin.value_rescaled_to(rate) if origin is not None else 0)


def editor_timeline(read: otio.schema.Timeline, context) -> tuple[otio.schema.Timeline, bool]:
    """The timeline to show suggestions on: the editor's as read when NEP's (rebuilt from the history's
    snapshot and edits) has the same items, so indices map one to one (True), with NEP's bin where
    the history's holds media the editor's timeline no longer uses (an insert's media index names the
    same media); else NEP's (False)."""
    replayed = timeline_at(context)
    read_view = view_of(read)
    if read_view.tracks != replayed.view.tracks:
        return replayed.timeline, False
    if read_view.bin == replayed.view.bin:
        return read, True
    shown = read.deepcopy()
    shown.metadata[BIN_METADATA] = bin_records(replayed.timeline)
    return shown, True


def item_limit_note(timeline: otio.schema.Timeline) -> str | None:
    """One line when a track holds more items than actions can name (``action_space.MAX_ITEMS``), else None."""
    tracks = tracks_of(timeline)
    long = [(index, len(items_of(track))) for index, track in enumerate(tracks) if len(items_of(track)) > MAX_ITEMS + 1]
    if not long:
        return None
    named = ", ".join(f"{track_label(tracks, index)} has {count} items" for index, count in long)
    return (f"{named}; NEP suggests edits on items 1 to {MAX_ITEMS + 1} of a track only, and none while the latest edit lies "
            f"past item {2 * MAX_ITEMS + 1} (docs/domains/video.md, the item limit)")


def suggestion_lines(timeline, prediction, dropped: int = 0, raw: Prediction | None = None) -> list[str]:
    """The printed suggestions, then how many the checks dropped (``dropped``, as ``checked_prediction``
    counts them) and the no-edit line; ``<- best`` marks no edit only when the model ranked it above
    every suggestion, ``raw`` (its prediction before the checks) included."""
    lines = [f"{number}. {editor_terms(timeline, suggestion.action)}  (p={suggestion.probability:.2f})"
             for number, suggestion in enumerate(prediction.suggestions, 1)]
    if dropped:
        lines.append(dropped_text(dropped, prediction))
    best = prediction.best.is_no_edit and (raw is None or raw.best.is_no_edit)
    lines.append(f"no edit: p={prediction.p_no_edit:.2f}" + ("  <- best" if best else ""))
    return lines


DROPPED_WHY = "not applicable to this timeline, or refused by the timeline verifier"


def dropped_text(dropped: int, prediction: Prediction) -> str:
    """What the checks did to the model's suggestions: ``(2 more suggestions dropped: ...)`` under those
    printed (not a numbered line), ``the model's 3 suggestions were all dropped (...)`` when none is left."""
    if prediction.suggestions:
        return f"({counted(dropped, 'more suggestion')} dropped: {DROPPED_WHY})"
    were = "was" if dropped == 1 else "were all"
    return f"the model's {counted(dropped, 'suggestion')} {were} dropped ({DROPPED_WHY})"


def add_markers(timeline: otio.schema.Timeline, prediction) -> otio.schema.Timeline:
    """A copy of ``timeline`` (the editor's, as read: everything else is kept) with a marker for each
    suggestion on its item (red: the best), at its ``edit_point``: a cut after it on its last frame."""
    marked = timeline.deepcopy()
    tracks = tracks_of(marked)
    rate = timeline_rate(marked)
    for number, suggestion in enumerate(prediction.suggestions):
        action = suggestion.action
        track = tracks[action.target["track"]]
        items = items_of(track)
        holder = items[action.target["clip"]] if action.target["clip"] < len(items) else track
        if holder is track:  # an insert after the last item: on the track's last frame, not its first
            used = track.trimmed_range()
            last = otio.opentime.RationalTime(1, rate).rescaled_to(used.duration.rate)
            start = used.end_time_exclusive() - last if used.duration >= last else used.start_time
        else:
            used = source_range(holder)
            last_frame = used.duration.value_rescaled_to(rate) - 1
            offset = min(edit_point(holder, action, rate), last_frame)
            start = used.start_time + otio.opentime.RationalTime(offset, rate).rescaled_to(used.start_time.rate)
        marker = otio.schema.Marker(name=f"NEP {number + 1}: {editor_terms(timeline, action)} (p={suggestion.probability:.2f})",
                                    marked_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(1, rate).rescaled_to(used.start_time.rate)),
                                    color=otio.schema.MarkerColor.RED if number == 0 else otio.schema.MarkerColor.YELLOW,
                                    metadata={NEP_MARKER_KEY: action.to_json()})
        holder.markers.append(marker)
    return marked


RESOLVE_IMPORT = "Resolve: File > Import > Timeline"
IMPORT_HINTS = {"otio_json": f"{RESOLVE_IMPORT}, or any OTIO tool", "otioz": "any OTIO tool that reads .otioz bundles",
                "cmx_3600": f"{RESOLVE_IMPORT}; Premiere: File > Import", "fcp_xml": f"{RESOLVE_IMPORT}; Premiere: File > Import"}
"""How to bring a timeline NEP wrote into an editor, by the adapter that wrote it."""


def accepted_edit(timeline: otio.schema.Timeline, prediction: Prediction, number: int, out: Path, option: str,
                  dropped: int = 0) -> tuple[Action, otio.schema.Timeline]:
    """Printed suggestion ``number`` (from 1) and ``timeline`` (the editor's, as read) with it applied by
    ``apply_edit``. The suggestion passed the domain's verifiers in ``checked_prediction`` (which
    dropped ``dropped``); the edited timeline must add no ``timeline_problems`` problem (the verifier's
    rule) and fit ``out``'s format. Otherwise a one-line NepError, and nothing is written."""
    suggestions = prediction.suggestions
    if not suggestions and dropped:
        raise NepError(f"no suggestion to accept: {dropped_text(dropped, prediction)}; nothing written")
    if not suggestions:
        raise NepError(f"no suggestion to accept: the best is no edit (p={prediction.p_no_edit:.2f}); nothing written")
    if not 1 <= number <= len(suggestions):
        raise NepError(f"there is no suggestion {number}: {counted(len(suggestions), 'suggestion')} printed; nothing written")
    action = suggestions[number - 1].action
    named = f"suggestion {number} ({editor_terms(timeline, action)})"
    try:
        edited = apply_edit(timeline, action)
    except InvalidAction as error:
        raise NepError(f"{named} does not apply to the editor's timeline: {error}; nothing written") from None
    problem = added_problem(timeline_problems(timeline), timeline_problems(edited))
    if problem is not None:
        raise NepError(f"{named} would leave the timeline inconsistent: {problem}; nothing written")
    tracks = tracks_of(timeline)
    track = action.target.get("track") if isinstance(action.target, dict) else None
    if written_adapter(out) == "cmx_3600" and isinstance(track, int) and 0 <= track < len(tracks) and tracks[track].kind == otio.schema.TrackKind.Audio:
        raise NepError(f"{option} {out}: {named} edits audio track {track_label(tracks, track)}, which an EDL leaves out (the CMX 3600 "
                       "adapter writes the video track only); write .otio or .xml instead; nothing written")
    check_writable(edited, out, option)
    return action, edited


def wrote(path: Path, timeline: otio.schema.Timeline) -> str:
    """``wrote PATH``, and for an EDL what it left out (``edl_leaves_out``)."""
    left_out = edl_leaves_out(timeline) if written_adapter(path) == "cmx_3600" else None
    return f"wrote {path}" + (f" ({left_out})" if left_out else "")


def accepted_lines(timeline: otio.schema.Timeline, action: Action, number: int, out: Path, project: Path) -> list[str]:
    """What was applied and written, and how to bring it into the editor."""
    return [f"applied {number}. {editor_terms(timeline, action)}; {wrote(out, timeline)}",
            f"import it as a new timeline ({IMPORT_HINTS[written_adapter(out)]}); {project} is unchanged"]


def check_placed(exact: bool, option: str, path: Path, project: Path, history: str) -> None:
    """NepError when the suggestions cannot be placed on the editor's timeline: ``history`` (the
    versions NEP diffed) does not replay to ``project`` as read (``editor_timeline``)."""
    if not exact:
        raise NepError(f"{option} {path}: {history} does not replay to {project} as read, "
                       "so the suggestions cannot be placed on its items; nothing written")


@app.command("suggest")
def suggest_command(
    project: Path = typer.Argument(..., metavar="PROJECT", help="The timeline: .otio/.otiod/.otioz, .edl, .xml (FCP7), .kdenlive or .mlt."),
    model: str = typer.Option(..., "--model", "-m", help="A trained model folder (runs/video) or a baseline (ngram, repeat-last)."),
    previous: list[Path] = typer.Option([], "--previous", "-p", help="Earlier saved versions, oldest first: their edits are the history."),
    top_k: int = typer.Option(3, "--top-k", "-k", help=f"Suggestions to print, 1 to {MAX_TOP_K}."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Frame rate of EDL files (EDLs do not record one; default: one inferred from the timecodes of PROJECT and the --previous versions together, 24 when no frame number is over 23)."),
    markers: Optional[Path] = typer.Option(None, "--markers", parser=partial(file_name, "--markers"), metavar="PATH", help="Write the editor's timeline with the suggestions as markers here (.otio, .otioz, .edl or .xml)."),
    png: Optional[Path] = typer.Option(None, "--png", parser=partial(file_name, "--png"), metavar="PATH", help="Draw the timeline with the best suggestion highlighted (PNG)."),
    accept: Optional[int] = typer.Option(None, "--accept", min=1, help="Apply printed suggestion N (1: the best) and write the timeline to --out."),
    out: Optional[Path] = typer.Option(None, "--out", parser=partial(file_name, "--out"), metavar="PATH", help="With --accept: write the editor's timeline with that edit here (.otio, .otioz, .edl or .xml; never PROJECT)."),
    data: Optional[str] = typer.Option(None, "--data", help="Sessions to fit a baseline on (default: the default dataset)."),
) -> None:
    """Print the likeliest next edits on PROJECT.

    With --accept N --out OUT, the editor's timeline as read, with printed suggestion N applied (and
    everything else kept), is written to OUT, to be imported as a new timeline; PROJECT is never
    written. --markers may go with it: the markers go on the timeline as read, in their own file.

    Example: nep video suggest cut_v3.xml --previous cut_v1.xml --previous cut_v2.xml --model runs/video --accept 1 --out next.otio
    """
    check_top_k(top_k)
    if (accept is None) != (out is None):
        raise NepError(f"--accept {accept} needs --out FILE: where to write the edited timeline" if out is None
                       else f"--out {out} needs --accept N: the number of the printed suggestion to apply")
    if accept is not None and accept > top_k:
        raise NepError(f"--accept {accept}: at most --top-k {top_k} suggestions are printed")
    files = [*previous, project]
    outputs = {option: path for option, path in (("--markers", markers), ("--out", out)) if path is not None}
    check_outputs(rate, png, inputs=files, timelines=outputs)
    notes: list[str] = []
    rate = project_edl_rate(files, rate, "--rate", notes)
    timelines = [(path, read_timeline(path, rate, notes)) for path in files]
    limit = item_limit_note(timelines[-1][1])
    for note in notes + ([f"{project}: {limit}"] if limit else []):
        typer.echo(f"note: {note}", err=True)
    for option, path in outputs.items():
        check_writable(timelines[-1][1], path, option)
    events = version_events(timelines, spacing=3.0, pause=5.0, report=CollectReport())
    context = context_from_events(events, session_id=f"suggest-{project.name}")
    timeline, exact = editor_timeline(timelines[-1][1], context)
    for option, path in outputs.items():
        check_placed(exact, option, path, project, "the history of --previous versions")
    domain, predictor = _predictor(model, data)
    raw = predictor.predict(context, top_k)
    prediction, dropped = checked_prediction(domain, context, raw, top_k)  # as nep serve sends it
    tracks = tracks_of(timeline)
    typer.echo(f"{project}: {counted(len(tracks), 'track')}, {counted(sum(len(items_of(track)) for track in tracks), 'item')}, "
               f"{rate_text(timeline_rate(timeline))} fps; {counted(len(context.edits()), 'edit')} of history ({prediction.latency_ms:.0f} ms)")
    for line in suggestion_lines(timeline, prediction, dropped, raw):
        typer.echo(line)
    if accept is not None:
        action, edited = accepted_edit(timeline, prediction, accept, out, "--out", dropped)  # refused before anything is written
    if markers is not None:
        write_timeline(add_markers(timeline, prediction), markers)
        typer.echo(wrote(markers, timeline))
    if accept is not None:
        write_timeline(edited, out)
        for line in accepted_lines(timeline, action, accept, out, project):
            typer.echo(line)
    if png is not None:
        save_picture(context, timeline, prediction, png)
        typer.echo(f"wrote {png}")


def save_picture(context, timeline: otio.schema.Timeline, prediction, png: Path) -> None:
    """The timeline at ``context`` with the best suggestion drawn on it, written whole to ``png``."""
    from nep_core.atomic_files import atomic_path

    best = prediction.suggestions[0].action if prediction.suggestions else None
    with atomic_path(png) as temporary:
        render_timeline(timeline_at(context).view, best, editor_terms(timeline, best) if best else "no suggestion").save(temporary)


WRITTEN = {"--markers": ("markers", "the markers"), "--out": ("edited timelines", "the edited timeline"),
           "--accept-to": ("edited timelines", "the edited timeline")}
"""What each timeline output option writes, as its errors name it (in general, and this once)."""


def check_outputs(rate: float | None, png: Path | None, inputs: list[Path] = (), timelines: dict[str, Path | None] | None = None) -> None:
    """Options checked before any work: an EDL ``--rate``, a ``--png`` Pillow can write and timeline
    outputs (``timelines``: option to path, ``--markers``, ``--out``, ``--accept-to``) NEP can write
    that are none of the inputs (the editor's project is never overwritten), each its own file, in
    folders that exist."""
    from PIL import Image

    check_edl_rate(rate, "--rate", zero_infers=False)
    make_output_file_folder(png, "--png")
    if png is not None and png.suffix.lower() not in Image.registered_extensions():
        raise NepError(f"--png {png}: give a picture file name, such as next.png")
    written: dict[Path, str] = {}
    for option, path in (timelines or {}).items():
        if path is None:
            continue
        make_output_file_folder(path, option)
        if ADAPTERS.get(path.suffix.lower()) not in WRITTEN_ADAPTERS:
            raise NepError(f"{option} {path}: NEP writes {WRITTEN[option][0]} to .otio, .otioz, .edl or .xml files, not '{path.suffix}'")
        if any(path.resolve() == source.resolve() for source in inputs):
            raise NepError(f"{option} {path} is a timeline being read; write {WRITTEN[option][1]} to another file")
        if path.resolve() in written:
            raise NepError(f"{option} {path} is also the {written[path.resolve()]} file; give each its own")
        written[path.resolve()] = option


SETTLE_S = 1.0
"""Seconds a file that fails to read must stay unchanged before it is called unreadable (not half-written)."""


def _signature(path: Path) -> tuple[float, int] | None:
    """When and how big the saved timeline is (a .otiod folder's: its content.otio's), or None while missing."""
    try:
        stat = (path / "content.otio" if path.is_dir() else path).stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@app.command("watch")
def watch_command(
    project: Path = typer.Argument(..., metavar="PROJECT", help="The timeline file the editor saves (or exports) again and again."),
    model: str = typer.Option(..., "--model", "-m", help="A trained model folder or a baseline name."),
    top_k: int = typer.Option(3, "--top-k", "-k", help=f"Suggestions to print after each save, 1 to {MAX_TOP_K}."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Frame rate of EDL files (default: inferred from the timecodes of the saves seen so far)."),
    interval: float = typer.Option(0.5, "--interval", min=0.05, help="Seconds between looks at the file."),
    max_updates: int = typer.Option(0, "--max-updates", min=0, help="Stop after this many suggestions (0: never)."),
    log: bool = typer.Option(False, "--log", help="Record the session, with feedback on the suggestions, in $NEP_HOME/logs/video (the editor collector reads it)."),
    png: Optional[Path] = typer.Option(None, "--png", parser=partial(file_name, "--png"), metavar="PATH", help="Redraw this PNG with the best suggestion at each save."),
    accept_to: Optional[Path] = typer.Option(None, "--accept-to", parser=partial(file_name, "--accept-to"), metavar="PATH", help="Type a suggestion's number and Enter (Enter alone: 1) to write the latest save with it applied here (.otio, .otioz, .edl or .xml; never PROJECT)."),
    data: Optional[str] = typer.Option(None, "--data", help="Sessions to fit a baseline on (default: the default dataset)."),
) -> None:
    """Re-suggest each time PROJECT is saved; Ctrl-C stops (exit status 0).

    A save that still cannot be read once it has stopped changing for a second is reported on one line
    (`unreadable: ...`) and the next save awaited; a half-written one is read again when it changes.

    With --accept-to OUT, a suggestion's number typed on stdin and Enter (Enter alone: 1) writes the
    latest save, with that suggestion applied, to OUT, to be imported as a new timeline; a refusal is
    one line and the watch goes on, as it does at the end of stdin. With --log, the best suggestion of
    each save is logged as accepted (or the one accepted instead), else as ignored at the next save
    that changes the timeline.

    Example: nep video watch ~/edit/interview.kdenlive --model runs/video --accept-to ~/edit/next.otio --log
    """
    from nep_core.app_logs import app_log_folder

    check_top_k(top_k)
    check_outputs(rate, png, inputs=[project], timelines={"--accept-to": accept_to})
    if project.suffix.lower() not in ADAPTERS:
        raise NepError(f"{project}: unsupported format '{project.suffix}' (supported: {', '.join(SUFFIXES)})")
    if not project.parent.is_dir():
        raise NepError(f"{project}: no such folder {project.parent}; watch a file in a folder that exists")
    domain, predictor = _predictor(model, data)
    watcher = Watcher(project, rate, domain, predictor, top_k, png, accept_to, app_log_folder("video") if log else None)
    typer.echo(f"watching {project} (Ctrl-C stops)" + ("" if project.exists() else "; it does not exist yet: waiting for the editor to save it"))
    if accept_to is not None:
        typer.echo(f"to accept a suggestion, type its number and Enter (Enter alone: 1): the save with it applied goes to {accept_to}")
    try:
        watcher.run(interval, max_updates)
    except KeyboardInterrupt:
        typer.echo("stopped")


@dataclass
class Shown:
    """The suggestions printed after save number ``save``, placed on ``timeline`` (the editor's, as read,
    when ``exact``: NEP's replay of the history has the same items), at session time ``at``; which
    one was accepted, if any."""

    save: int
    timeline: otio.schema.Timeline
    exact: bool
    prediction: Prediction
    at: float
    accepted: int | None = None
    dropped: int = 0
    """Suggestions of the model's the checks dropped (``checked_prediction``)."""


class Watcher:
    """One ``nep video watch``: the session made of the saves, the latest save's suggestions, the
    numbers typed to accept one, and the feedback on them (logged to ``log_folder`` when given)."""

    def __init__(self, project: Path, rate: float | None, domain, predictor, top_k: int, png: Path | None,
                 accept_to: Path | None, log_folder: Path | None):
        from nep_core.sessionlog import new_session_id, utc_now

        self.project, self.rate, self.domain, self.predictor, self.top_k, self.png = project, rate, domain, predictor, top_k, png
        self.accept_to = accept_to
        self.session = Session(id=new_session_id(), domain="video", created=utc_now(),
                               meta={"source": "watch", "app": "nep video watch", "project": str(project)})
        self.log_path = None if log_folder is None else log_folder / f"{self.session.id}.jsonl"
        self.keys = typed_lines() if accept_to is not None else None
        self.started = time.monotonic()
        self.previous: otio.schema.Timeline | None = None
        self.seen: list[dict] = []
        """The media of the saves so far, as bin records (``history.with_seen_media``)."""
        self.shown: Shown | None = None
        self.saves = 0
        self.noted: set[str] = set()
        self.edl_rate: float | None = None
        """The frame rate the EDL saves so far were read at, without ``--rate``."""

    def now(self) -> float:
        """Seconds into the session."""
        return round(time.monotonic() - self.started, 3)

    def run(self, interval: float, max_updates: int) -> None:
        """Look at the file every ``interval`` seconds (taking typed numbers meanwhile) until ``max_updates`` saves (0: forever)."""
        seen = failing = None
        failing_since = 0.0
        while not max_updates or self.saves < max_updates:
            signature = _signature(self.project)
            if signature is None or signature == seen:
                self.pause(interval)
                continue
            notes: list[str] = []
            rate = self.save_rate()
            try:
                timeline = read_timeline(self.project, rate, notes)
            except NepError as error:  # half-written by the editor, or a save NEP cannot read
                if failing != signature:
                    failing, failing_since = signature, time.monotonic()
                elif time.monotonic() - failing_since >= SETTLE_S:
                    typer.echo(f"unreadable: {error}; waiting for the next save")
                    seen = signature
                self.pause(interval)
                continue
            seen = signature
            if self.edl_rate is not None and rate != self.edl_rate:  # the saves before were read at another rate
                notes.append(f"{self.project}: this save's timecodes show {rate_text(rate)} fps, not the {rate_text(self.edl_rate)} fps "
                             "the saves before it were read at; the history goes on from this save "
                             "(EDLs do not record a frame rate: --rate sets it)")
                self.previous = None  # a snapshot of this save, not a diff across two rates
            if self.rate is None:
                self.edl_rate = rate
            limit = item_limit_note(timeline)
            for note in notes + ([f"{self.project}: {limit}"] if limit else []):
                if note not in self.noted:  # said once, not at every save
                    self.noted.add(note)
                    typer.echo(f"note: {note}", err=True)
            self.saved(timeline)

    def save_rate(self) -> float | None:
        """The frame rate to read an EDL save at: ``--rate``, else the one its timecodes and those of the
        saves before show (``shared_edl_rate``), so that one session's saves are never read at 24 and 25 fps."""
        if self.rate or self.project.suffix.lower() != ".edl":
            return self.rate
        return shared_edl_rate([rate for rate in (self.edl_rate, edl_frame_rate(self.project)) if rate])

    def pause(self, interval: float) -> None:
        """Wait ``interval`` seconds, or less when a line is typed (then take it)."""
        if self.keys is None:
            time.sleep(interval)
            return
        try:
            typed = self.keys.get(timeout=interval)
        except queue.Empty:
            return
        if typed is None:
            self.keys = None
            typer.echo("end of input: suggestions can no longer be accepted here; still watching")
        else:
            self.accept(typed)

    def saved(self, timeline: otio.schema.Timeline) -> None:
        """A save: its edits into the history (after the feedback on the suggestions it passed over), then new suggestions."""
        now = self.now()
        if self.previous is None:
            events = version_events([(self.project, timeline)], 3.0, 5.0, CollectReport(), t=now, seen=self.seen)
        else:
            events = diff_events(self.previous, timeline, self.project, now, 0.5, CollectReport(), self.seen)
        if events and self.shown is not None and self.shown.accepted is None:
            self.feedback(None, now)  # the user changed the timeline and took none of them
        self.session.events.extend(events)  # an accepted edit comes in here, once, when the editor saves it
        self.previous = timeline
        context = context_from_events(self.session.events, self.session.id)
        raw = self.predictor.predict(context, self.top_k)
        prediction, dropped = checked_prediction(self.domain, context, raw, self.top_k)
        self.saves += 1
        typer.echo(f"-- save {self.saves}: {counted(len(context.edits()), 'edit')} so far ({prediction.latency_ms:.0f} ms)")
        shown_on, exact = editor_timeline(timeline, context)
        for line in suggestion_lines(shown_on, prediction, dropped, raw):
            typer.echo(line)
        if events or self.shown is None:  # a save that changes nothing keeps what was shown (and accepted) before
            self.shown = Shown(self.saves, shown_on, exact, prediction, self.now(), dropped=dropped)
        if self.png is not None:
            save_picture(context, timeline, prediction, self.png)
        self.write_log()

    def accept(self, typed: str) -> None:
        """Apply the latest save's suggestion number ``typed`` (empty: 1) and write ``accept_to``; a refusal is one line."""
        shown = self.shown
        try:
            if typed and not typed.isdecimal():
                raise NepError(f"type a suggestion's number and Enter (Enter alone: 1), not '{typed}'")
            number = int(typed or 1)
            if shown is None:
                raise NepError("no suggestions yet: waiting for the first save")
            if shown.accepted is not None:
                raise NepError(f"suggestion {shown.accepted} of save {shown.save} was accepted already; the next save brings new ones")
            check_placed(shown.exact, "--accept-to", self.accept_to, self.project, "the history of the saves")
            action, edited = accepted_edit(shown.timeline, shown.prediction, number, self.accept_to, "--accept-to", shown.dropped)
            write_timeline(edited, self.accept_to)
        except NepError as error:
            typer.echo(f"not accepted: {error}")
            return
        except OSError as error:  # a full disk, a folder made read-only since: the watch goes on
            from nep_core.cli.main import os_error_line

            typer.echo(f"not accepted: {os_error_line(error)}")
            return
        shown.accepted = number
        self.feedback(number, self.now())
        for line in accepted_lines(shown.timeline, action, number, self.accept_to, self.project):
            typer.echo(line)
        self.write_log()

    def feedback(self, accepted: int | None, t: float) -> None:
        """The feedback event on the latest save's suggestions (docs/session-log.md, as the apps write it):
        suggestion ``accepted`` taken, or (None) the best one ignored; none when there was none."""
        suggestions = self.shown.prediction.suggestions
        if not suggestions:
            return
        offered = {"action": suggestions[(accepted or 1) - 1].action.to_json(), "shown_at": self.shown.at}
        record = feedback_record(offered, accepted is not None, "accepted" if accepted is not None else "ignored")
        last = self.session.events[-1].t if self.session.events else t
        self.session.events.append(Event(t=max(t, last), feedback=record))  # events stay in time order

    def write_log(self) -> None:
        """The whole session, written anew (atomically) to its log, with ``--log``. A write that fails
        (a full disk) is one line and the watch goes on: the session is kept whole for the next write."""
        if self.log_path is None:
            return
        from nep_core.cli.main import os_error_line
        from nep_core.sessionlog import write_session

        try:
            write_session(self.log_path, self.session)
        except OSError as error:
            typer.echo(f"log not written: {os_error_line(error)}; it is written whole at the next save or accept")


BACKGROUND_POLL_S = 0.5
"""Seconds between tries to read the terminal while the watch runs in the background (``&``)."""


def typed_lines() -> queue.Queue:
    """Lines typed on stdin (a terminal, or a pipe from a script), stripped, then None at its end: read
    by a daemon thread, so the polling never waits for them. It reads the file descriptor itself (a
    thread blocked in ``sys.stdin`` would hold its lock while Python exits). No stdin, a closed one or
    a read error ends the input, never the watch; a watch in the background of its terminal is not
    stopped by reading it (SIGTTIN) but reads once it is brought to the foreground."""
    lines: queue.Queue = queue.Queue()
    try:
        descriptor = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # no stdin (None), or a closed one
        descriptor = None
    if descriptor is not None and os.isatty(descriptor) and hasattr(signal, "SIGTTIN"):
        signal.signal(signal.SIGTTIN, signal.SIG_IGN)  # a background read then fails with EIO

    def read() -> None:
        pending = b""
        while descriptor is not None:
            try:
                chunk = os.read(descriptor, 4096)
            except OSError as error:
                if error.errno == errno.EIO and _in_background(descriptor):
                    time.sleep(BACKGROUND_POLL_S)
                    continue
                break
            if not chunk:
                break
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                lines.put(line.decode(errors="replace").strip())
        lines.put(None)

    threading.Thread(target=read, name="nep-video-keys", daemon=True).start()
    return lines


def _in_background(descriptor: int) -> bool:
    """Whether this process is in a background job of the terminal ``descriptor``."""
    try:
        return os.tcgetpgrp(descriptor) != os.getpgrp()
    except (AttributeError, OSError):
        return False
