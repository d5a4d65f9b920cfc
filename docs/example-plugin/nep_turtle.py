"""nep-turtle: a turtle-graphics domain for NEP.

A turtle walks a 13 x 13 grid and draws where it goes. People draw squares and
staircases, hop elsewhere with the pen up, and zoom the view. NEP suggests the next move.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import typer

import nep_core
from nep_core.action_space import KindSpec, Slot, SymbolicActionSpace
from nep_core.actions import Action
from nep_core.cli.subapp import tools_app
from nep_core.collector import Collector, CollectReport
from nep_core.domain import Domain
from nep_core.encoder import ActionHistoryEncoder
from nep_core.errors import InvalidAction, NepError
from nep_core.rl.reward_weights import RewardWeights
from nep_core.session import Context, Event, Session
from nep_core.source_options import parse_argument
from nep_core.verifier import Verdict, Verifier

SIZE = 13
STEP = {0: (1, 0), 90: (0, 1), 180: (-1, 0), 270: (0, -1)}


@dataclass(frozen=True)
class Turtle:
    """Where the turtle is: it starts in the middle of the canvas, facing east, pen down."""

    x: int = SIZE // 2
    y: int = SIZE // 2
    heading: int = 0
    pen: bool = True

    def apply(self, action: Action) -> Turtle:
        """The turtle after ``action``; ValueError when the action cannot be done here."""
        if action.kind == "forward":
            dx, dy = STEP[self.heading]
            steps = action.args["steps"]
            x, y = self.x + dx * steps, self.y + dy * steps
            if not (0 <= x < SIZE and 0 <= y < SIZE):
                raise ValueError(f"forward {steps} leaves the canvas at ({x}, {y})")
            return replace(self, x=x, y=y)
        if action.kind == "turn":
            return replace(self, heading=(self.heading + (90 if action.args["dir"] == "left" else 270)) % 360)
        if action.kind in ("pen_up", "pen_down"):
            if self.pen == (action.kind == "pen_down"):
                raise ValueError(f"{action.kind}: the pen is already {'down' if self.pen else 'up'}")
            return replace(self, pen=not self.pen)
        if action.kind == "home":
            return Turtle(pen=self.pen)
        return self  # zoom changes the view, not the drawing

    def run(self, actions, skip_invalid: bool = False) -> Turtle:
        """The turtle after ``actions``; with ``skip_invalid``, actions it cannot do are ignored."""
        turtle = self
        for action in actions:
            try:
                turtle = turtle.apply(action)
            except (ValueError, KeyError, TypeError):
                if not skip_invalid:
                    raise
        return turtle


ACTION_SPACE = SymbolicActionSpace(
    name="turtle",
    version="1",
    kinds=[
        KindSpec("forward", [Slot.number("steps", 1, 4, 1)], description="move, drawing if the pen is down"),
        KindSpec("turn", [Slot.choice("dir", ["left", "right"])], description="turn 90 degrees"),
        KindSpec("pen_up", description="lift the pen"),
        KindSpec("pen_down", description="lower the pen"),
        KindSpec("home", description="jump back to the middle, facing east"),
        KindSpec("zoom", [Slot.choice("level", [1, 2, 4])], edit=False, description="zoom the view"),
    ],
)


class TurtleEncoder(ActionHistoryEncoder):
    """Recent actions, then where the turtle is now: ``x=6 y=9 heading=90 pen=down``."""

    def encode(self, context: Context) -> list[str]:
        turtle = Turtle().run(context.actions(), skip_invalid=True)
        return super().encode(replace(context, state=asdict(turtle)))

    def state_tokens(self, state) -> list[str]:
        pen = "down" if state["pen"] else "up"
        return [f"x={state['x']}", f"y={state['y']}", f"heading={state['heading']}", f"pen={pen}"]

    def vocabulary(self) -> list[str]:
        places = [f"{axis}={i}" for axis in "xy" for i in range(SIZE)]
        return [*super().vocabulary(), *places, *(f"heading={h}" for h in STEP), "pen=down", "pen=up"]


def forward(steps: int) -> Action:
    return Action("forward", args={"steps": steps})


def turn(direction: str) -> Action:
    return Action("turn", args={"dir": direction})


def square(side: int, way: str) -> list[Action]:
    return [forward(side), turn(way)] * 4


def stairs(side: int, way: str) -> list[Action]:
    back = "right" if way == "left" else "left"
    return [forward(side), turn(way), forward(side), turn(back)] * 2


def hop(rng: random.Random) -> list[Action]:
    """Lift the pen, move somewhere else, put it down again."""
    turns = [turn(rng.choice(["left", "right"]))] if rng.random() < 0.5 else []
    return [Action("pen_up"), *turns, forward(rng.randint(1, 4)), Action("pen_down")]


def fits(turtle: Turtle, actions: list[Action]) -> bool:
    try:
        turtle.run(actions)
    except ValueError:
        return False
    return True


def sketch(rng: random.Random, session_id: str, breaks: float = 0.3) -> Session:
    """One person's session: a few shapes, hops between them, the odd zoom, and a break after a shape with chance ``breaks``."""
    turtle, t, events = Turtle(), 0.0, []
    for _ in range(rng.randint(3, 6)):
        shape = rng.choice([square, stairs])(rng.randint(1, 3), rng.choice(["left", "right"]))
        # Draw it here, or hop first, or go home first: whichever first stays on the canvas.
        prefixes = [*rng.sample([[], hop(rng)], 2), [Action("home")]]
        prefix = next(p for p in prefixes if fits(turtle, p + shape))
        for action in prefix + shape:
            if rng.random() < 0.05:  # a view change: context, never suggested
                t += rng.uniform(0.2, 1.0)
                zoom = Action("zoom", args={"level": rng.choice([1, 2, 4])}, edit=False)
                events.append(Event(t=round(t, 3), action=zoom))
            t += rng.uniform(0.2, 1.5)
            turtle = turtle.apply(action)
            events.append(Event(t=round(t, 3), action=action))
        if rng.random() < breaks:
            t += rng.uniform(25.0, 60.0)  # a break: what comes next is anyone's guess
    return Session(id=session_id, domain="turtle", events=events, meta={"generator": "nep-turtle"})


