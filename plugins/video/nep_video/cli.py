"""``nep video suggest`` and ``nep video watch``: next-edit suggestions on a project file, in editor terms.

``suggest PROJECT`` reads the timeline (any format ``formats.py`` reads; earlier saved versions given
with ``--previous`` become the history), asks the model and prints the top suggestions as clip
name, timecode and frames; ``--markers OUT`` writes them as markers onto a copy of the editor's timeline
(red: the best; .otio, .otioz, .edl or .xml), ``--png OUT.png`` draws the timeline with the best one highlighted. ``watch
PROJECT`` re-suggests each time the file is saved, the edits since the last save (diffed) added to
the history; with ``--log`` it records the session where the ``editor`` collector reads it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import opentimelineio as otio
import typer

from nep_core.actions import Action
from nep_core.cli.common import make_output_file_folder
from nep_core.cli.subapp import tools_app
from nep_core.collector import CollectReport
from nep_core.encoder import context_from_events
from nep_core.errors import NepError
from nep_core.server.suggest import checked_prediction
from nep_core.session import Session
from nep_video.collectors.history import diff_events, version_events
from nep_video.formats import (
    ADAPTERS, SUFFIXES, TIMECODE_RATES, WRITTEN_ADAPTERS, check_writable, exact_rate, read_timeline, write_timeline,
)
from nep_video.render import render_timeline
from nep_video.replay import timeline_at
from nep_video.timeline import items_of, source_range, timeline_rate, tracks_of, view_of

app = tools_app("video", "Video tools: next-edit suggestions on OTIO, EDL, FCP XML and Kdenlive/Shotcut timelines.")

VERBS = {"trim_in": "trim in", "trim_out": "trim out", "slip": "slip", "roll": "roll the cut after", "split": "split",
         "delete": "lift", "ripple_delete": "ripple delete", "move": "move", "insert": "insert", "add_transition": "add a dissolve after"}


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


def timecode(frames: float, rate: float) -> str:
    """SMPTE timecode, or hours:minutes:seconds at a rate SMPTE does not know."""
    time = otio.opentime.RationalTime(round(frames), rate)
    try:
        return otio.opentime.to_timecode(time, rate)
    except ValueError:
        return otio.opentime.to_time_string(time)


def editor_terms(timeline: otio.schema.Timeline, action: Action) -> str:
    """An edit as an editor reads it: the track, the clip's name and timecode, the frames."""
    if action.is_no_edit:
        return "no edit"
    tracks = tracks_of(timeline)
    rate = timeline_rate(timeline)
    track_index, index = action.target["track"], action.target["clip"]
    track = tracks[track_index] if track_index < len(tracks) else None
    if track is None:
        return f"{VERBS.get(action.kind, action.kind)} on track {track_index} (not on this timeline)"
    items = items_of(track)
    where = track_label(tracks, track_index)
    if index < len(items):
        where += f" {item_label(items[index], index, rate)} at {timecode(editor_frames(timeline, items[index]), rate)}"
    else:
        where += " after its last clip"
    args = action.args
    if action.kind in ("trim_in", "trim_out", "slip", "roll"):
        return f"{VERBS[action.kind]} {where}: {args['frames']:+d} frames"
    if action.kind == "split":
        return f"split {where}, {args['offset']} frames in ({timecode(args['offset'], rate)})"
    if action.kind == "move":
        return f"move {where} to position {args['to'] + 1}"
    if action.kind == "insert":
        from nep_video.timeline import media_bin

        entries = media_bin(timeline)
        name = entries[args["media"]].name if args["media"] < len(entries) else f"media {args['media']}"
        return f"insert '{name}' ({args['frames']} frames from frame {args['in']}) at {where}"
    if action.kind == "add_transition":
        return f"add a {args['frames']}-frame dissolve after {where}"
    return f"{VERBS.get(action.kind, action.kind)} {where}"


