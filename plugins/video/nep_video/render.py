"""A PNG of a timeline with an edit highlighted (Pillow): tracks as rows, items as boxes to scale.

Clips are grey boxes with their names, gaps are hatched outlines, transitions a dark band at their
cut; the edit's item is outlined red (an insert after a track's last item: a red line at its end),
with the edit written in the legend. ``render_outcomes`` draws ``nep eval --render DIR`` examples:
the predicted edit in red, and under the real next edit's item (or end of track) a green bar in the
space between the rows, so neither hides the other; an exact match shows both and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image, ImageDraw

from nep_core.actions import Action
from nep_core.evaluation.pictures import label_font
from nep_video.timeline import TimelineView

WIDTH = 1200
ROW = 44
MARGIN = 10
LEGEND = 40
CLIP_COLOR = (200, 200, 200)
GAP_COLOR = (245, 245, 245)
EDIT_COLOR = (214, 39, 40)
ACTUAL_COLOR = (44, 160, 44)
ACTUAL_BAR = 5
"""Pixels: the height of the green bar under the actual edit's item, in the space below the row's boxes."""
TEXT_COLOR = (0, 0, 0)


def render_timeline(view: TimelineView, edit: Action | None = None, label: str = "", actual: Action | None = None) -> Image.Image:
    total = max([sum(item.duration for item in track) for track in view.tracks] + [1])
    scale = (WIDTH - 2 * MARGIN) / total
    height = LEGEND + MARGIN + ROW * max(1, len(view.tracks))
    image = Image.new("RGB", (WIDTH, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.text((MARGIN, 6), label or "timeline", fill=TEXT_COLOR, font=label_font(13))
    for track_index, track in enumerate(view.tracks):
        top = LEGEND + track_index * ROW
        x = MARGIN
        for item_index, item in enumerate(track):
            width = max(1.0, item.duration * scale)
            box = (x, top, x + width - 1, top + ROW - 8)
            draw.rectangle(box, fill=CLIP_COLOR if item.type != "gap" else GAP_COLOR, outline=(120, 120, 120))
            if width > 40:
                draw.text((x + 3, top + 3), item.name[: max(1, int(width // 7))], fill=TEXT_COLOR, font=label_font(11))
            if _targets(edit, track_index, item_index):
                draw.rectangle(box, outline=EDIT_COLOR, width=4)
            if _targets(actual, track_index, item_index):
                _bar_under(draw, x, x + width - 1, top)
            if item.transition_after:
                draw.rectangle((x + width - 3, top, x + width + 3, top + ROW - 8), fill=(60, 60, 60))
            x += width
        if _inserts_after(edit, track_index, len(track)):
            draw.line((x, top, x, top + ROW - 8), fill=EDIT_COLOR, width=4)
        if _inserts_after(actual, track_index, len(track)):
            _bar_under(draw, x, x, top)
    return image


def _bar_under(draw: ImageDraw.ImageDraw, left: float, right: float, top: int) -> None:
    """The actual edit's mark: a green bar under ``left..right`` (at least 9 pixels wide) of the row at ``top``."""
    middle, half = (left + right) / 2, max(4.0, (right - left) / 2)
    draw.rectangle((middle - half, top + ROW - 7, middle + half, top + ROW - 8 + ACTUAL_BAR), fill=ACTUAL_COLOR)


def _on_track(action: Action | None, track: int) -> bool:
    return action is not None and isinstance(action.target, dict) and action.target.get("track") == track


def _targets(action: Action | None, track: int, index: int) -> bool:
    return _on_track(action, track) and not action.is_no_edit and action.target.get("clip") == index


def _inserts_after(action: Action | None, track: int, items: int) -> bool:
    """An insert after the last of the track's ``items``: at its end, where there is no item to mark."""
    return _on_track(action, track) and action.kind == "insert" and isinstance(action.target.get("clip"), int) and action.target["clip"] >= items


def render_outcomes(outcomes: Sequence, folder: Path, limit: int) -> list[Path]:
    """PNGs of up to ``limit`` outcomes whose reference is an edit, ``NNNN-SESSION-TRIGGER.png``."""
    from nep_core.evaluation.pictures import write_pictures
    from nep_video.replay import timeline_at

    def draw(outcome):
        if outcome.reference.is_no_edit:
            return None
        replayed = timeline_at(outcome.example.context)
        view = replayed.view
        label = (f"predicted (red outline): {edit_label(outcome.best, replayed.timeline)}   "
                 f"actual (green bar below): {edit_label(outcome.reference, replayed.timeline)}")
        if outcome.best == outcome.reference:
            label += "   (exact match)"
        return render_timeline(view, outcome.best, label, outcome.reference)

    return write_pictures(outcomes, folder, limit, draw)


def edit_label(action: Action, timeline) -> str:
    """``action`` in words on ``timeline``, its item named as ``nep video suggest`` names it (``V1 clip 5
    'INT_5'``); the action space's ``track 1 item 5`` where the timeline has no such track."""
    from nep_video.action_space import VideoActionSpace, edit_text
    from nep_video.timeline import item_name, items_of, track_label, tracks_of

    target = action.target if isinstance(action.target, dict) else {}
    tracks = tracks_of(timeline)
    track, index = target.get("track"), target.get("clip")
    whole = all(isinstance(value, int) and not isinstance(value, bool) for value in (track, index))
    if action.is_no_edit or not whole or not 0 <= track < len(tracks) or index < 0:
        return VideoActionSpace().describe(action)
    items = items_of(tracks[track])
    place = item_name(items[index], index + 1) if index < len(items) else "after its last item"
    return edit_text(action, f"{track_label(tracks, track)} {place}")
