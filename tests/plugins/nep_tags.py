"""The `tags` test domain: nested tags opened, written into and closed in reverse order.

Which tag to close next is decided by what was opened many steps back, past writes and scrolls, so
an n-gram model cannot get it right and a transformer can. Loaded like any third-party plugin through
NEP_PLUGINS_DIR (see tests/conftest.py).
"""

from __future__ import annotations

import random

import nep_core
from nep_core.action_space import KindSpec, Slot, SymbolicActionSpace
from nep_core.actions import Action
from nep_core.collector import Collector, CollectReport
from nep_core.domain import Domain
from nep_core.encoder import ActionHistoryEncoder
from nep_core.examples import ExampleConfig
from nep_core.session import Context, Event, Session
from nep_core.verifier import Verdict, Verifier

TAGS = ("a", "b", "c", "d", "e")
WORDS = ("x", "y")
MAX_DEPTH = 2
BODY = ("x", "y", "x")

ACTION_SPACE = SymbolicActionSpace(
    name="tags",
    version="1",
    kinds=[
        KindSpec("open", [Slot.choice("target", TAGS)]),
        KindSpec("close", [Slot.choice("target", TAGS)]),
        KindSpec("write", [Slot.choice("word", WORDS)]),
        KindSpec("scroll", [Slot.choice("dir", ("up", "down"))], edit=False),
    ],
)


def open_stack(actions) -> list[str] | None:
    """The open tags after ``actions``, innermost last; None when the actions are not well nested."""
    stack: list[str] = []
    for action in actions:
        if action.kind == "open":
            if len(stack) >= MAX_DEPTH or action.target in stack:
                return None
            stack.append(action.target)
        elif action.kind == "close":
            if not stack or stack[-1] != action.target:
                return None
            stack.pop()
        elif action.kind == "write" and not stack:
            return None
    return stack


class SyntheticTags(Collector):
    name = "synthetic"
    description = "random well-nested tag sessions; ARGUMENT is the number of sessions (default 300)"

    def collect(self, argument: str, report: CollectReport, seed: int = 0):
        count = int(argument or 300)
        for index in range(count):
            report.count("sessions")
            yield generate_session(random.Random(f"{seed}-{index}"), f"tags-{seed}-{index:05d}")


def generate_session(rng: random.Random, session_id: str) -> Session:
    events: list[Event] = []
    t = 0.0

    def emit(kind: str, **fields) -> None:
        nonlocal t
        t += rng.uniform(0.3, 1.5)
        edit = kind != "scroll"
        events.append(Event(t=round(t, 3), action=Action(kind=kind, edit=edit, **fields)))

    def maybe_scroll() -> None:
        for _ in range(rng.choice((0, 0, 0, 0, 1))):
            emit("scroll", args={"dir": rng.choice(("up", "down"))})

    for _block in range(rng.randint(2, 5)):
        stack = rng.sample(TAGS, rng.randint(1, MAX_DEPTH))
        for tag in stack:
            emit("open", target=tag)
            maybe_scroll()
        for word in BODY:  # every innermost tag gets the same body, so *when* to close is plain
            emit("write", args={"word": word})
            maybe_scroll()
        for tag in reversed(stack):  # *which* tag to close was decided several steps back
            emit("close", target=tag)
            maybe_scroll()
        if rng.random() < 0.5:
            t += rng.uniform(25.0, 60.0)  # a pause: nothing is predictable right now
    return Session(id=session_id, domain="tags", events=events, created="2026-11-23T00:00:00Z", meta={"generator": "tags"})


class NestingVerifier(Verifier):
    name = "nesting"
    description = "valid when the document stays well nested; reward 1 for the user's actual next action"

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        if predicted.is_no_edit:
            return Verdict(True, float(reference is not None and reference.is_no_edit))
        valid = open_stack([*context.actions(), predicted]) is not None
        reward = float(valid and reference is not None and predicted == reference)
        return Verdict(valid, reward, {"depth": len(open_stack(context.actions()) or [])})


@nep_core.hookimpl
def register_domains(register):
    register(
        Domain(
            name="tags",
            description="test domain: nested tags (long-range dependencies)",
            action_space=ACTION_SPACE,
            encoder=ActionHistoryEncoder(ACTION_SPACE, max_tokens=64, max_events=24),
            collectors={"synthetic": SyntheticTags()},
            verifiers={"nesting": NestingVerifier()},
            default_source="synthetic:300",
            default_preset="tiny",
            examples=ExampleConfig(horizon_events=2, pause_seconds=20.0),
        )
    )
