"""A modeling session in progress: runs each operator call in bpy and records it with its timing.

Every recorded action is a call that ran in bpy (``bpy_calls.run_call``) and returned FINISHED,
recorded with the context (mode, active object type, selection count) from *before* the call, the
way the add-on's recorder sees it. Calls run inside the factory screen's 3D viewport
(``temp_override``), so view operators (orbit, axis views, framing, zoom) and loop cuts run for
real too. Running an operator with its undo flag inside that override crashes bpy 5.0.1, so the
builder pushes the undo step itself after each undoable call, as Blender does; ``ed.undo`` then
runs for real (the worker starts the undo system with ``ed.undo_push``). An edit must change the
scene (``scene_fingerprint``), or the recipe has a bug and the session is dropped.

Arguments are canonical before they run: quantized as the action space writes them, defaults left
out (``BlenderActionSpace`` ``encode`` then ``decode``), so a recorded action encodes and decodes to itself, except for
the strings and item-less enums that the action space keeps in logs but not in tokens.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_blender.action_space import BlenderActionSpace, flatten_args, nest_args
from nep_blender.bpy_calls import CallRefused, current_context, run_call, scene_fingerprint

VIEW_TYPES = ("FRONT", "RIGHT", "TOP", "FRONT", "TOP", "LEFT", "BACK")
ORBITS = ("ORBITLEFT", "ORBITRIGHT", "ORBITUP", "ORBITDOWN")
WRONG_PRIMITIVES = ("mesh.primitive_cube_add", "mesh.primitive_plane_add", "mesh.primitive_cylinder_add", "mesh.primitive_uv_sphere_add")


class RecipeFailed(RuntimeError):
    """An operator of a recipe did not finish; the session is dropped and counted."""


@dataclass(frozen=True)
class Style:
    """One artist's habits, drawn once per session and reused by every recipe in it."""

    pace: float  # seconds scale
    look_rate: float  # how often the artist changes the view between steps
    orbit_angle: float  # radians, the artist's orbit step
    orbit_type: str
    favourite_view: str
    frames_after_add: bool  # view_selected after adding an object
    bevel_offset: float
    bevel_segments: int
    inset_thickness: float
    extrude_depth: float
    cuts: int
    smooths: bool
    uv_method: str  # "smart", "unwrap", "cube", "seams" (marked, then unwrapped) or "lightmap"
    finish: tuple[str, ...]  # the finishing moves this artist makes, in order
    retry_rate: float  # how often a step is undone (and redone differently)
    moves_new_objects: bool  # adds at the 3D cursor, then moves with G (transform.translate), instead of typing a location
    applies_scale: bool  # Ctrl+A after scaling an object (object.transform_apply)
    applies_modifiers: bool  # applies a finishing modifier right away
    applies_by_converting: bool  # ...with Convert to Mesh (all at once) rather than Apply (object.modifier_apply)
    subdivides_with_shortcut: bool  # Ctrl+1..3 (object.subdivision_set) rather than Add Modifier > Subdivision

    @classmethod
    def draw(cls, rng: random.Random) -> Style:
        finish = ["smooth", "bevel", "material", "uv", "subsurf"]
        rng.shuffle(finish)
        return cls(
            pace=rng.uniform(0.6, 1.6),
            look_rate=rng.choice((0.1, 0.25, 0.4)),
            orbit_angle=math.radians(rng.choice((15, 15, 30, 45))),
            orbit_type=rng.choice(ORBITS),
            favourite_view=rng.choice(VIEW_TYPES),
            frames_after_add=rng.random() < 0.5,
            bevel_offset=rng.choice((0.02, 0.05, 0.1, 0.2)),
            bevel_segments=rng.choice((1, 2, 3, 4)),
            inset_thickness=rng.choice((0.03, 0.05, 0.08, 0.1)),
            extrude_depth=rng.choice((0.1, 0.2, 0.3, 0.5)),
            cuts=rng.choice((1, 2, 3)),
            smooths=rng.random() < 0.6,
            uv_method=rng.choice(("smart", "smart", "unwrap", "cube", "seams", "lightmap")),
            finish=tuple(finish[: rng.randint(1, 3)]),
            retry_rate=rng.choice((0.0, 0.1, 0.25)),
            moves_new_objects=rng.random() < 0.5,
            applies_scale=rng.random() < 0.4,
            applies_modifiers=rng.random() < 0.45,
            applies_by_converting=rng.random() < 0.3,
            subdivides_with_shortcut=rng.random() < 0.4,
        )


