"""``history:PATH[?option=value&...]``: saved versions of one project diffed into the edits between them.

PATH is a folder of versions of one project (``.otio``, ``.otiod``, ``.otioz``, CMX3600 ``.edl``,
FCP7 ``.xml``, Kdenlive ``.kdenlive``, Shotcut/MLT ``.mlt``), or several files joined by ``,``; a
folder whose sub-folders hold versions is one project per sub-folder. Versions are ordered by
modification time (``order=mtime``) or file name (``order=name``). Each project is one session (three with
``by_time``, below): a
``state`` snapshot of the first version, then for each later version the actions ``diff.py`` finds,
``spacing`` seconds apart, versions ``pause`` seconds apart. The bin is the media of every version so
far (``with_seen_media``): media used again after it left the timeline is an ``insert``. Where a change cannot be written as
actions (a new track, new media), a snapshot of the new version follows its actions and the change
is reported. A file that cannot be read or used (``formats.read_timeline``) is reported as ``file:
reason`` and skipped; a version that cannot be diffed all the same is reported and given as a snapshot.

======== ======= ==========================================================
option   default meaning
======== ======= ==========================================================
order    mtime   ``mtime`` or ``name``
rate     0       the frame rate of EDL files (EDLs do not record one);
                 0 infers one for all of a project's EDLs from their
                 timecodes (``formats.project_edl_rate``)
spacing  3.0     seconds between the actions of one version
pause    5.0     seconds between versions
by_time  1       split a project in time: its oldest changes train, the next
                 validate, the newest test (when it has 4 or more changes)
======== ======= ==========================================================

With ``by_time`` a project of N versions becomes three sessions (N-1 changes: the first 80 % for
``train``, the next 10 % for ``val``, the newest 10 % for ``test``, each at least one change), marked
with ``meta["split"]``. Each holds the history from the first version on, with the earlier parts as
context only (``meta["context_events"]``), and the train and val parts are cut short
(``meta["open_end"]``: their last edit's successor is in the next part), so ``nep eval --data
history:DIR`` judges the newest edits from everything that came before them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.errors import NepError
from nep_core.session import Event, Session
from nep_core.source_options import parse_argument
from nep_video.diff import diff_timelines
from nep_video.formats import SUFFIXES, check_edl_rate, is_timeline_file, one_line, project_edl_rate, read_timeline
from nep_video.snapshot import timeline_state
from nep_video.timeline import BIN_METADATA, media_records

DEFAULTS = {"order": "mtime", "rate": 0.0, "spacing": 3.0, "pause": 5.0, "by_time": True}
TIME_SPLIT_MIN_CHANGES = 4
"""Changes between versions a project needs before ``by_time`` splits it (at least one for each of val and test)."""


def version_files(paths: list[Path], order: str) -> list[Path]:
    """Timeline files of one project in version order."""
    files = [path for path in paths if is_timeline_file(path)]
    if order == "name":
        return sorted(files, key=lambda path: path.name)
    return sorted(files, key=lambda path: (path.stat().st_mtime, path.name))


def projects(argument: str, order: str) -> list[tuple[str, list[Path]]]:
    """(project name, its version files) for a history ARGUMENT."""
    if "," in argument:
        paths = [Path(part.strip()).expanduser() for part in argument.split(",") if part.strip()]
        missing = [path for path in paths if not path.exists()]
        if missing:
            raise NepError(f"history: {missing[0]}: no such file")
        return [(paths[0].parent.name or "project", version_files(paths, order))]
    folder = Path(argument).expanduser()
    if not argument or not folder.is_dir():
        raise NepError(f"history: '{argument}' is not a folder of saved versions (or FILE,FILE,...)")
    own = version_files(list(folder.iterdir()), order)
    if own:
        return [(folder.name, own)]
    return [(sub.name, version_files(list(sub.iterdir()), order)) for sub in sorted(folder.iterdir()) if sub.is_dir()]


def version_events(
    timelines: list, spacing: float, pause: float, report: CollectReport, t: float = 0.0, ends: list[int] | None = None,
    seen: list[dict] | None = None,
) -> list[Event]:
    """Session events for ``(path, timeline)`` versions in order: a snapshot of the first, then the
    actions between each version and the next (and a snapshot where they do not say it all).
    ``ends``, when given, gets the number of events up to and including each version; ``seen``
    (``with_seen_media``), the media of the versions before, takes in theirs."""
    seen = [] if seen is None else seen
    events = [Event(t=t, state=timeline_state(with_seen_media(timelines[0][1], seen)))]
    if ends is not None:
        ends.append(len(events))
    for (_, before), (after_path, after) in zip(timelines, timelines[1:]):
        t += pause
        events += diff_events(before, after, after_path, t, spacing, report, seen)
        t = events[-1].t + spacing
        if ends is not None:
            ends.append(len(events))
    return events


def with_seen_media(timeline, seen: list[dict]):
    """A copy of ``timeline`` whose bin (``nep_bin``) is the media of the project's versions so far:
    ``seen``, bin records in the order first seen, which first takes in ``timeline``'s media. Media a
    version drops stays in the bin, so a later version using it again is an ``insert``, each media
    keeping its bin index."""
    known = {record["url"] for record in seen}
    seen += [record for record in media_records(timeline) if record["url"] not in known]
    binned = timeline.deepcopy()
    binned.metadata[BIN_METADATA] = [dict(record) for record in seen]
    return binned


def diff_events(before, after, after_path, t: float, spacing: float, report: CollectReport, seen: list[dict]) -> list[Event]:
    """The actions that turn ``before`` into ``after`` as events from time ``t``, plus a snapshot of
    ``after`` when they do not reproduce it; both with the media ``seen`` so far as their bin
    (``with_seen_media``: ``before``'s is the one the history's replay holds)."""
    before, after = with_seen_media(before, seen), with_seen_media(after, seen)
    events = []
    try:
        diff = diff_timelines(before, after)
    except Exception as error:  # the last line of defence: one version NEP cannot diff must not stop the history
        report.count("versions that cannot be diffed (snapshot instead)")
        report.warn(f"{after_path}: cannot diff it from the version before ({one_line(error)}); a snapshot of this version follows")
        return [Event(t=round(t, 3), state=timeline_state(after))]
    for action in diff.actions:
        events.append(Event(t=round(t, 3), action=action))
        report.count(action.kind)
        t += spacing
    if not diff.exact or diff.unexpressed:
        report.count("versions not wholly written as actions (snapshot added)")
        reason = "; ".join(diff.unexpressed) or "the actions do not reproduce it"
        report.warn(f"{after_path}: {reason}; a snapshot of this version follows its actions")
        events.append(Event(t=round(t, 3), state=timeline_state(after)))
    return events


class HistoryCollector(Collector):
    name = "history"
    description = f"saved versions of a project ({', '.join(SUFFIXES)}) diffed into edits; ARGUMENT is their folder or FILE,FILE,..."
    version = "1"

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        head, options = parse_argument("history", argument, DEFAULTS)
        if options["order"] not in ("mtime", "name"):
            raise NepError(f"history: option 'order' is mtime or name, not '{options['order']}'")
        check_edl_rate(options["rate"], "history: option 'rate'")
        found = projects(head, options["order"])
        if not any(files for _, files in found):
            raise NepError(f"history: no timeline files ({', '.join(SUFFIXES)}) in {head}")
        for name, files in found:
            yield from self.project_sessions(name, files, options, report)

    def project_sessions(self, name: str, files: list[Path], options: dict, report: CollectReport) -> list[Session]:
        timelines = []
        rate = project_edl_rate(files, options["rate"] or None, "history: option 'rate'", report.warnings)
        for path in files:
            try:
                timelines.append((path, read_timeline(path, rate=rate, notes=report.warnings)))
            except NepError as error:
                report.count("files that cannot be read (skipped)")
                report.warn(f"{error}; file skipped")
            except Exception as error:  # the last line of defence: one odd file must not stop the collection
                report.count("files that cannot be read (skipped)")
                report.warn(f"{path}: cannot read it ({one_line(error)}); file skipped")
        if len(timelines) < 2:
            report.count("projects with fewer than two readable versions (skipped)")
            report.warn(f"history: project '{name}' has {len(timelines)} readable version(s); two or more make a history")
            return []
        report.count("versions", len(timelines))
        digest = hashlib.sha256("|".join(str(path.resolve()) for path, _ in timelines).encode()).hexdigest()[:10]
        ends: list[int] = []
        events = version_events(timelines, options["spacing"], options["pause"], report, ends=ends)
        files = [str(path) for path, _ in timelines]
        base = {"source": "history", "source_id": f"history:{name}"}
        changes = len(timelines) - 1
        if not options["by_time"] or changes < TIME_SPLIT_MIN_CHANGES:
            report.count("sessions")
            return [Session(id=f"video-history-{name}-{digest}", domain="video", events=events, meta={**base, "files": files})]
        tested = max(1, round(changes * 0.1))
        validated = max(1, round(changes * 0.1))
        trained = changes - tested - validated
        sessions = []
        for split, first, last in (("train", 0, trained), ("val", trained, trained + validated), ("test", trained + validated, changes)):
            meta = {**base, "source_id": f"history:{name}:{split}", "files": files[first : last + 1], "split": split,
                    "context_events": ends[first] - 1 if first else 0}
            if last < changes:
                meta["open_end"] = True
            report.count("sessions")
            sessions.append(Session(id=f"video-history-{name}-{digest}-{split}", domain="video", events=events[: ends[last]], meta=meta))
        return sessions
