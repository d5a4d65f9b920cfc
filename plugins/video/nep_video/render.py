"""A PNG of a timeline with an edit highlighted (Pillow): tracks as rows, items as boxes to scale.

Clips are grey boxes with their names, gaps are hatched outlines, transitions a dark band at their
cut; the edit's item is drawn red, with the edit written in the legend; the playhead (when given) is
a blue line. ``render_outcomes`` draws ``nep eval --render DIR`` examples: the predicted edit in red,
the real next edit's item outlined in green.
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
            for marked, color in ((actual, ACTUAL_COLOR), (edit, EDIT_COLOR)):
                if _targets(marked, track_index, item_index):
                    draw.rectangle(box, outline=color, width=4 if color == EDIT_COLOR else 2)
            if item.transition_after:
                draw.rectangle((x + width - 3, top, x + width + 3, top + ROW - 8), fill=(60, 60, 60))
            x += width
        if edit is not None and edit.kind == "insert" and _on_track(edit, track_index) and edit.target["clip"] >= len(track):
            draw.line((x, top, x, top + ROW - 8), fill=EDIT_COLOR, width=4)
    return image


def _on_track(action: Action | None, track: int) -> bool:
    return action is not None and isinstance(action.target, dict) and action.target.get("track") == track


def _targets(action: Action | None, track: int, index: int) -> bool:
    return _on_track(action, track) and not action.is_no_edit and action.target.get("clip") == index


def render_outcomes(outcomes: Sequence, folder: Path, limit: int) -> list[Path]:
    """PNGs of up to ``limit`` outcomes whose reference is an edit, ``NNNN-SESSION-TRIGGER.png``."""
    from nep_core.evaluation.pictures import write_pictures
    from nep_video.replay import timeline_at

    def draw(outcome):
        if outcome.reference.is_no_edit:
            return None
        view = timeline_at(outcome.example.context).view
        label = f"predicted (red): {_label(outcome.best)}   actual (green): {_label(outcome.reference)}"
        return render_timeline(view, outcome.best, label, outcome.reference)

    return write_pictures(outcomes, folder, limit, draw)


def _label(action: Action) -> str:
    from nep_video.action_space import VideoActionSpace

    return VideoActionSpace().describe(action)
