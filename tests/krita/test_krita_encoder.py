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


def test_history_strokes_as_the_model_writes_them_then_state_tokens():
    space = KritaActionSpace()
    encoder = KritaEncoder(space)
    tokens = encoder.encode(context([hatch(0, 0.5), hatch(1, 1.0), hatch(2, 4.0)]))
    vocabulary = set(space.vocabulary()) | set(encoder.vocabulary())
    assert set(tokens) <= vocabulary
    assert tokens.count("@stroke") == 3
    assert tokens[tokens.index("@stroke"): tokens.index("@stroke") + 6] == space.encode(hatch(0, 0.5).action)[:6]
    assert tokens.count("copy=1") == 2  # each further hatch is the one before it moved 12 px to the right
    assert "dt>2" in tokens  # 3 s pause before the third stroke
    state = tokens[-12:]
    assert state[:2] == canvas_tokens((1024, 768)) == ["cw=32", "ch=32"]
    assert "size=4" in state and "on=0" in state and "layer=0" in state
    assert state[-3:] == ["pen", "sx=5", "sy=5"]  # the last stroke ended at (164, 180)


def test_budget_keeps_the_newest_strokes():
    def line(index: int) -> Event:  # each longer than the one before: none is a copy
        points = [[100 + 12 * index, 100, 0.8, 0], [140 + 52 * index, 180 + 40 * index, 0.8, 120]]
        return Event(index * 0.5, action=Action("stroke", args={"points": points, "brush": "c) Pencil-2", "color": "#202020", "size": 4.0}))

    encoder = KritaEncoder(KritaActionSpace(), max_tokens=60)
    tokens = encoder.encode(context([line(index) for index in range(10)]))
    assert len(tokens) <= 60 and "copy=1" not in tokens
    newest = KritaActionSpace().encode(line(9).action)
    assert tokens[-len(newest) - 12 : -12] == newest


def test_a_stroke_that_copies_a_recent_one_is_written_as_the_copy_the_model_would_suggest():
    """In the prompt as in a suggestion: ``@stroke copy=N jx= jy=``, which the action space bound to the
    history before that stroke decodes to within COPY_TOLERANCE of it."""
    from nep_krita.action_space import COPY_TOLERANCE
    from nep_krita.raster import chamfer_distance
    from nep_krita.strokes import Stroke

    space = KritaActionSpace()
    encoder = KritaEncoder(space)
    other = Event(1.2, action=Action("stroke", args={"points": [[600, 500, 0.5, 0], [640, 420, 0.5, 50], [700, 430, 0.5, 90]]}))
    events = [hatch(0, 0.5), hatch(1, 1.0), other, hatch(2, 1.6)]
    tokens = encoder.encode(context(events))
    written = [tokens[index : index + 4] for index, token in enumerate(tokens) if token == "@stroke"]
    assert [chunk[1] for chunk in written] == ["sx=3", "copy=1", "sx=18", "copy=2"]  # the third copies the second of the two before it
    bound = space.for_context(context(events[:3]))
    decoded = bound.decode(written[3])
    assert chamfer_distance(Stroke.from_action(decoded), Stroke.from_action(hatch(2, 1.6).action)) <= COPY_TOLERANCE
    # a copy needs the strokes before it: alone, the same stroke is written in full
    alone = encoder.encode(context([hatch(2, 1.6)]))
    full = space.encode(hatch(2, 1.6).action)
    assert "copy=1" not in alone and alone[: len(full)] == full


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
