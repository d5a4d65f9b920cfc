"""A modeling session in progress: runs each operator call in bpy and records it with its timing.

Edits run for real (``bpy_calls.run_call``) and are recorded only when Blender answers FINISHED, with
the context (mode, active object type, selection count) from before the call. View operators cannot
run without a window, so the builder records them without running them; they change nothing that
the scene fingerprint sees anyway. Undo cannot run headless either: ``abandon`` saves the scene,
runs a step, records it and ``ed.undo``, then reopens the saved scene, which is what undo does.
"""

from __future__ import annotations

import math
import os
import random
import tempfile

from nep_blender.bpy_calls import current_context, run_call

VIEW_TYPES = ("FRONT", "BACK", "LEFT", "RIGHT", "TOP", "BOTTOM")


class RecipeFailed(RuntimeError):
    """An operator of a recipe did not finish; the session is dropped and counted."""


class SessionBuilder:
    def __init__(self, bpy, rng: random.Random, scratch: str):
        self.bpy = bpy
        self.rng = rng
        self.scratch = scratch
        self.t = 0.0
        self.events: list[dict] = []
        self.pace = rng.uniform(0.7, 1.6)  # this user's speed: seconds scale

    # Time -------------------------------------------------------------------------------------

    def wait(self, low: float = 0.6, high: float = 3.0) -> None:
        self.t = round(self.t + self.pace * self.rng.uniform(low, high), 2)

    def maybe_pause(self, chance: float = 0.06) -> None:
        """Sometimes the artist stops to think (a pause longer than the domain's 20 s)."""
        if self.rng.random() < chance:
            self.t = round(self.t + self.rng.uniform(22.0, 90.0), 2)

    # Recording --------------------------------------------------------------------------------

    def record(self, kind: str, args: dict, context: dict) -> None:
        action = {"kind": kind, "context": context}
        if args:
            action["args"] = args
        self.events.append({"t": self.t, "action": action})

    def op(self, kind: str, **args) -> None:
        """Run an edit (or a selection) in bpy and record it; RecipeFailed unless it finished."""
        self.wait()
        context = current_context(self.bpy)
        try:
            result = run_call(self.bpy, kind, args)
        except (RuntimeError, ValueError) as error:
            raise RecipeFailed(f"{kind}: {error}") from None
        if "FINISHED" not in result:
            raise RecipeFailed(f"{kind}: {sorted(result)}")
        self.record(kind, args, context)

    def look(self, chance: float = 0.35) -> None:
        """Sometimes orbit, zoom, frame the selection or snap to an axis view (recorded, not run)."""
        while self.rng.random() < chance:
            self.t = round(self.t + self.pace * self.rng.uniform(0.2, 1.2), 2)
            context = current_context(self.bpy)
            choice = self.rng.random()
            if choice < 0.45:
                angle = round(self.rng.choice((15, 15, 30, 45)) * math.pi / 180, 4)
                kind, args = "view3d.view_orbit", {"angle": angle, "type": self.rng.choice(("ORBITLEFT", "ORBITRIGHT", "ORBITUP", "ORBITDOWN"))}
            elif choice < 0.65:
                kind, args = "view3d.zoom", {"delta": self.rng.choice((-1, 1, 1))}
            elif choice < 0.85:
                kind, args = "view3d.view_selected", {}
            else:
                kind, args = "view3d.view_axis", {"type": self.rng.choice(VIEW_TYPES)}
            self.record(kind, args, context)
            chance *= 0.5

    def abandon(self, kind: str, **args) -> None:
        """Try a step, dislike it and undo it: both are recorded; the scene is as before."""
        path = os.path.join(self.scratch, "before-undo.blend")
        self.bpy.ops.wm.save_as_mainfile(filepath=path, copy=True)
        self.op(kind, **args)
        self.wait(0.8, 2.5)
        self.record("ed.undo", {}, current_context(self.bpy))
        self.bpy.ops.wm.open_mainfile(filepath=path)

    # Common moves -----------------------------------------------------------------------------

    def edit_mode(self, select_all: bool = True) -> None:
        self.op("object.mode_set", mode="EDIT")
        if select_all:
            self.op("mesh.select_all", action="SELECT")

    def object_mode(self) -> None:
        self.op("object.mode_set", mode="OBJECT")

    def number(self, choices) -> float:
        return self.rng.choice(choices)


def new_scratch() -> str:
    return tempfile.mkdtemp(prefix="nep-blender-synth-")
