"""``synthetic[:N][?option=value&...]``: N rough-cut to fine-cut sessions, the video domain's embedded default dataset.

Each session is one editor on one project: a rough cut (interview segments cut from one or two
long takes, B-roll shots between them, sometimes a dialogue track A1 under V1, a few sessions with
B-roll at another frame rate or with no media range) as a ``state`` snapshot, then editing passes
in a plausible order, each a run of similar edits across similar shots:

- ``heads`` / ``tails``: tighten the heads (``trim_in``) or tails (``trim_out``) of every interview
  (or every B-roll) clip by about the same number of frames;
- ``pauses``: split out a pause inside interview clips and ripple-delete it;
- ``jl``: J and L cuts: roll the A1 cut at interview/B-roll cuts by the same few frames;
- ``dissolves``: the same dissolve at each cut into or out of B-roll;
- ``reorder`` (move a shot), ``lift`` (delete a clip, later close the gap), ``slip`` a B-roll
  shot, ``insert`` an unused B-roll shot from the bin.

Every edit is applied with ``edits.apply_in_place`` (the code the verifier uses), so each one is
valid when it is made. Edits come 1.5 to 6 seconds apart within a run, with playhead moves,
selections and zooms between them (not edits: context); passes are separated by longer pauses (now
and then over 20 seconds, which the core makes a NO_EDIT target). Session ``i`` of seed ``s``
depends only on ``(s, i)``.

======== ======= ==========================================
option   default meaning
======== ======= ==========================================
clips    24      most clips in a rough cut (at least 8)
passes   5       most editing passes in one session
from     (none)  your own timelines to start from instead of
                 a generated rough cut: a timeline file or a
                 folder of them (any format NEP reads)
rate     0       the frame rate of EDLs read with ``from`` (0:
                 inferred from their timecodes)
======== ======= ==========================================

With ``from``, session ``i`` starts from timeline ``i`` modulo their number (in file-name order),
and its clips are grouped into shots by their media (``label_shots``): a clip whose media appears
more than once on the timeline is a take of an interview, one used once is B-roll; a pass then works
on similar shots as it does on a generated cut. A file that cannot be read is reported and skipped.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import opentimelineio as otio

from nep_core.actions import Action
from nep_core.collector import Collector, CollectReport
from nep_core.errors import InvalidAction, NepError
from nep_core.session import Event, Session
from nep_core.source_options import parse_argument
from nep_video.edits import apply_edit
from nep_video.formats import check_edl_rate, is_timeline_file, read_timeline
from nep_video.snapshot import timeline_state
from nep_video.timeline import (
    BIN_METADATA,
    RationalTime,
    TimeRange,
    items_of,
    media_key,
    timeline_problems,
    timeline_rate,
    tracks_of,
    view_of,
)
from nep_video.verifier import added_problem

DEFAULT_SESSIONS = 400
DEFAULTS = {"clips": 24, "passes": 5, "from": "", "rate": 0.0}
TRIM_AMOUNTS = (4, 6, 8, 10, 12, 12, 15, 18, 20, 24)
DISSOLVES = (8, 12, 12, 16, 24)


@dataclass
class Editor:
    """An editor at work on one timeline: applies edits, records them with plausible timing."""

    rng: random.Random
    timeline: otio.schema.Timeline
    events: list[Event] = field(default_factory=list)
    t: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    def start(self) -> None:
        self.events.append(Event(t=0.0, state=timeline_state(self.timeline)))

    def wait(self, low: float, high: float) -> None:
        self.t = round(self.t + self.rng.uniform(low, high), 3)

    def look(self, track: int, clip: int) -> None:
        """Non-edits before an edit: the playhead to the clip, sometimes a selection or a zoom."""
        roll = self.rng.random()
        if roll < 0.45:
            self.wait(0.3, 1.5)
            self.record(Action("playhead", {"track": track, "clip": clip}, edit=False))
        elif roll < 0.6:
            self.wait(0.3, 1.2)
            self.record(Action("select", {"track": track, "clip": clip}, edit=False))
        if self.rng.random() < 0.05:
            self.wait(0.2, 0.8)
            self.record(Action("zoom", None, {"direction": self.rng.choice(("in", "out"))}, edit=False))

    def edit(self, kind: str, track: int, clip: int, gap: tuple[float, float] = (1.5, 6.0), look: bool = True, **args) -> bool:
        """Apply and record one edit; False (nothing recorded) when it does not apply cleanly."""
        action = Action(kind, {"track": track, "clip": clip}, args)
        try:
            edited = apply_edit(self.timeline, action)
        except InvalidAction:
            return False
        if added_problem(timeline_problems(self.timeline), timeline_problems(edited)) is not None:  # the verifier's rule
            return False
        self.wait(*gap)
        if look:
            self.look(track, clip)
        self.timeline = edited
        self.record(action)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return True

    def record(self, action: Action) -> None:
        self.wait(0.05, 0.2)
        self.events.append(Event(t=self.t, action=action))

    def items(self, track: int = 0):
        return items_of(tracks_of(self.timeline)[track])

    def kinds(self, track: int = 0) -> list[str]:
        return [item.metadata.get("shot", "") if isinstance(item, otio.schema.Clip) else "" for item in self.items(track)]


def rough_cut(rng: random.Random, max_clips: int) -> otio.schema.Timeline:
    """A rough cut: interview segments from one or two long takes with B-roll shots between them."""
    rate = rng.choice((24.0, 24.0, 25.0, 30.0))
    broll_rate = rng.choice((30.0, 25.0, 60.0)) if rng.random() < 0.1 else rate
    missing_ranges = rng.random() < 0.05
    speakers = rng.sample(("ANNA", "BEN", "CARLA", "DEV", "EMIL"), rng.randint(1, 2))
    take_frames = {speaker: int(rate * rng.uniform(900, 2400)) for speaker in speakers}
    positions = {speaker: int(rate * rng.uniform(5, 30)) for speaker in speakers}
    timeline = otio.schema.Timeline(name=f"{rng.choice(('Interview', 'Portrait', 'Doc', 'Promo'))} rough cut", global_start_time=RationalTime(0, rate))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    clips = rng.randint(8, max(8, max_clips))
    broll_index = 0
    unused = []
    for number in range(clips + 3):
        is_broll = number % rng.choice((2, 3, 3, 4)) == 2 if number else False
        if is_broll or number >= clips:
            broll_index += 1
            length = int(broll_rate * rng.uniform(8, 40))
            name = f"BROLL_{broll_index:02d}"
            available = TimeRange(RationalTime(0, broll_rate), RationalTime(length, broll_rate))
            used = int(broll_rate * rng.uniform(2.0, 5.0))
            start = rng.randint(int(broll_rate), max(int(broll_rate), length - used - int(broll_rate)))
            reference = otio.schema.ExternalReference(target_url=f"file:///media/{name}.mov", available_range=None if missing_ranges else available)
            if number >= clips:
                unused.append({"name": name, "url": reference.target_url, "start": 0, "duration": length, "rate": broll_rate})
                continue
            clip = otio.schema.Clip(name=name, media_reference=reference,
                                    source_range=TimeRange(RationalTime(start, broll_rate), RationalTime(used, broll_rate)))
            clip.metadata["shot"] = "broll"
        else:
            speaker = rng.choice(speakers)
            used = int(rate * rng.uniform(4.0, 14.0))
            start = positions[speaker] + int(rate * rng.uniform(0.5, 20))
            positions[speaker] = start + used
            if start + used >= take_frames[speaker]:
                start, positions[speaker] = int(rate * 2), int(rate * 2) + used
            url = f"file:///media/INT_{speaker}_take1.mov"
            available = TimeRange(RationalTime(0, rate), RationalTime(take_frames[speaker], rate))
            reference = otio.schema.ExternalReference(target_url=url, available_range=None if missing_ranges else available)
            clip = otio.schema.Clip(name=f"INT_{speaker}", media_reference=reference,
                                    source_range=TimeRange(RationalTime(start, rate), RationalTime(used, rate)))
            clip.metadata["shot"] = f"int:{speaker}"
        video.append(clip)
    timeline.tracks.append(video)
    if rng.random() < 0.4:
        audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
        for clip in video:
            audio.append(clip.deepcopy())
        timeline.tracks.append(audio)
    if unused:
        timeline.metadata[BIN_METADATA] = unused
    return timeline


def label_shots(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy of ``timeline`` whose clips say what shot they are (``metadata["shot"]``), as a generated
    cut's do: a clip whose media is used more than once is a take (``int:MEDIA``), else B-roll."""
    labelled = timeline.deepcopy()
    clips = [item for track in tracks_of(labelled) for item in items_of(track) if isinstance(item, otio.schema.Clip)]
    uses: dict[str, int] = {}
    for clip in clips:
        uses[media_key(clip)] = uses.get(media_key(clip), 0) + 1
    for clip in clips:
        if not clip.metadata.get("shot"):
            key = media_key(clip)
            clip.metadata["shot"] = f"int:{key}" if uses[key] > 1 else "broll"
    return labelled


