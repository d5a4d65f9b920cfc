"""``per_context``: a request's several readers of one context compute from it once."""

from __future__ import annotations

from nep_core.actions import Action
from nep_core.session import Context, Event, per_context


def test_the_same_context_is_computed_once_and_a_changed_one_again():
    calls = []

    @per_context
    def count_actions(context):
        calls.append(context)
        return len(context.actions())

    history = [Event(0.0, Action("open", target="a")), Event(1.0, Action("close", target="a"))]
    context = Context(history=history, session_id="s")
    assert count_actions(context) == 2 and count_actions(context) == 2
    assert len(calls) == 1
    history.append(Event(2.0, Action("open", target="b")))  # the same object, grown in place
    assert count_actions(context) == 3
    history[-1] = Event(2.0, Action("write", args={"word": "x"}))  # the same length, another newest event
    assert count_actions(context) == 3 and len(calls) == 3
    equal = Context(history=list(history), session_id="s")  # an equal but other context
    assert count_actions(equal) == 3 and len(calls) == 4
    assert count_actions(context) == 3 and len(calls) == 5  # only the last context is remembered
    assert count_actions.__doc__ == count_actions.__wrapped__.__doc__