def item_label(item, index: int, rate: float) -> str:
    """``clip N 'NAME'``, ``gap N (F frames)`` or ``stack N 'NAME'``: N counts the track's items (clips,
    gaps, nested stacks) from 1, where ``nep predict``'s ``target.clip`` counts them from 0."""
    if isinstance(item, otio.schema.Gap):
        return f"gap {index + 1} ({round(source_range(item).duration.value_rescaled_to(rate))} frames)"
    return f"{'clip' if isinstance(item, otio.schema.Clip) else 'stack'} {index + 1} '{item.name}'"


def editor_frames(timeline: otio.schema.Timeline, item) -> float:
    """Where ``item`` starts, in frames of the timecodes the editor sees: from the timeline's
    ``global_start_time``, and past the record start an EDL's tracks keep (``01:00:00:00``)."""
    rate = timeline_rate(timeline)
    start = item.transformed_time_range(source_range(item), timeline.tracks).start_time.value_rescaled_to(rate)
    origin = timeline.global_start_time
    return start + (origin.value_rescaled_to(rate) if origin is not None else 0)


def editor_timeline(read: otio.schema.Timeline, context) -> tuple[otio.schema.Timeline, bool]:
    """The timeline to show suggestions on: the editor's as read when NEP's (rebuilt from the history's
    snapshot and edits) has the same items, so indices map one to one (True); else NEP's (False)."""
    replayed = timeline_at(context).timeline
    same = view_of(read).tracks == view_of(replayed).tracks
    return (read, True) if same else (replayed, False)


def track_label(tracks: list, index: int) -> str:
    """The track's name, else V1, V2... / A1, A2... as editors number them."""
    track = tracks[index]
    if track.name:
        return track.name
    letter = "A" if track.kind == otio.schema.TrackKind.Audio else "V"
    return f"{letter}{sum(other.kind == track.kind for other in tracks[: index + 1])}"


def suggestion_lines(timeline, prediction) -> list[str]:
    lines = [f"{number}. {editor_terms(timeline, suggestion.action)}  (p={suggestion.probability:.2f})"
             for number, suggestion in enumerate(prediction.suggestions, 1)]
    lines.append(f"no edit: p={prediction.p_no_edit:.2f}" + ("  <- best" if prediction.best.is_no_edit else ""))
    return lines


def add_markers(timeline: otio.schema.Timeline, prediction) -> otio.schema.Timeline:
    """A copy of ``timeline`` (the editor's, as read: everything else is kept) with a marker for each
    suggestion on its item (red: the best)."""
    marked = timeline.deepcopy()
    tracks = tracks_of(marked)
    rate = timeline_rate(marked)
    for number, suggestion in enumerate(prediction.suggestions):
        action = suggestion.action
        track = tracks[action.target["track"]]
        items = items_of(track)
        holder = items[action.target["clip"]] if action.target["clip"] < len(items) else track
        used = source_range(holder) if holder is not track else track.trimmed_range()
        offset = action.args.get("offset", 0) if action.kind == "split" else 0
        start = used.start_time + otio.opentime.RationalTime(offset, rate).rescaled_to(used.start_time.rate)
        marker = otio.schema.Marker(name=f"NEP {number + 1}: {editor_terms(timeline, action)} (p={suggestion.probability:.2f})",
                                    marked_range=otio.opentime.TimeRange(start, otio.opentime.RationalTime(1, rate).rescaled_to(used.start_time.rate)),
                                    color=otio.schema.MarkerColor.RED if number == 0 else otio.schema.MarkerColor.YELLOW,
                                    metadata={"nep": action.to_json()})
        holder.markers.append(marker)
    return marked


