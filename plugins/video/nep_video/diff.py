"""Two versions of a timeline to the actions that turn the first into the second.

Per track (tracks matched by position), items are aligned by their media and overlapping source ranges
(the longest alignment: the unchanged items at both ends paired first, the rest by dynamic
programming, so a long track with a few changes is diffed in about linear time); then, left
to right with the current index of each item:

- an item kept: ``trim_in`` / ``trim_out`` for the moved in and out points, or ``slip`` when both
  moved by the same amount; a ``trim_out`` on one clip and the same ``trim_in`` on the next is a ``roll``;
- an item kept as several pieces of the same media (a pause cut out): ``split`` at each piece's
  end, then the trims of each piece;
- an item gone: ``ripple_delete``; a clip replaced by a gap of its length: ``delete``;
- a new item whose media is in the earlier version's bin (``media_bin``; the history collector gives
  each version the media of every version so far as its bin): ``insert``;
- one item taken out and put back elsewhere (the rest unchanged in order): ``move``;
- a new transition: ``add_transition``.

What cannot be written so (a new track, a new media, a removed transition, a gap that changed length
alone) goes into ``Diff.unexpressed``; the history collector then adds a snapshot of the new version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import opentimelineio as otio

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_video.edits import apply_edit
from nep_video.timeline import (
    ITEM_CLIP, ITEM_GAP, bin_reference, item_type, items_of, media_bin, media_key, source_range, timeline_rate, to_frames, tracks_of,
)


@dataclass
class Diff:
    actions: list[Action] = field(default_factory=list)
    unexpressed: list[str] = field(default_factory=list)
    exact: bool = True
    """Whether applying ``actions`` to the first version gives the second (compared as snapshots)."""


@dataclass(frozen=True)
class _Piece:
    type: str
    key: str
    start: int
    end: int
    name: str

    @property
    def duration(self) -> int:
        return self.end - self.start


def _pieces(track, rate: float) -> list[_Piece]:
    pieces = []
    for item in items_of(track):
        used = source_range(item)
        start = round(to_frames(used.start_time, rate))
        kind = item_type(item)
        key = media_key(item) if kind == ITEM_CLIP else f"<{kind}:{item.name if kind != ITEM_GAP else ''}>"
        pieces.append(_Piece(kind, key, start, start + round(to_frames(used.duration, rate)), item.name))
    return pieces


def diff_timelines(before: otio.schema.Timeline, after: otio.schema.Timeline) -> Diff:
    result = Diff()
    rate = timeline_rate(before)
    old_tracks, new_tracks = tracks_of(before), tracks_of(after)
    if len(old_tracks) != len(new_tracks):
        result.unexpressed.append(f"the number of tracks changed ({len(old_tracks)} to {len(new_tracks)})")
    bin_keys = [entry.key for entry in media_bin(before)]
    for track_index, (old, new) in enumerate(zip(old_tracks, new_tracks)):
        old_pieces, new_pieces = _pieces(old, rate), _pieces(new, rate)
        moved = _find_move(old_pieces, new_pieces)
        if moved is not None:
            source, to = moved
            result.actions.append(Action("move", {"track": track_index, "clip": source}, {"to": to}))
            old_pieces.insert(to, old_pieces.pop(source))
        result.actions += _track_actions(track_index, old_pieces, new_pieces, new, bin_keys, before, rate, result.unexpressed)
    middle = _applied(before, result.actions)
    if middle is not None:
        for track_index, (old, new) in enumerate(zip(tracks_of(middle), new_tracks)):
            result.actions += _transition_actions(track_index, old, new, rate, result.unexpressed)
    final = _applied(before, result.actions)
    result.exact = final is not None and _items(final) == _items(after)
    return result


def _applied(timeline, actions: list[Action]):
    """``timeline`` with ``actions`` applied, or None when one does not apply."""
    try:
        for action in actions:
            timeline = apply_edit(timeline, action)
    except InvalidAction:
        return None
    return timeline


def _find_move(old: list[_Piece], new: list[_Piece]) -> tuple[int, int] | None:
    """(from, to) when ``new`` is ``old`` with one item moved (items compared by media and range)."""
    if len(old) != len(new) or old == new or sorted(map(repr, old)) != sorted(map(repr, new)):
        return None
    first = next(index for index in range(len(old)) if old[index] != new[index])
    last = max(index for index in range(len(old)) if old[index] != new[index])
    for source, to in ((first, last), (last, first)):
        candidate = list(old)
        candidate.insert(to, candidate.pop(source))
        if candidate == new:
            return source, to
    return None


def _track_actions(track: int, old: list[_Piece], new: list[_Piece], new_track, bin_keys: list[str], before, rate: float,
                   notes: list[str]) -> list[Action]:
    actions: list[Action] = []
    index = 0  # the current index of the next item to settle
    groups: list[tuple[str, object, list[_Piece]]] = []  # ("keep", old, new pieces) | ("delete", old, []) | ("insert", None, [new]) | ("lift", old, [gap])
    for i, j in _align(old, new):
        if i is not None and j is not None:
            groups.append(("keep", old[i], [new[j]]))
        elif i is not None:
            groups.append(("delete", old[i], []))
        else:
            last = groups[-1] if groups else None
            piece = new[j]
            if last and last[0] == "keep" and last[1].type == ITEM_CLIP and piece.key == last[1].key and last[2][-1].end <= piece.start < last[1].end:
                last[2].append(piece)
            elif last and last[0] == "delete" and last[1].type != ITEM_GAP and piece.type == ITEM_GAP and abs(piece.duration - last[1].duration) <= 1:
                groups[-1] = ("lift", last[1], [piece])
            else:
                groups.append(("insert", None, [piece]))
    for kind, old_piece, pieces in groups:
        if kind == "delete":
            actions.append(Action("ripple_delete", {"track": track, "clip": index}))
        elif kind == "lift":
            actions.append(Action("delete", {"track": track, "clip": index}))
            index += 1
        elif kind == "insert":
            piece = pieces[0]
            if piece.type == ITEM_CLIP and piece.key in bin_keys:
                media = bin_keys.index(piece.key)
                origin = _media_origin(before, media, rate)
                actions.append(Action("insert", {"track": track, "clip": index}, {"media": media, "in": piece.start - origin, "frames": piece.duration}))
                index += 1
            else:
                notes.append(f"track {track}: {_unwritable_insert(piece)}")
        else:
            actions += _keep_actions(track, index, old_piece, pieces, notes)
            index += len(pieces)
    return _rolls(actions)


def _unwritable_insert(piece: _Piece) -> str:
    """Why a new item cannot be written as an ``insert``: a clip's media is not in the bin; no action inserts a gap or a stack."""
    if piece.type == ITEM_CLIP:
        return f"a new clip '{piece.name}' whose media is not in the bin"
    if piece.type == ITEM_GAP:
        return f"a new {piece.duration}-frame gap, which no action inserts (a lift leaves one where a clip was)"
    return f"a new nested stack '{piece.name}', which no action inserts"