def starting_cuts(argument: str, rate: float, report: CollectReport) -> list[tuple[str, otio.schema.Timeline]]:
    """(name, timeline with labelled shots) for each readable timeline in a file or folder (a name is
    the file's path in the folder)."""
    path = Path(argument).expanduser()
    if not path.exists():
        raise NepError(f"synthetic: option 'from': {path}: no such file or folder")
    folder = path.is_dir() and path.suffix != ".otiod"
    files = sorted((child for child in path.rglob("*") if is_timeline_file(child)), key=str) if folder else [path]
    cuts = []
    reasons: list[str] = []
    for file in files:
        try:
            timeline = read_timeline(file, rate or None, notes=report.warnings)
        except NepError as error:
            reasons.append(str(error))
            report.warn(str(error))
            report.count("unreadable timelines")
            continue
        if not any(isinstance(item, otio.schema.Clip) for item in items_of(tracks_of(timeline)[0])):
            reasons.append(f"{file}: its first track has no clips to edit")
            report.warn(f"{reasons[-1]}; skipped")
            report.count("unreadable timelines")
            continue
        cuts.append((str(file.relative_to(path)) if folder else file.name, label_shots(timeline)))
    if not cuts:  # raised before the report is printed: the reasons go in the error
        if not reasons:
            raise NepError(f"synthetic: option 'from': no timeline files in {path}")
        more = f" (and {len(reasons) - REASONS_SHOWN} more)" if len(reasons) > REASONS_SHOWN else ""
        raise NepError(f"synthetic: option 'from': no timeline NEP can edit in {path}: {'; '.join(reasons[:REASONS_SHOWN])}{more}")
    return cuts