class Sketches(Collector):
    name = "synthetic"
    description = "people drawing squares and staircases; ARGUMENT is the number of sessions (default 200); option: breaks (0.3)"

    def collect(self, argument: str, report: CollectReport, seed: int = 0):
        count, options = parse_argument("synthetic", argument, {"breaks": 0.3})
        if count and not count.isdigit():
            raise NepError(f"synthetic: ARGUMENT is a number of sessions, not '{count}'")
        if options["breaks"] > 1:
            raise NepError(f"synthetic: option 'breaks' is a chance from 0 to 1, not {options['breaks']}")
        for index in range(int(count or 200)):
            report.count("sessions")
            yield sketch(random.Random(f"{seed}-{index}"), f"turtle-{seed}-{index:04d}", options["breaks"])


class CanvasVerifier(Verifier):
    name = "canvas"
    description = "the turtle can do it where it stands; reward 1 for the user's next action, 0.5 for its kind"

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        if predicted.is_no_edit:
            return Verdict(True, float(reference is not None and reference.is_no_edit))
        turtle = Turtle().run(context.actions(), skip_invalid=True)
        try:
            turtle.apply(ACTION_SPACE.validate(predicted))
        except (InvalidAction, ValueError) as error:
            return Verdict(False, 0.0, {"error": str(error)})
        if reference is None:
            return Verdict(True, 0.0)
        return Verdict(True, 1.0 if predicted == reference else 0.5 if predicted.kind == reference.kind else 0.0)


@nep_core.hookimpl
def register_domains(register):
    register(
        Domain(
            name="turtle",
            description="turtle graphics: squares and staircases on a 13x13 grid",
            action_space=ACTION_SPACE,
            encoder=TurtleEncoder(ACTION_SPACE, max_tokens=64, max_events=16),
            collectors={"synthetic": Sketches()},
            verifiers={"canvas": CanvasVerifier()},
            default_source="synthetic:200",
            default_preset="tiny",
            rl_rewards=RewardWeights(match_mode="exact", valid=0.0, no_edit=0.0),
        )
    )


def render(actions) -> str:
    """ASCII art of what ``actions`` draw: ``#`` is ink, ``>^<v`` is the turtle."""
    turtle, ink = Turtle(), set()
    for action in actions:
        try:
            after = turtle.apply(action)
        except (ValueError, KeyError, TypeError):
            continue
        if action.kind == "forward" and turtle.pen:
            dx, dy = STEP[turtle.heading]
            ink.update((turtle.x + dx * i, turtle.y + dy * i) for i in range(action.args["steps"] + 1))
        turtle = after
    arrow = ">^<v"[turtle.heading // 90]
    return "\n".join(
        " ".join(arrow if (x, y) == (turtle.x, turtle.y) else "#" if (x, y) in ink else "." for x in range(SIZE))
        for y in reversed(range(SIZE))
    )


@nep_core.hookimpl
def register_commands(cli):
    turtle_cli = tools_app("turtle", "Tools for the turtle domain.")

    @turtle_cli.command()
    def draw(log: Path = typer.Argument(..., metavar="LOG", help="A turtle session log (.jsonl).")):
        """Print what a session draws, as ASCII art.

        Example: nep turtle draw data/turtle/turtle-0-0000.jsonl
        """
        from nep_core.sessionlog import read_session

        typer.echo(render(read_session(log).actions()))

    cli.add_typer(turtle_cli, name="turtle")