def _matches(old: _Piece, new: _Piece) -> bool:
    """The same item in two versions: the same media and, for clips, overlapping source ranges."""
    return old.key == new.key and (old.type != ITEM_CLIP or max(old.start, new.start) < min(old.end, new.end))


def _align(old: list[_Piece], new: list[_Piece]) -> list[tuple[int | None, int | None]]:
    """The longest alignment of matching items, as (old index, new index) pairs in order, with None
    for an item only one version has (an old one before a new one). The items both versions start
    and end with unchanged (equal media and range) are paired first, in linear time, and the
    dynamic programming aligns what lies between: a version that changed a few items of a long
    track costs little more than its length, not its length squared."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    middle = _align_dp(old[head : len(old) - tail], new[head : len(new) - tail])
    return ([(index, index) for index in range(head)]
            + [(None if i is None else i + head, None if j is None else j + head) for i, j in middle]
            + [(len(old) - tail + index, len(new) - tail + index) for index in range(tail)])


def _align_dp(old: list[_Piece], new: list[_Piece]) -> list[tuple[int | None, int | None]]:
    """``_align`` by dynamic programming (the longest alignment; of equally long ones, matches and
    then old items first)."""
    rows, cols = len(old), len(new)
    best = [[0] * (cols + 1) for _ in range(rows + 1)]
    for i in range(rows - 1, -1, -1):
        for j in range(cols - 1, -1, -1):
            best[i][j] = max(best[i + 1][j], best[i][j + 1], best[i + 1][j + 1] + 1 if _matches(old[i], new[j]) else 0)
    pairs: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < rows or j < cols:
        if i < rows and j < cols and _matches(old[i], new[j]) and best[i][j] == best[i + 1][j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif i < rows and (j == cols or best[i][j] == best[i + 1][j]):
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    return pairs


def _media_origin(timeline, media: int, rate: float) -> int:
    """The first frame of bin media ``media``'s range (0 when unknown): where an insert's ``in`` counts from."""
    available = bin_reference(timeline, media)[0].available_range
    return 0 if available is None else round(to_frames(available.start_time, rate))


def _keep_actions(track: int, index: int, old: _Piece, pieces: list[_Piece], notes: list[str]) -> list[Action]:
    """Splits and trims that turn ``old`` (at ``index``) into ``pieces``."""
    actions: list[Action] = []
    start, end = old.start, old.end
    for number, piece in enumerate(pieces):
        target = {"track": track, "clip": index + number}
        if number + 1 < len(pieces):
            offset = piece.end - start
            if not 0 < offset < end - start:
                notes.append(f"track {track}: clip '{old.name}' was cut in pieces NEP cannot write as splits")
                return actions
            actions.append(Action("split", target, {"offset": offset}))
            piece_end = piece.end
        else:
            piece_end = end
        if old.type != ITEM_CLIP:
            if (piece.start, piece.end) != (start, piece_end) and old.type == ITEM_GAP:
                notes.append(f"track {track}: a gap changed length on its own")
            start = piece_end
            continue
        head, tail = piece.start - start, piece.end - piece_end
        if head and head == tail:
            actions.append(Action("slip", target, {"frames": head}))
        else:
            if head:
                actions.append(Action("trim_in", target, {"frames": head}))
            if tail:
                actions.append(Action("trim_out", target, {"frames": tail}))
        start = piece_end
    return actions


def _rolls(actions: list[Action]) -> list[Action]:
    """A ``trim_out`` by d on one clip followed by a ``trim_in`` by d on the next is one ``roll``."""
    merged: list[Action] = []
    for action in actions:
        last = merged[-1] if merged else None
        if (last is not None and last.kind == "trim_out" and action.kind == "trim_in" and action.args["frames"] == last.args["frames"]
                and action.target["clip"] == last.target["clip"] + 1 and action.target["track"] == last.target["track"]):
            merged[-1] = Action("roll", last.target, {"frames": last.args["frames"]})
        else:
            merged.append(action)
    return merged


def _cuts(track_object, rate: float) -> dict[int, int]:
    """Transitions by the item index before them: their length in frames."""
    found, item_index = {}, -1
    for child in track_object:
        if isinstance(child, otio.schema.Transition):
            found[item_index] = round(to_frames(child.in_offset + child.out_offset, rate))
        else:
            item_index += 1
    return found


def _transition_actions(track: int, old, new, rate: float, notes: list[str]) -> list[Action]:
    before, after = _cuts(old, rate), _cuts(new, rate)
    actions = []
    for index, frames in sorted(after.items()):
        if index not in before or before[index] != frames:
            actions.append(Action("add_transition", {"track": track, "clip": index}, {"frames": frames}))
    if len(set(before) - set(after)) and len(before) > len(after):
        notes.append(f"track {track}: a transition was removed")
    return actions


def _items(timeline) -> list:
    rate = timeline_rate(timeline)
    return [([(piece.type, piece.key, piece.start, piece.end) for piece in _pieces(track, rate)], _cuts(track, rate))
            for track in tracks_of(timeline)]