REASONS_SHOWN = 3
"""Files whose reasons the error of a ``from`` with nothing usable names (on its one line)."""


def _group(editor: Editor, rng: random.Random) -> Callable[[str], bool]:
    """Which shots a pass works on: interviews (or one speaker's), or B-roll."""
    shots = [shot for shot in editor.kinds() if shot]
    interviews = sorted({shot for shot in shots if shot.startswith("int:")})
    choice = rng.random()
    if not interviews:
        return lambda shot: shot == "broll"
    if choice < 0.55 or not any(shot == "broll" for shot in shots):
        return lambda shot: shot.startswith("int:")
    if choice < 0.75 and len(interviews) > 1:
        speaker = rng.choice(interviews)
        return lambda shot: shot == speaker
    return lambda shot: shot == "broll"


def pass_trims(editor: Editor, rng: random.Random, kind: str) -> None:
    matches = _group(editor, rng)
    amount = rng.choice(TRIM_AMOUNTS)
    sign = 1 if kind == "trim_in" else -1
    for index, shot in enumerate(editor.kinds()):
        if not matches(shot) or rng.random() < 0.12:
            continue
        jitter = rng.choice((0, 0, 0, 0, 0, 1, -1, 2, -2)) if rng.random() < 0.3 else 0
        editor.edit(kind, 0, index, frames=sign * max(1, amount + jitter))


def pass_pauses(editor: Editor, rng: random.Random) -> None:
    index = 0
    while index < len(editor.items()):
        shot = editor.kinds()[index]
        item = editor.items()[index]
        if shot.startswith("int:") and rng.random() < 0.5:
            length = round(item.source_range.duration.value_rescaled_to(timeline_rate(editor.timeline)))
            pause = rng.choice((6, 8, 10, 12, 16, 20, 24, 36))
            if length > pause + 48:
                offset = rng.randint(24, length - pause - 24)
                if editor.edit("split", 0, index, offset=offset) and editor.edit("split", 0, index + 1, offset=pause, gap=(1.0, 3.0)):
                    editor.edit("ripple_delete", 0, index + 1, gap=(0.5, 2.0), look=False)
                    index += 1
        index += 1


def pass_jl(editor: Editor, rng: random.Random) -> None:
    if len(tracks_of(editor.timeline)) < 2:
        return
    amount = rng.choice((6, 8, 10, 12, 12, 16, 24))
    kinds = [item.metadata.get("shot", "") if isinstance(item, otio.schema.Clip) else "" for item in editor.items(1)]
    for index in range(len(kinds) - 1):
        if kinds[index].startswith("int:") and kinds[index + 1] == "broll":
            editor.edit("roll", 1, index, frames=amount)  # L cut: the speaker is heard over the B-roll
        elif kinds[index] == "broll" and kinds[index + 1].startswith("int:"):
            editor.edit("roll", 1, index, frames=-amount)  # J cut: the speaker is heard before they are seen


def pass_dissolves(editor: Editor, rng: random.Random) -> None:
    frames = rng.choice(DISSOLVES)
    kinds = editor.kinds()
    for index in range(len(kinds) - 1):
        if (kinds[index] == "broll") != (kinds[index + 1] == "broll") and rng.random() < 0.85:
            editor.edit("add_transition", 0, index, frames=frames)


