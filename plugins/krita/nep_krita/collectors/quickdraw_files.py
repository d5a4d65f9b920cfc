"""Drawings in Quick, Draw! files: ndjson (raw with timing, or simplified) and sketch-rnn ``.npz`` stroke-3.

Each reader yields ``Drawing`` records or ``Problem`` records (a bad line or array, named
``file:line`` or ``file:split[index]``); a file that cannot be read at all raises ``ValueError``.
"""

from __future__ import annotations

import gzip
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Union

import numpy as np

from nep_krita.collectors.safe_npz import load_npz
from nep_krita.strokes import from_stroke3

SUFFIXES = (".ndjson", ".ndjson.gz", ".npz")
NPZ_SPLITS = {"train": "train", "valid": "val", "test": "test"}
"""sketch-rnn's split names and the core's (``meta["split"]``)."""


@dataclass
class Drawing:
    """One drawing: strokes of ``(x, y)`` or ``(x, y, t_ms)`` points, as in the file, and what is known about it."""

    key: str
    word: str
    where: str
    strokes: list[list[tuple[float, ...]]]
    timed: bool
    meta: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Strokes dropped while reading (empty, one point, non-finite values), each a reason."""


@dataclass
class Problem:
    where: str
    reason: str


Record = Union[Drawing, Problem]


def drawing_files(path: Path) -> list[Path]:
    """The Quick, Draw! files at ``path`` (a file, or a folder searched recursively), sorted."""
    if path.is_file():
        return [path]
    return sorted(file for file in path.rglob("*") if file.is_file() and file.name.endswith(SUFFIXES) and not file.name.startswith("."))


def word_of(path: Path) -> str:
    """The category a file holds, from its name: ``full_raw_cat.ndjson``, ``sketchrnn_cat.full.npz``, ``cat.npz`` -> ``cat``."""
    name = path.name.split(".")[0]
    for prefix in ("full_simplified_", "full_raw_", "full_", "simplified_", "raw_", "sketchrnn_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name


def read_file(path: Path) -> Iterator[Record]:
    if path.name.endswith(".npz"):
        yield from read_npz(path)
    else:
        yield from read_ndjson(path)


# -- ndjson ------------------------------------------------------------------------------------------


def read_ndjson(path: Path) -> Iterator[Record]:
    """One record per line: ``{"key_id", "word", "drawing": [[xs, ys(, ts)], ...], ...}`` or a bare drawing list."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        handle = opener(path, "rb")
    except OSError as error:
        raise ValueError(f"cannot be opened ({error})") from None
    with handle:
        number = 0
        while True:
            try:
                raw = handle.readline()
            except (OSError, EOFError, zlib.error) as error:
                yield Problem(f"{path}:{number + 1}", f"the file cannot be read past here ({error}); rest of file skipped")
                return
            if not raw:
                return
            number += 1
            if raw.strip():
                yield parse_line(raw, f"{path}:{number}", word_of(path), number)


def parse_line(raw: bytes, where: str, default_word: str, number: int) -> Record:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return Problem(where, "not UTF-8 text; line skipped")
    except json.JSONDecodeError as error:
        return Problem(where, f"not valid JSON ({error.msg} at column {error.colno}); line skipped")
    except RecursionError:
        return Problem(where, "JSON nested too deeply; line skipped")
    if isinstance(record, list):
        record = {"drawing": record}
    if not isinstance(record, dict):
        return Problem(where, "a line must be a JSON object with a \"drawing\"; line skipped")
    drawing = record.get("drawing")
    if not isinstance(drawing, list):
        return Problem(where, "field \"drawing\" must be a list of strokes [[xs], [ys]] or [[xs], [ys], [ts]]; line skipped")
    key = record.get("key_id", f"line{number}")
    word = record.get("word", default_word)
    result = Drawing(key=str(key), word=str(word) if isinstance(word, str) and word else default_word, where=where, strokes=[], timed=False,
                     meta={name: record[name] for name in ("countrycode", "recognized", "timestamp") if name in record})
    timed = []
    for index, stroke in enumerate(drawing):
        points, reason = parse_stroke(stroke)
        if reason:
            result.problems.append(f"field \"drawing\"[{index}]: {reason}")
            continue
        result.strokes.append(points)
        timed.append(len(points[0]) == 3)
    result.timed = bool(timed) and all(timed)
    if not result.timed:
        result.strokes = [[point[:2] for point in points] for points in result.strokes]
    return result


