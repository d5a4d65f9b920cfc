"""``quickdraw:PATH[?option=value&...]``: Quick, Draw! drawings on disk as krita sessions, one drawing a session.

PATH is a file or a folder (searched recursively) of ``.ndjson`` / ``.ndjson.gz`` files (the raw
form, ``[[xs], [ys], [ts]]`` per stroke with milliseconds, or the simplified 0-255 form
``[[xs], [ys]]``) and sketch-rnn ``.npz`` files (``train``/``valid``/``test`` object arrays of
``(N, 3)`` stroke-3 moves, read without unpickling anything but numpy arrays: see ``safe_npz``).

A drawing is fitted onto the canvas (its bounding box scaled uniformly and centred, ``margin`` of
each side left free) unless ``fit=0``, which keeps its coordinates as document pixels and drops the
strokes that leave the canvas. Strokes are simplified (RDP, ``epsilon`` canvas pixels) and painted
with one brush; timing comes from the raw data, else it is synthesized (drawing speed, pauses
between strokes) deterministically from the drawing's key. Each session is a state event (canvas,
brush set-up) then one ``stroke`` action per stroke, at pen-up time.

``meta``: ``source`` ``"quickdraw"``, ``source_id`` the drawing's ``key_id`` (sketch-rnn drawings:
``WORD-SPLIT-INDEX``), ``word`` the category, ``file``; npz drawings also get ``split``
(``valid`` becomes ``val``), so sketch-rnn's own test drawings stay in the test split.

Bad input is reported and skipped, never raised: a line that is not JSON or has no drawing
(``file:line``), an unreadable or unsafe npz (``file``), an empty or single-point stroke, a
non-finite value, a stroke off the canvas or one that shrinks to a point when its drawing is fitted
(a point far from the rest: ``file:line: field "drawing"[i]``), a drawing whose extent is
more than a float holds (``file:line: field "drawing"``), a drawing left with fewer than
``min_strokes`` strokes, a line nested too deeply to parse. At most ``MAX_WARNINGS_PER_FILE`` warnings per file are listed;
the counts cover all of them.

=========== ================== =========================================================
option      default            meaning
=========== ================== =========================================================
limit       0                  most sessions from one file (0: all)
split       all                npz only: ``train``, ``valid``, ``test`` or ``all``
recognized  0                  1: only drawings the game recognized
min_strokes 2                  drawings with fewer strokes are skipped
width       1024               canvas width in pixels
height      768                canvas height in pixels
margin      0.08               share of each side left free around a fitted drawing
fit         1                  0: keep file coordinates (strokes off the canvas are dropped)
epsilon     0.5                RDP tolerance in canvas pixels (0: keep every point)
brush       b) Basic-5 Size    brush preset the strokes are painted with
color       #000000            their colour
size        5.0                their size in pixels
pressure    1.0                their pressure (Quick, Draw! records none)
check       0                  1: count the strokes the action space cannot write (about 4x slower)
=========== ================== =========================================================
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from pathlib import Path
from typing import Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.errors import NepError
from nep_core.session import Event, Session
from nep_core.source_options import parse_argument
from nep_krita.collectors.quickdraw_files import Drawing, Problem, drawing_files, read_file
from nep_krita.strokes import Stroke, simplify

DEFAULTS = {
    "limit": 0, "split": "all", "recognized": False, "min_strokes": 2, "width": 1024, "height": 768, "margin": 0.08,
    "fit": True, "epsilon": 0.5, "brush": "b) Basic-5 Size", "color": "#000000", "size": 5.0, "pressure": 1.0, "check": False,
}
MAX_WARNINGS_PER_FILE = 20
SPLIT_NAMES = {"train": "train", "valid": "val", "test": "test"}


class FileWarnings:
    """Warnings of one file into the report: the first ``MAX_WARNINGS_PER_FILE``, then one line that counts the rest."""

    def __init__(self, report: CollectReport, path: Path):
        self.report, self.path, self.listed, self.more = report, path, 0, 0

    def warn(self, message: str) -> None:
        if self.listed < MAX_WARNINGS_PER_FILE:
            self.report.warn(message)
            self.listed += 1
        else:
            self.more += 1

    def close(self) -> None:
        if self.more:
            self.report.warn(f"{self.path}: {self.more} more problems not listed (see the counts)")


def slug(text: str) -> str:
    """A part of a session id: lower-case letters and digits joined by ``-``. Text with other characters
    (``猫``, ``a.b``) also gets a short hash of itself, so that words or keys that differ only in such
    characters keep different ids (case, spaces and ``_`` are still folded: ``Cat`` is ``cat``)."""
    plain = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "drawing"
    if re.fullmatch(r"[A-Za-z0-9 _-]*", text):
        return plain
    return f"{plain}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:8]}"


def created_of(timestamp) -> str:
    """``2017-03-01 20:41:36.70725 UTC`` -> ``2017-03-01T20:41:36Z`` (empty when it is not that shape)."""
    match = re.match(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)", timestamp) if isinstance(timestamp, str) else None
    return f"{match.group(1)}T{match.group(2)}Z" if match else ""


class QuickDrawCollector(Collector):
    name = "quickdraw"
    description = "Quick, Draw! drawings (.ndjson raw or simplified, sketch-rnn .npz) on disk; ARGUMENT is a file or folder"
    version = "1"

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        head, options = parse_argument("quickdraw", argument, DEFAULTS)
        if not head:
            raise NepError("quickdraw: pass a file or folder of Quick, Draw! drawings: quickdraw:PATH (see docs/domains/krita.md)")
        if options["split"] not in ("all", *SPLIT_NAMES):
            raise NepError(f"quickdraw: option 'split' is train, valid, test or all, not '{options['split']}'")
        if options["width"] < 16 or options["height"] < 16:
            raise NepError("quickdraw: the canvas must be at least 16x16 pixels")
        if not 0.0 <= options["pressure"] <= 1.0:
            raise NepError(f"quickdraw: option 'pressure' must be between 0 and 1, not {options['pressure']:g}")
        if not 0.0 <= options["margin"] < 0.5:
            raise NepError(f"quickdraw: option 'margin' must be at least 0 and below 0.5, not {options['margin']:g}")
        try:
            Stroke.from_action(Stroke(((0, 0, 1, 0), (1, 1, 1, 0)), options["brush"], options["color"], options["size"]).to_action())
        except ValueError as error:
            raise NepError(f"quickdraw: bad brush option: {error}") from None
        path = Path(head).expanduser()
        if not path.exists():
            raise NepError(f"quickdraw: {path}: no such file or folder")
        files = drawing_files(path)
        if not files:
            raise NepError(f"quickdraw: {path}: no .ndjson, .ndjson.gz or .npz files found")
        seen: set[str] = set()
        for file in files:
            yield from self._file(file, options, report, seen)

    def _file(self, path: Path, options: dict, report: CollectReport, seen: set[str]) -> Iterable[Session]:
        warnings = FileWarnings(report, path)
        made = 0
        try:
            for record in read_file(path):
                if options["limit"] and made >= options["limit"]:
                    break
                if isinstance(record, Problem):
                    report.count("bad lines or arrays skipped")
                    warnings.warn(f"{record.where}: {record.reason}")
                    continue
                session = self._session(record, path, options, report, warnings, seen)
                if session is not None:
                    made += 1
                    yield session
        except ValueError as error:
            report.count("files that cannot be read (skipped)")
            report.warn(f"{path}: {error}; file skipped")
        finally:
            warnings.close()
        report.count("files read")

    def _session(self, drawing: Drawing, path: Path, options: dict, report: CollectReport, warnings: FileWarnings, seen: set[str]) -> Session | None:
        split = drawing.meta.get("npz_split")
        if split is not None and options["split"] != "all" and split != options["split"]:
            return None
        if options["recognized"] and drawing.meta.get("recognized") is False:
            report.count("drawings not recognized (skipped)")
            return None
        for problem in drawing.problems:
            report.count("strokes dropped (empty, one point, non-finite)")
            warnings.warn(f"{drawing.where}: {problem}")
        strokes = self._place(drawing, options, report, warnings)
        if strokes is None:
            return None
        if len(strokes) < max(1, options["min_strokes"]):
            report.count("drawings with too few strokes (skipped)")
            return None
        key, word = slug(drawing.key), slug(drawing.word)
        session_id = f"quickdraw-{key}" if key.startswith(word + "-") else f"quickdraw-{word}-{key}"
        if session_id in seen:
            report.count("duplicate drawings (skipped)")
            warnings.warn(f"{drawing.where}: drawing {drawing.key} of '{drawing.word}' seen before; skipped")
            return None
        seen.add(session_id)
        timed = drawing.timed and recorded_times_usable(strokes)
        events = self._events(drawing, strokes, options, timed)
        report.count("sessions")
        report.count("strokes", len(strokes))
        if options["check"] and self.action_space is not None:
            report.count("strokes the action space cannot write", sum(not self._writable(event) for event in events[1:]))
        meta = {"source": "quickdraw", "source_id": drawing.key, "word": drawing.word, "file": path.name,
                "timing": "recorded" if timed else "synthesized"}
        meta.update({name: value for name, value in drawing.meta.items() if name in ("countrycode", "recognized")})
        if split is not None:
            meta["split"] = SPLIT_NAMES.get(split, split)
        return Session(id=session_id, domain="krita", events=events, created=created_of(drawing.meta.get("timestamp")), meta=meta)

    def _place(self, drawing: Drawing, options: dict, report: CollectReport, warnings: FileWarnings) -> list[list[tuple[float, ...]]] | None:
        """The drawing's strokes in canvas pixels: fitted to the canvas, or kept (strokes off it dropped);
        None for a drawing whose extent no float can hold (reported)."""
        width, height = options["width"], options["height"]
        if not options["fit"]:
            kept = []
            for index, stroke in enumerate(drawing.strokes):
                if all(0 <= x <= width and 0 <= y <= height for x, y, *_ in stroke):
                    kept.append(stroke)
                else:
                    report.count("strokes off the canvas (dropped)")
                    warnings.warn(f"{drawing.where}: field \"drawing\"[{index}]: points off the {width}x{height} canvas; stroke dropped")
            return kept
        xs = [point[0] for stroke in drawing.strokes for point in stroke]
        ys = [point[1] for stroke in drawing.strokes for point in stroke]
        if not xs:
            return []
        span_x, span_y = max(xs) - min(xs), max(ys) - min(ys)
        if not (math.isfinite(span_x) and math.isfinite(span_y)):
            report.count("drawings too wide to fit (skipped)")
            warnings.warn(f"{drawing.where}: field \"drawing\": the coordinates span {span_x:g} x {span_y:g}, more than a "
                          "number can hold; drawing skipped")
            return None
        free_x, free_y = width * (1 - 2 * options["margin"]), height * (1 - 2 * options["margin"])
        scale = min(free_x / span_x if span_x else math.inf, free_y / span_y if span_y else math.inf)
        if not math.isfinite(scale):
            return []
        left, top = (width - span_x * scale) / 2, (height - span_y * scale) / 2
        min_x, min_y = min(xs), min(ys)
        fitted = []
        for index, stroke in enumerate(drawing.strokes):  # offsets from the corner: finite wherever the span is
            points = [(left + (point[0] - min_x) * scale, top + (point[1] - min_y) * scale, *point[2:]) for point in stroke]
            if len({(round(x, 1), round(y, 1)) for x, y, *_ in points}) < 2:
                report.count("strokes that shrink to a point on the canvas (dropped)")
                warnings.warn(f"{drawing.where}: field \"drawing\"[{index}]: the stroke shrinks to a point when the drawing "
                              f"(spanning {span_x:g} x {span_y:g}) is fitted onto the canvas; a point far from the others? stroke dropped")
                continue
            fitted.append(points)
        return fitted

    def _events(self, drawing: Drawing, strokes: list[list[tuple[float, ...]]], options: dict, timed: bool) -> list[Event]:
        """The session's events: the set-up, then each stroke at its pen-up time (recorded when ``timed``, else synthesized)."""
        state = {"canvas": {"width": options["width"], "height": options["height"]}, "layer": "Paint Layer 1",
                 "brush": options["brush"], "color": options["color"], "size": options["size"], "opacity": 1.0}
        events = [Event(t=0.0, state=state)]
        rng = random.Random(f"quickdraw:{drawing.word}:{drawing.key}")
        clock = 0.0
        for stroke in strokes:
            if timed:
                start = stroke[0][2]
                points = [(x, y, options["pressure"], t - start) for x, y, t in stroke]
                pen_up = stroke[-1][2] / 1000.0
            else:
                points, elapsed = [], 0.0
                speed = rng.uniform(0.4, 1.0)  # pixels per millisecond
                for index, point in enumerate(stroke):
                    if index:
                        elapsed += math.dist(stroke[index - 1][:2], point[:2]) / speed
                    points.append((point[0], point[1], options["pressure"], elapsed))
                clock += rng.uniform(0.25, 0.9) + (0.04 + elapsed / 1000.0)
                pen_up = clock
            if options["epsilon"] > 0:
                points = [tuple(point) for point in simplify(points, options["epsilon"])]
            stroke_action = Stroke(tuple(points), options["brush"], options["color"].lower(), float(options["size"]), 1.0).to_action()
            events.append(Event(t=round(pen_up, 3), action=stroke_action))
        return events

    def _writable(self, event: Event) -> bool:
        from nep_core.errors import InvalidAction

        try:
            self.action_space.encode(event.action)
        except InvalidAction:
            return False
        return True


def recorded_times_usable(strokes: list[list[tuple[float, ...]]]) -> bool:
    """Raw timestamps that never run backwards and start at or after zero."""
    last = 0.0
    for stroke in strokes:
        for point in stroke:
            if point[2] < last:
                return False
            last = point[2]
    return True