def pass_reorder(editor: Editor, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 2)):
        count = len(editor.items())
        source = rng.randrange(count)
        target = min(count - 1, max(0, source + rng.choice((-3, -2, -1, 1, 2, 3))))
        if target != source:
            editor.edit("move", 0, source, to=target)


def pass_lift(editor: Editor, rng: random.Random) -> None:
    index = rng.randrange(len(editor.items()))
    if editor.edit("delete", 0, index):
        editor.edit("ripple_delete", 0, index, gap=(2.0, 8.0))


def pass_slip(editor: Editor, rng: random.Random) -> None:
    kinds = editor.kinds()
    brolls = [index for index, shot in enumerate(kinds) if shot == "broll"]
    for index in rng.sample(brolls, min(len(brolls), rng.randint(1, 2))):
        editor.edit("slip", 0, index, frames=rng.choice((-48, -24, -12, 12, 24, 48, 72)))


def pass_insert(editor: Editor, rng: random.Random) -> None:
    bin_entries = view_of(editor.timeline).bin
    if not bin_entries:
        return
    media = rng.randrange(len(bin_entries))
    length = bin_entries[media].duration or 240
    frames = min(length - 1, rng.choice((48, 72, 96, 120)))
    editor.edit("insert", 0, rng.randrange(len(editor.items()) + 1), media=media, **{"in": rng.choice((0, 24, 48))}, frames=frames)


PASSES: dict[str, Callable[[Editor, random.Random], None]] = {
    "heads": lambda editor, rng: pass_trims(editor, rng, "trim_in"),
    "tails": lambda editor, rng: pass_trims(editor, rng, "trim_out"),
    "pauses": pass_pauses,
    "jl": pass_jl,
    "dissolves": pass_dissolves,
    "reorder": pass_reorder,
    "lift": pass_lift,
    "slip": pass_slip,
    "insert": pass_insert,
}
ORDER = ("reorder", "insert", "lift", "pauses", "heads", "tails", "slip", "jl", "dissolves")
WEIGHTS = {"heads": 5, "tails": 5, "pauses": 3, "jl": 2, "dissolves": 2, "reorder": 1, "lift": 1, "slip": 1, "insert": 1}


def make_session(
    seed: int, index: int, clips: int = 24, passes: int = 5, start: otio.schema.Timeline | None = None
) -> tuple[Editor, list[str]]:
    """The editor after session ``index`` of ``seed``, and the passes made (in order); it starts from
    ``start`` (shots labelled, see ``label_shots``) when given, else from a generated rough cut."""
    rng = random.Random(f"video-synthetic:{seed}:{index}")
    editor = Editor(rng, start.deepcopy() if start is not None else rough_cut(rng, clips))
    editor.start()
    editor.wait(1.0, 5.0)
    names = list(WEIGHTS)
    chosen: list[str] = []
    while len(chosen) < rng.randint(2, max(2, passes)):
        name = rng.choices(names, weights=[WEIGHTS[name] for name in names])[0]
        if name not in chosen:
            chosen.append(name)
    chosen.sort(key=ORDER.index)
    for number, name in enumerate(chosen):
        if number:
            editor.wait(*((20.0, 60.0) if rng.random() < 0.2 else (3.0, 12.0)))
        PASSES[name](editor, rng)
    return editor, chosen


class SyntheticCutCollector(Collector):
    name = "synthetic"
    description = "rough-cut to fine-cut editing sessions (trims, pauses, J/L cuts, dissolves...); ARGUMENT is the number of sessions, ?from=PATH starts them from your own timelines"
    version = "1"

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        head, options = parse_argument("synthetic", argument, DEFAULTS)
        if head and (not head.isdigit() or int(head) < 1):
            raise NepError(f"synthetic: ARGUMENT is a number of sessions, not '{head}'")
        if options["clips"] < 8:
            raise NepError("synthetic: option 'clips' must be at least 8")
        check_edl_rate(options["rate"], "synthetic: option 'rate'")
        cuts = starting_cuts(options["from"], options["rate"], report) if options["from"] else []
        for index in range(int(head) if head else DEFAULT_SESSIONS):
            name, start = cuts[index % len(cuts)] if cuts else ("", None)
            editor, passes = make_session(seed, index, options["clips"], max(2, options["passes"]), start)
            for kind, amount in editor.counts.items():
                report.count(kind, amount)
            report.count("sessions")
            meta = {"source": "synthetic", "source_id": f"synthetic:{seed}:{index}", "passes": passes, "seed": seed,
                    "app": "nep synthetic editor"}
            if name:
                meta.update(source_id=f"synthetic:{seed}:{index}:{name}", start=name)
            yield Session(id=f"video-synth-{seed}-{index:05d}", domain="video", events=editor.events, meta=meta)
