"""The krita history encoder: newest actions within the budget, gap tokens, the painter's state."""

from __future__ import annotations

from nep_core.action_space import UNK
from nep_core.actions import Action
from nep_core.session import Context, Event
from nep_krita.action_space import KritaActionSpace
from nep_krita.encoder import KritaEncoder, canvas_tokens


def hatch(index: int, t: float) -> Event:
    x = 100 + 12 * index
    points = [[x, 100, 0.8, 0], [x + 40, 180, 0.8, 120]]
    return Event(t, action=Action("stroke", args={"points": points, "brush": "c) Pencil-2", "color": "#202020", "size": 4.0, "opacity": 1.0}))


def context(events) -> Context:
    state = Event(0.0, state={"canvas": {"width": 1024, "height": 768}, "brush": "c) Pencil-2", "color": "#202020", "size": 4.0})
    return Context(history=[state, *events], state=state.state)


def test_history_strokes_in_full_then_state_tokens():
    space = KritaActionSpace()
    encoder = KritaEncoder(space)
    tokens = encoder.encode(context([hatch(0, 0.5), hatch(1, 1.0), hatch(2, 4.0)]))
    vocabulary = set(space.vocabulary()) | set(encoder.vocabulary())
    assert set(tokens) <= vocabulary
    assert tokens.count("@stroke") == 3
    assert tokens[tokens.index("@stroke"): tokens.index("@stroke") + 6] == space.encode(hatch(0, 0.5).action)[:6]
    assert "dt>2" in tokens  # 3 s pause before the third stroke
    state = tokens[-12:]
    assert state[:2] == canvas_tokens((1024, 768)) == ["cw=32", "ch=32"]
    assert "size=4" in state and "on=0" in state and "layer=0" in state
    assert state[-3:] == ["pen", "sx=5", "sy=5"]  # the last stroke ended at (164, 180)


def test_budget_keeps_the_newest_strokes():
    encoder = KritaEncoder(KritaActionSpace(), max_tokens=60)
    tokens = encoder.encode(context([hatch(index, index * 0.5) for index in range(10)]))
    assert len(tokens) <= 60
    newest = KritaActionSpace().encode(hatch(9, 4.5).action)
    assert tokens[-len(newest) - 12 : -12] == newest


def test_state_follows_actions_and_bad_actions_become_unk():
    events = [hatch(0, 0.5), Event(1.0, action=Action("color", args={"color": "#ff0000"})),
              Event(1.5, action=Action("eraser", args={"on": True})), Event(2.0, action=Action("smudge"))]
    tokens = KritaEncoder(KritaActionSpace()).encode(context(events))
    assert UNK in tokens
    assert ["r=7", "g=0", "b=0", "on=1"] == tokens[-8:-4]


def test_no_canvas_and_no_stroke_yet():
    tokens = KritaEncoder(KritaActionSpace()).encode(Context(history=[]))
    assert tokens[:2] == ["cw=?", "ch=?"] and "pen" not in tokens


def test_prompts_of_a_growing_session_mostly_share_their_beginning():
    encoder = KritaEncoder(KritaActionSpace())
    events = [hatch(index % 30, index * 0.5) for index in range(60)]
    shared = 0
    for length in range(1, len(events)):
        before = encoder.encode(context(events[:length]))[:-12]
        after = encoder.encode(context(events[: length + 1]))
        shared += after[: len(before)] == before
        assert len(after) <= encoder.max_tokens
    assert shared >= 0.6 * (len(events) - 1)


def test_the_time_key_is_all_the_encoder_reads_of_times():
    from inference_helpers import check_time_key

    contexts = [context([hatch(index, index * 0.7) for index in range(count)]) for count in (2, 5, 20)]
    unchanged, changed = check_time_key(KritaEncoder(KritaActionSpace()), contexts, variants=20)
    assert unchanged > 5 and changed > 10