def parse_stroke(stroke: Any) -> tuple[list[tuple[float, ...]], str]:
    """The points of ``[[xs], [ys]]`` or ``[[xs], [ys], [ts]]``, or a reason it is dropped."""
    if not isinstance(stroke, list) or len(stroke) not in (2, 3) or not all(isinstance(axis, list) for axis in stroke):
        return [], "a stroke must be [[xs], [ys]] or [[xs], [ys], [ts]]; stroke dropped"
    if len({len(axis) for axis in stroke}) != 1:
        return [], "xs, ys (and ts) of a stroke differ in length; stroke dropped"
    if not stroke[0]:
        return [], "empty stroke; dropped"
    for axis in stroke:
        for value in axis:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return [], f"{value!r} is not a finite number; stroke dropped"
    points = [tuple(float(value) for value in point) for point in zip(*stroke)]
    if len(points) < 2:
        return [], "single-point stroke (a dot); dropped"
    if all(point[:2] == points[0][:2] for point in points):
        return [], "all points of the stroke on one spot; dropped"
    return points, ""


# -- sketch-rnn npz ----------------------------------------------------------------------------------


def read_npz(path: Path) -> Iterator[Record]:
    """Every drawing of every split (``train``, ``valid``, ``test``): ``(N, 3)`` stroke-3 moves."""
    try:
        splits = load_npz(path)
    except Exception as error:  # zip, header and pickle errors of every kind: the file is skipped, never a crash
        raise ValueError(str(error) or type(error).__name__) from None
    word = word_of(path)
    for split in sorted(splits, key=lambda name: list(NPZ_SPLITS).index(name) if name in NPZ_SPLITS else len(NPZ_SPLITS)):
        array = splits[split]
        items = list(array) if array.dtype.hasobject or array.ndim == 3 else [array]
        for index, moves in enumerate(items):
            where = f"{path}:{split}[{index}]"
            strokes, reason = parse_moves(moves)
            if reason:
                yield Problem(where, f"{reason}; drawing skipped")
                continue
            drawing = Drawing(key=f"{word}-{split}-{index}", word=word, where=where, strokes=[], timed=False, meta={"npz_split": split})
            for number, stroke in enumerate(strokes):
                if len(stroke) < 2:
                    drawing.problems.append(f"stroke {number}: single-point stroke (a dot); dropped")
                elif all(point == stroke[0] for point in stroke):
                    drawing.problems.append(f"stroke {number}: all points on one spot; dropped")
                else:
                    drawing.strokes.append([tuple(point) for point in stroke])
            yield drawing


def parse_moves(moves: Any) -> tuple[list[list[tuple[float, float]]], str]:
    """Absolute strokes from one stroke-3 array, or a reason it cannot be used."""
    if not isinstance(moves, np.ndarray) or moves.ndim != 2 or moves.shape[1] != 3:
        shape = getattr(moves, "shape", type(moves).__name__)
        return [], f"expected an (N, 3) array of stroke-3 moves, got {shape}"
    if moves.dtype.kind not in "iuf":
        return [], f"expected numbers, got dtype {moves.dtype}"
    values = moves.astype(np.float64)
    if not np.isfinite(values).all():
        return [], "holds NaN or infinite values"
    if len(values) == 0:
        return [], "empty drawing"
    return from_stroke3(values.tolist()), ""