class SessionBuilder:
    """Runs and records one session; recipes call ``op``, ``look``, ``retry``, ``hesitate``."""

    def __init__(self, bpy, space: BlenderActionSpace, rng: random.Random):
        self.bpy = bpy
        self.space = space
        self.rng = rng
        self.style = Style.draw(rng)
        self.t = 0.0
        self.events: list[dict] = []
        self.fingerprint = scene_fingerprint(bpy)  # the scene after the latest edit; selections and views leave it

    # Time -------------------------------------------------------------------------------------

    def wait(self, low: float = 0.6, high: float = 3.0) -> None:
        self.t = round(self.t + self.style.pace * self.rng.uniform(low, high), 2)

    def maybe_pause(self, chance: float = 0.06) -> None:
        """Sometimes the artist stops to think (longer than the domain's 20 s pause)."""
        if self.rng.random() < chance:
            self.t = round(self.t + self.rng.uniform(22.0, 90.0), 2)

    # Running and recording --------------------------------------------------------------------

    def canonical(self, kind: str, args: dict) -> dict:
        """``args`` as the action space writes them in a history, plus the ones it keeps out of tokens (a
        text to type, a constraint's type), which the call needs and the log keeps. (Not ``validate``,
        which refuses the calls NEP never suggests, such as ``ptcache.bake_all``, that artists still run.)"""
        try:
            written = dict(self.space.decode(self.space.encode(Action(kind=kind, args=args))).args)
        except InvalidAction as error:
            raise RecipeFailed(f"{kind}: {error}") from None
        spec = self.space.operator(kind)
        kept = {name: value for name, value in args.items() if not isinstance(value, dict) and not spec.property(name).tokenized}
        return {**written, **kept}

    def call(self, kind: str, args: dict | None = None, low: float = 0.6, high: float = 3.0) -> None:
        """Run one operator call in bpy and record it; RecipeFailed unless it finished."""
        self.wait(low, high)
        args = self.canonical(kind, args or {})
        spec = self.space.operator(kind)
        context = current_context(self.bpy)
        try:
            result = run_call(self.bpy, kind, args)
        except (CallRefused, RuntimeError, TypeError) as error:
            raise RecipeFailed(f"{kind}: {str(error).strip().splitlines()[0]}") from None
        if "FINISHED" not in result:
            raise RecipeFailed(f"{kind} returned {sorted(result)}")
        if spec.is_edit:
            before, self.fingerprint = self.fingerprint, scene_fingerprint(self.bpy)
            if self.fingerprint == before:
                raise RecipeFailed(f"{kind} changed nothing")
        if spec.is_edit or "UNDO" in spec.options:
            self.bpy.ops.ed.undo_push(message=spec.label)  # what Blender does after an undoable operator
        action = {"kind": kind, "context": context}
        if args:
            action["args"] = args
        self.events.append({"t": self.t, "action": action})

    def op(self, kind: str, **args) -> None:
        """An edit or a selection, with its keyword arguments as the artist set them."""
        self.call(kind, args)

    def op_if_it_changes(self, kind: str, **args) -> bool:
        """An edit whose effect depends on the scene (setting an origin): left out when it changed nothing."""
        try:
            self.call(kind, args)
        except RecipeFailed as error:
            if not str(error).endswith("changed nothing"):
                raise
            return False
        return True

    def view(self, kind: str, **args) -> None:
        self.call(kind, args, 0.2, 1.2)

    def look(self, chance: float | None = None) -> None:
        """Sometimes change the view: the artist's orbit, a zoom, frame the selection, an axis view."""
        chance = self.style.look_rate if chance is None else chance
        while self.rng.random() < chance:
            choice = self.rng.random()
            if choice < 0.45:
                self.view("view3d.view_orbit", angle=self.style.orbit_angle, type=self.style.orbit_type)
            elif choice < 0.6:
                self.view("view3d.zoom", delta=self.rng.choice((-1, 1, 1)))
            elif choice < 0.8:
                self.view("view3d.view_selected")
            else:
                self.view("view3d.view_axis", type=self.style.favourite_view)
            chance *= 0.5

    def added(self) -> None:
        """What this artist does right after adding an object."""
        if self.style.frames_after_add:
            self.view("view3d.view_selected")
        self.look()

    def retry(self, kind: str, **args) -> None:
        """Run a step, and sometimes undo it and run it again with other values (both recorded)."""
        if self.rng.random() >= self.style.retry_rate:
            self.call(kind, args)
            return
        self.abandon(kind, **self.varied(kind, args))
        self.call(kind, args)

    def varied(self, kind: str, args: dict) -> dict:
        """A first try that the artist will undo: numbers doubled or halved (within range), others kept."""
        spec = self.space.operator(kind)
        factor, step = self.rng.choice((0.5, 2.0)), self.rng.choice((1, 2))
        tried = {}
        for name, value in flatten_args(args).items():
            prop = spec.property(name)
            items = value if isinstance(value, list) else [value]
            if prop.type == "FLOAT":
                items = [item * factor for item in items]
            elif prop.type == "INT":
                items = [item + step for item in items]
            low = -math.inf if prop.min is None else prop.min
            high = math.inf if prop.max is None else prop.max
            items = [min(max(item, low), high) if prop.type in ("FLOAT", "INT") else item for item in items]
            tried[name] = items if isinstance(value, list) else items[0]
        return nest_args(tried)

    def abandon(self, kind: str, **args) -> None:
        """Try a step, dislike it and undo it with ``ed.undo``: the scene is as before (checked)."""
        before = self.fingerprint
        self.call(kind, args)
        self.look(0.3)
        self.call("ed.undo", {}, 0.8, 2.5)
        self.fingerprint = scene_fingerprint(self.bpy)
        if self.fingerprint != before:
            raise RecipeFailed(f"ed.undo after {kind} did not restore the scene")

    def hesitate(self) -> None:
        """Enter edit mode, look around, select, and leave again without editing (an abandoned idea)."""
        self.enter_edit()
        self.view("view3d.view_selected")
        self.op("mesh.select_all", action=self.rng.choice(("DESELECT", "SELECT")))
        self.look(0.5)
        self.object_mode()

    # Common moves -----------------------------------------------------------------------------

    def clear_start_scene(self) -> None:
        """The first move in Blender's start-up scene: delete the default cube, or everything."""
        if self.rng.random() < 0.5:
            self.op("object.select_all", action="SELECT")
        self.op("object.delete")

    def enter_edit(self) -> None:
        """Into edit mode: Tab, or the mode menu; both run ``object.mode_set``, as the recorder logs them."""
        self.op("object.mode_set", mode="EDIT")

    def edit_mode(self) -> None:
        self.enter_edit()
        self.op("mesh.select_all", action="SELECT")

    def add(self, kind: str, **args) -> None:
        """Add an object: where the artist typed, or at the 3D cursor and then moved there with G.

        Now and then the artist first picks the wrong primitive from the Add menu and deletes it (X).
        """
        if kind.startswith("mesh.primitive_") and self.rng.random() < 0.05:
            self.op(self.rng.choice([other for other in WRONG_PRIMITIVES if other != kind]))
            self.op("object.delete")
        location = args.get("location")
        if self.style.moves_new_objects and location and any(location):
            self.op(kind, **{name: value for name, value in args.items() if name != "location"})
            self.op("transform.translate", value=location)
        else:
            self.op(kind, **args)

    def resized(self) -> None:
        """What this artist does after scaling an object in object mode."""
        if self.style.applies_scale:
            self.op("object.transform_apply", location=False, rotation=False, scale=True)

    def modifier(self, kind: str, in_a_stack: bool = False) -> None:
        """Add a modifier to the active object; an artist who applies right away applies it, unless it
        is part of a stack (``in_a_stack``), which ``apply_stack`` applies once it is built.

        Apply (``object.modifier_apply``) is recorded without the modifier's name: it runs on the
        active modifier, the one just added.
        """
        self.op("object.modifier_add", type=kind)
        if self.style.applies_modifiers and not in_a_stack:
            self.look(0.3)
            self.apply_modifiers()

    def apply_modifiers(self) -> None:
        if self.style.applies_by_converting:
            self.op("object.convert", target="MESH")
        else:
            self.op("object.modifier_apply")

    def apply_stack(self) -> None:
        """Apply the active object's whole stack: Convert to Mesh, or Apply on each modifier from the top."""
        if self.style.applies_by_converting:
            self.op("object.convert", target="MESH")
            return
        for name in [modifier.name for modifier in self.bpy.context.active_object.modifiers]:
            self.op("object.modifier_apply", modifier=name)

    def object_mode(self) -> None:
        self.op("object.mode_set", mode="OBJECT")

    def new_material(self) -> None:
        """``material.new`` as the material slot's New button runs it: the new material fills the slot."""
        self.bpy.context.active_object.active_material = self._new_block("material.new", self.bpy.data.materials)
        self._pushed("Assign Material")

    def new_texture(self, texture_type: str) -> None:
        """``texture.new`` as the active modifier's New button runs it, then the texture's type picked."""
        texture = self._new_block("texture.new", self.bpy.data.textures)
        texture.type = texture_type
        self.bpy.context.active_object.modifiers.active.texture = self.bpy.data.textures[texture.name]
        self._pushed("Texture")

    def new_world(self) -> None:
        """``world.new`` as the World tab's New button runs it: the new world becomes the scene's."""
        self.bpy.context.scene.world = self._new_block("world.new", self.bpy.data.worlds)
        self._pushed("World")

    def _new_block(self, kind: str, blocks):
        """Run a New button's operator; the button assigns the block itself (the operator does not) and
        gives back the user the block was created with, so the builder does both, as it does."""
        before = set(blocks)
        self.op(kind)
        (block,) = set(blocks) - before
        block.user_clear()
        return block

    def _pushed(self, message: str) -> None:
        """An undo step for a change made through the data API (a button, a field), as Blender pushes one."""
        self.bpy.ops.ed.undo_push(message=message)
        self.fingerprint = scene_fingerprint(self.bpy)

    def found(self, kind: str, **args) -> None:
        """A call that made the scene as the artist found it (an imported mesh's flaws): run, not recorded.
        One that finds nothing to do (a random selection of no faces) is a flaw the mesh does not have."""
        try:
            run_call(self.bpy, kind, self.canonical(kind, args))
        except (CallRefused, RuntimeError, TypeError) as error:
            raise RecipeFailed(f"{kind}: {str(error).strip().splitlines()[0]}") from None
        self._pushed(kind)

    def click(self, obj) -> None:
        """Select ``obj`` alone and make it active, as a click in the viewport does (left out of logs)."""
        self.wait(0.3, 1.5)
        for other in self.bpy.context.selected_objects:
            other.select_set(False)
        obj.select_set(True)
        self.bpy.context.view_layer.objects.active = obj

    def pick_modifier_object(self, obj) -> None:
        """Fill the active modifier's object field (a Boolean's cutter) with the eyedropper: no operator."""
        self.wait(0.5, 2.0)
        self.bpy.context.active_object.modifiers.active.object = obj
        self._pushed("Object")

    def pick_constraint_target(self, obj) -> None:
        """Fill the newest constraint's target field with the eyedropper: no operator."""
        self.wait(0.5, 2.0)
        self.bpy.context.active_object.constraints[-1].target = obj
        self._pushed("Target")

    def active_is_smooth(self) -> bool:
        obj = self.bpy.context.active_object
        return obj is not None and obj.type == "MESH" and len(obj.data.polygons) > 0 and obj.data.polygons[0].use_smooth

    def pick(self, choices):
        return self.rng.choice(choices)


