"""The video history encoder: recent actions newest first within a budget, then the clips around the anchor.

History: each action as the action space writes it, its clip counted from the clip of the located
action before it (``@trim_in track=0 c=+1 f=12`` five times reads as "the next clip, twelve frames,
again"), a ``dt>`` token before a pause.
State (after the history): ``now track=T``, then for each item from 2 before to 4 after the anchor on
the anchor's track: ``c=±K``, its type (``clip``/``gap``/``stack``), ``same`` or ``other`` media than
the anchor's clip, ``len=`` its length, ``hd=``/``tl=`` the media left before and after it
(coarse buckets, ``?`` when the media range is missing), and ``xfade`` when a transition follows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from nep_core.action_space import UNK
from nep_core.encoder import ActionHistoryEncoder, gap_token
from nep_core.errors import InvalidAction
from nep_core.session import Context
from nep_video.action_space import RELATIVE_TOKENS, TRACK_TOKENS, VideoActionSpace
from nep_video.frames import SIZE_BUCKETS, size_bucket
from nep_video.replay import snapshot_problem, timeline_at

NEIGHBOURS = (-2, -1, 0, 1, 2, 3, 4)
"""Items around the anchor the state shows, as offsets from it."""
ITEM_WORDS = ("clip", "gap", "stack", "same", "other", "xfade", "now", "none")


@dataclass
class VideoEncoder(ActionHistoryEncoder):
    action_space: VideoActionSpace
    max_tokens: int = 192
    max_events: int = 24

    def encode(self, context: Context) -> list[str]:
        state_part = self.timeline_tokens(context)
        budget = max(0, self.max_tokens - len(state_part))
        events = [event for event in context.history if event.action is not None]
        anchors = _anchors([event.action for event in events])
        return self.window_tokens(events, lambda position: self._event_tokens(events, position, anchors[position]), budget) + state_part

    def _event_tokens(self, events, position: int, anchor: int) -> list[str]:
        tokens = []
        if position:
            gap = gap_token(events[position].t - events[position - 1].t)
            if gap:
                tokens.append(gap)
        try:
            tokens.extend(self.action_space.write(events[position].action, anchor))
        except InvalidAction:
            tokens.append(UNK)
        return tokens

    def timeline_tokens(self, context: Context) -> list[str]:
        replayed = timeline_at(context)
        track, clip = replayed.anchor
        tokens = ["now"]
        if track >= len(replayed.view.tracks):
            return tokens + ["none"]
        tokens.append(TRACK_TOKENS[min(track, len(TRACK_TOKENS) - 1)])
        anchor_item = replayed.view.item(track, clip)
        anchor_media = anchor_item.media if anchor_item is not None else ""
        for offset in NEIGHBOURS:
            item = replayed.view.item(track, clip + offset)
            if item is None:
                continue
            tokens += [RELATIVE_TOKENS[offset], item.type, "same" if item.media and item.media == anchor_media else "other",
                       f"len={size_bucket(item.duration)}", f"hd={size_bucket(item.head)}", f"tl={size_bucket(item.tail)}"]
            if item.transition_after:
                tokens.append("xfade")
        return tokens

    def state_problem(self, state: Mapping[str, Any], where: str = "state") -> str | None:
        return snapshot_problem(state, where)

    def vocabulary(self) -> list[str]:
        buckets = [str(bucket) for bucket in SIZE_BUCKETS] + ["?"]
        return [*super().vocabulary(), *ITEM_WORDS, *(f"{name}={bucket}" for name in ("len", "hd", "tl") for bucket in buckets)]


def _anchors(actions) -> list[int]:
    """For each action, the clip of the located action before it (0 for the first)."""
    anchors, current = [], 0
    for action in actions:
        anchors.append(current)
        target = action.target if isinstance(action.target, dict) else None
        if target and isinstance(target.get("clip"), int) and not isinstance(target.get("clip"), bool):
            current = target["clip"]
    return anchors