@app.command("suggest")
def suggest_command(
    project: Path = typer.Argument(..., help="The timeline: .otio/.otiod/.otioz, .edl, .xml (FCP7), .kdenlive or .mlt."),
    model: str = typer.Option(..., "--model", "-m", help="A trained model folder (runs/video) or a baseline (ngram, repeat-last)."),
    previous: list[Path] = typer.Option([], "--previous", "-p", help="Earlier saved versions, oldest first: their edits are the history."),
    top_k: int = typer.Option(3, "--top-k", "-k", min=1, help="Suggestions to print."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Frame rate of EDL files (EDLs do not record one; default: inferred from their timecodes, 24 when no frame number is over 23)."),
    markers: Optional[Path] = typer.Option(None, "--markers", help="Write the editor's timeline with the suggestions as markers here (.otio, .otioz, .edl or .xml)."),
    png: Optional[Path] = typer.Option(None, "--png", help="Draw the timeline with the best suggestion highlighted (PNG)."),
    data: Optional[str] = typer.Option(None, "--data", help="Sessions to fit a baseline on (default: the default dataset)."),
) -> None:
    """Print the likeliest next edits on PROJECT.

    Example: nep video suggest cut_v3.xml --previous cut_v1.xml --previous cut_v2.xml --model runs/video --markers next.otio
    """
    files = [*previous, project]
    check_outputs(rate, png, markers, inputs=files)
    notes: list[str] = []
    timelines = [(path, read_timeline(path, rate, notes)) for path in files]
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    if markers is not None:
        check_writable(timelines[-1][1], markers, "--markers")
    events = version_events(timelines, spacing=3.0, pause=5.0, report=CollectReport())
    context = context_from_events(events, session_id=f"suggest-{project.name}")
    timeline, exact = editor_timeline(timelines[-1][1], context)
    if markers is not None and not exact:
        raise NepError(f"--markers {markers}: the history of --previous versions does not replay to {project} as read, "
                       "so the suggestions cannot be placed on its items; no markers written")
    domain, predictor = _predictor(model, data)
    prediction, _ = checked_prediction(domain, context, predictor.predict(context, top_k), top_k)  # as nep serve sends it
    tracks = tracks_of(timeline)
    typer.echo(f"{project}: {counted(len(tracks), 'track')}, {counted(sum(len(items_of(track)) for track in tracks), 'item')}, "
               f"{timeline_rate(timeline):g} fps; {counted(len(context.edits()), 'edit')} of history ({prediction.latency_ms:.0f} ms)")
    for line in suggestion_lines(timeline, prediction):
        typer.echo(line)
    if markers is not None:
        write_timeline(add_markers(timeline, prediction), markers)
        typer.echo(f"wrote {markers}")
    if png is not None:
        save_picture(context, timeline, prediction, png)
        typer.echo(f"wrote {png}")


def save_picture(context, timeline: otio.schema.Timeline, prediction, png: Path) -> None:
    """The timeline at ``context`` with the best suggestion drawn on it, written whole to ``png``."""
    from nep_core.atomic_files import atomic_path

    best = prediction.suggestions[0].action if prediction.suggestions else None
    with atomic_path(png) as temporary:
        render_timeline(timeline_at(context).view, best, editor_terms(timeline, best) if best else "no suggestion").save(temporary)


def check_outputs(rate: float | None, png: Path | None, markers: Path | None = None, inputs: list[Path] = ()) -> None:
    """Options checked before any work: an EDL ``--rate``, a ``--png`` Pillow can write and a
    ``--markers`` .otio file that is none of the inputs, in folders that exist."""
    from PIL import Image

    if rate is not None and exact_rate(rate) not in TIMECODE_RATES:
        rates = ", ".join(f"{round(known, 3):g}" for known in TIMECODE_RATES)
        raise NepError(f"--rate must be a frame rate EDL timecode has ({rates}), got {rate:g}")
    make_output_file_folder(png, "--png")
    if png is not None and png.suffix.lower() not in Image.registered_extensions():
        raise NepError(f"--png {png}: give a picture file name, such as next.png")
    make_output_file_folder(markers, "--markers")
    if markers is not None and ADAPTERS.get(markers.suffix.lower()) not in WRITTEN_ADAPTERS:
        raise NepError(f"--markers {markers}: NEP writes markers to .otio, .otioz, .edl or .xml files, not '{markers.suffix}'")
    if markers is not None and any(markers.resolve() == path.resolve() for path in inputs):
        raise NepError(f"--markers {markers} is a timeline being read; write the markers to another file")


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
    project: Path = typer.Argument(..., help="The timeline file the editor saves (or exports) again and again."),
    model: str = typer.Option(..., "--model", "-m", help="A trained model folder or a baseline name."),
    top_k: int = typer.Option(3, "--top-k", "-k", min=1, help="Suggestions to print after each save."),
    rate: Optional[float] = typer.Option(None, "--rate", help="Frame rate of EDL files (default: inferred from their timecodes)."),
    interval: float = typer.Option(0.5, "--interval", min=0.05, help="Seconds between looks at the file."),
    max_updates: int = typer.Option(0, "--max-updates", min=0, help="Stop after this many suggestions (0: never)."),
    log: bool = typer.Option(False, "--log", help="Record the session in $NEP_HOME/logs/video (the editor collector reads it)."),
    png: Optional[Path] = typer.Option(None, "--png", help="Redraw this PNG with the best suggestion at each save."),
    data: Optional[str] = typer.Option(None, "--data", help="Sessions to fit a baseline on (default: the default dataset)."),
) -> None:
    """Re-suggest each time PROJECT is saved; Ctrl-C stops (exit status 0).

    A save that still cannot be read once it has stopped changing for a second is reported on one line
    (`unreadable: ...`) and the next save awaited; a half-written one is read again when it changes.

    Example: nep video watch ~/edit/interview.kdenlive --model runs/video --png /tmp/next.png
    """
    from nep_core.app_logs import app_log_folder
    from nep_core.sessionlog import new_session_id, utc_now, write_session

    check_outputs(rate, png, inputs=[project])
    if project.suffix.lower() not in ADAPTERS:
        raise NepError(f"{project}: unsupported format '{project.suffix}' (supported: {', '.join(SUFFIXES)})")
    if not project.parent.is_dir():
        raise NepError(f"{project}: no such folder {project.parent}; watch a file in a folder that exists")
    domain, predictor = _predictor(model, data)
    session = Session(id=new_session_id(), domain="video", created=utc_now(), meta={"source": "watch", "app": "nep video watch", "project": str(project)})
    previous = None
    seen = failing = None
    failing_since = 0.0
    started = time.monotonic()
    updates = 0
    typer.echo(f"watching {project} (Ctrl-C stops)" + ("" if project.exists() else "; it does not exist yet: waiting for the editor to save it"))
    try:
        while not max_updates or updates < max_updates:
            signature = _signature(project)
            if signature is None or signature == seen:
                time.sleep(interval)
                continue
            try:
                timeline = read_timeline(project, rate)
            except NepError as error:  # half-written by the editor, or a save NEP cannot read
                if failing != signature:
                    failing, failing_since = signature, time.monotonic()
                elif time.monotonic() - failing_since >= SETTLE_S:
                    typer.echo(f"unreadable: {error}; waiting for the next save")
                    seen = signature
                time.sleep(interval)
                continue
            seen = signature
            now = round(time.monotonic() - started, 3)
            if previous is None:
                session.events.extend(version_events([(project, timeline)], 3.0, 5.0, CollectReport(), t=now))
            else:
                session.events.extend(diff_events(previous, timeline, project, now, 0.5, CollectReport()))
            previous = timeline
            context = context_from_events(session.events, session.id)
            prediction, _ = checked_prediction(domain, context, predictor.predict(context, top_k), top_k)
            updates += 1
            typer.echo(f"-- save {updates}: {counted(len(context.edits()), 'edit')} so far ({prediction.latency_ms:.0f} ms)")
            for line in suggestion_lines(editor_timeline(timeline, context)[0], prediction):
                typer.echo(line)
            if png is not None:
                save_picture(context, timeline, prediction, png)
            if log:
                write_session(app_log_folder("video") / f"{session.id}.jsonl", session)
    except KeyboardInterrupt:
        typer.echo("stopped")
