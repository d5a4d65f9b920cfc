"""A recorded session written the way a script runs it, as the ``scripts`` collector reads scripts.

A model trained only on recordings has never seen how scripts go on: a script has no undo and no
view changes, runs its calls in functions, repeats work in loops (which the collector reads once),
sets materials, selections, sizes and often modifiers through the data API rather than operators,
places what it adds in the add call rather than moving it after, adds another object anew rather
than duplicating one, and usually starts by clearing the scene.
``as_scripts`` turns one recording into such functions, following one author's habits
(``ScriptAuthor``, drawn per session by seed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from nep_core.actions import Action
from nep_core.examples import unit_hash
from nep_core.session import Event, Session
from nep_blender.collectors.scripts import MIN_CALLS, SECONDS_BETWEEN_CALLS, UI_ONLY_PREFIXES

SCRIPT_ENDINGS: tuple[tuple[tuple[str, dict], ...], ...] = (
    (("wm.save_as_mainfile", {}),), (("wm.save_as_mainfile", {"check_existing": False}),), (("wm.save_mainfile", {}),),
    (("render.render", {}),), (("render.render", {"write_still": True}),), (("render.render", {"animation": True}),),
    (("export_scene.fbx", {}),), (("export_scene.fbx", {"use_selection": True}),), (("export_scene.gltf", {}),),
    (("export_scene.gltf", {"use_selection": True}),), (("wm.obj_export", {}),), (("wm.stl_export", {}),),
    (("object.select_all", {"action": "SELECT"}), ("export_scene.fbx", {})),
    (("render.render", {"write_still": True}), ("wm.quit_blender", {})),
)
"""What scripts end with after modeling, as (operator, arguments) calls: saving, exporting, rendering
(paths are strings, never written)."""

SCRIPT_OPENINGS: tuple[tuple[tuple[str, dict], ...], ...] = (
    (("import_scene.fbx", {}),), (("import_scene.gltf", {}),), (("wm.obj_import", {}),), (("wm.stl_import", {}),),
    (("import_scene.fbx", {}), ("import_scene.gltf", {})), (("import_scene.fbx", {}), ("import_scene.gltf", {}), ("wm.obj_import", {})),
    (("wm.open_mainfile", {}),), (("wm.append", {}),),
)
"""What scripts that work on a model start with, after clearing the scene: importing it (one call per file
type the script handles, each branch read by the collector), or opening or appending a .blend."""

SELECT_ALL = Action(kind="object.select_all", args={"action": "SELECT"}, edit=False)
DESELECT_ALL = Action(kind="object.select_all", args={"action": "DESELECT"}, edit=False)
DELETE = Action(kind="object.delete", edit=True)
PURGE = Action(kind="outliner.orphans_purge", args={"do_recursive": True}, edit=True)
CLEARINGS: tuple[tuple[Action, ...], ...] = (
    (SELECT_ALL, DELETE), (SELECT_ALL, DELETE), (SELECT_ALL, DELETE), (SELECT_ALL, DELETE, PURGE),
    (SELECT_ALL, Action(kind="object.delete", args={"use_global": False}, edit=True)),
    (Action(kind="object.select_pattern", args={"pattern": "Cube"}, edit=False), DELETE),
    (SELECT_ALL, Action(kind="collection.objects_remove_all", edit=True)),
    (Action(kind="wm.read_factory_settings", args={"use_empty": True}, edit=False),),
    (DESELECT_ALL, Action(kind="object.select_by_type", args={"type": "MESH"}, edit=False), DELETE),
)
"""How scripts clear the scene, the usual first function: everything (and the data it leaves behind),
every mesh, the default cube, or a factory reset (an author writes one)."""

SELECTIONS = frozenset({"object.select_all", "object.select_by_type", "object.select_pattern"})

OBJECT_ADDS = frozenset({"object.light_add", "object.camera_add", "object.empty_add", "object.text_add", "object.armature_add"})
"""Besides ``mesh.primitive_*`` and ``curve.primitive_*``: the calls that add an object."""


def adds_an_object(kind: str) -> bool:
    return kind.startswith(("mesh.primitive_", "curve.primitive_")) or kind in OBJECT_ADDS

DATA_API_CALLS = frozenset({"material.new", "object.material_slot_add", "mesh.select_random"})
"""Operators a script author replaces with the data API (``bpy.data.materials.new``, ``materials.append``,
selecting faces by index): the recording's stand-ins for clicking buttons and faces."""


@dataclass(frozen=True)
class ScriptAuthor:
    """One script author's habits."""

    toggles: bool = False  # switches modes with object.editmode_toggle() rather than object.mode_set(mode=...)
    guards: bool = False  # makes sure of object mode before clearing the scene (under an ``if``)
    helpers: bool = False  # writes each edit-mode block (into edit mode and back) as a helper function
    small_functions: bool = False  # writes one function per object: a new function at each call that adds one
    loops: bool = False  # repeats work in a loop, which the collector reads once
    data_api: bool = False  # materials, selections, sizes and a new object's turns through the data API (deselect all, pick in Python)
    places: bool = False  # passes where an added object goes to the add call (location=...), rather than moving it after
    clears: bool = False  # starts the script by clearing the scene when the recording did not
    modifiers_api: bool = False  # adds modifiers in Python (``obj.modifiers.new``) rather than with object.modifier_add
    adds_anew: bool = False  # makes another object by adding it (and working it) again, not by duplicating (Shift+D)
    adds_only: bool = False  # composes a scene from add calls (objects, lights, camera) and does all else in Python
    clear_function: bool = True  # the clearing is a function of its own, rather than the start of the script's body
    clearing: tuple[Action, ...] = CLEARINGS[0]  # how this author clears the scene
    opening: tuple[Action, ...] = ()  # the calls that bring in the model to work on (imports), after clearing
    ending: tuple[Action, ...] = ()  # the calls the script ends with (save, export, render)

    @classmethod
    def draw(cls, seed: int, index: int, is_edit) -> ScriptAuthor:
        """The author of session ``index`` of ``seed``; ``is_edit(kind)`` tells the ending's edits apart."""
        def calls(habit: str, share: float, table) -> tuple[Action, ...]:
            """One of ``table``'s call sequences for ``share`` of the authors, none for the others."""
            if unit_hash(habit, seed, index) >= share:
                return ()
            choice = table[int(unit_hash(f"{habit}-kind", seed, index) * len(table))]
            return tuple(Action(kind=kind, args=args, edit=is_edit(kind)) for kind, args in choice)

        ending, opening = calls("ending", 0.5, SCRIPT_ENDINGS), calls("opening", 0.25, SCRIPT_OPENINGS)
        return cls(
            toggles=unit_hash("toggle", seed, index) < 0.3,
            guards=unit_hash("guard", seed, index) < 0.5,
            helpers=unit_hash("helpers", seed, index) < 0.5,
            small_functions=unit_hash("small-functions", seed, index) < 0.5,
            loops=unit_hash("loops", seed, index) < 0.7,
            data_api=unit_hash("data-api", seed, index) < 0.8,
            places=unit_hash("places", seed, index) < 0.9,  # real scripts move 5 of 198 adds right after (two corpora), the recordings 2 in 5
            clears=unit_hash("clears", seed, index) < 0.6,
            modifiers_api=unit_hash("modifiers-api", seed, index) < 0.5,  # 13 of 24 real scripts that add modifiers, a seventh corpus
            adds_anew=unit_hash("adds-anew", seed, index) < 0.9,  # 1 of a seventh corpus's 100 real scripts duplicates
            adds_only=unit_hash("adds-only", seed, index) < 0.4,  # real scripts end a function after a light or a sphere 2-3 times as often as the script form did at 25%
            clear_function=unit_hash("clear-function", seed, index) < 0.25,  # 12 of 48 early clearings in real scripts
            clearing=CLEARINGS[int(unit_hash("clearing", seed, index) * len(CLEARINGS))],
            opening=opening,
            ending=ending,
        )


def as_scripts(session: Session, function_starts: Sequence[int] = (0,), author: ScriptAuthor = ScriptAuthor()) -> list[Session]:
    """``session`` as ``author`` would script it, one session per function: its events from each of
    ``function_starts`` (event indexes) to the next, without undone or UI-only calls, with no context
    and at an even pace, in the author's habits (``ScriptAuthor``): the scene cleared the author's way
    (first, when the author ``clears`` and the recording did not), the opening (imports) after the
    clearing, both in a function of their own or, unless the author writes a ``clear_function``, at
    the start of the next function; the ending after the last function's calls.

    An ``ed.undo`` removes itself and the newest edit kept before it in its function. A function
    left with fewer than ``MIN_CALLS`` calls is left out. The copies keep the session's split group
    (``meta["source_id"]``); ``meta["function"]`` numbers them (``"clear"`` for an added clearing).
    """
    starts = set(function_starts) | {0}
    for index, event in enumerate(session.events):
        kind = event.action.kind if event.action is not None else ""
        if author.helpers and kind == "object.mode_set":
            starts.add(index if event.action.args.get("mode") == "EDIT" else index + 1)
        if author.small_functions and adds_an_object(kind):
            starts.add(index)
    bounds = [*sorted(starts - {len(session.events)}), len(session.events)]
    functions: list[tuple[int | str, list[Action]]] = []
    for number, (start, end) in enumerate(zip(bounds, bounds[1:])):
        kept = _calls(session.events[start:end], author)
        if end == len(session.events):
            kept.extend(author.ending)
        functions.append((number, kept))
    first = next((calls for _, calls in functions if calls), [])
    cleared = first[:2] == [SELECT_ALL, DELETE]
    if cleared:
        first[:2] = author.clearing
    elif author.clears:
        first = list(author.clearing)
        functions.insert(0, ("clear", first))
    at = len(author.clearing) if cleared or author.clears else 0
    first[at:at] = author.opening
    bodies = [calls for _, calls in functions if calls]
    if at and not author.clear_function and len(bodies) > 1 and len(bodies[0]) == at + len(author.opening):
        bodies[1][:0] = bodies[0]  # the clearing (and the opening) start the script's body
        bodies[0].clear()
    scripts = []
    for number, kept in functions:
        if author.guards and kept and kept[0].kind in (*SELECTIONS, "object.delete"):
            kept.insert(0, Action(kind="object.editmode_toggle" if author.toggles else "object.mode_set", edit=True))
        if len(kept) >= MIN_CALLS:
            scripts.append(Session(
                id=f"{session.id}-script{number}",
                domain=session.domain,
                events=[Event(t=round(index * SECONDS_BETWEEN_CALLS, 2), action=action) for index, action in enumerate(kept)],
                meta={**session.meta, "form": "script", "source_id": session.source, "function": number},
            ))
    return scripts


def _calls(events: Sequence[Event], author: ScriptAuthor) -> list[Action]:
    """One function's calls, as ``author`` writes them."""
    kept: list[Action] = []
    made_at = None  # where in ``kept`` the calls that made the newest added object start
    for event in events:
        action = event.action
        if action is None:
            continue
        if author.adds_anew and action.kind == "object.duplicate_move" and made_at is not None:
            if not author.loops:  # a loop's body (the object made once) is read once
                made_at, copy = len(kept), kept[made_at:]
                kept.extend(copy)
            continue
        if action.kind == "ed.undo":
            for index in range(len(kept) - 1, -1, -1):
                if kept[index].edit:
                    del kept[index:]
                    made_at = made_at if made_at is None or made_at < index else None  # the undone add made nothing
                    break
            continue
        if action.kind.startswith(UI_ONLY_PREFIXES):
            continue
        if author.data_api and action.kind in DATA_API_CALLS:
            continue
        if author.modifiers_api and action.kind == "object.modifier_add":
            continue
        if author.data_api and action.kind == "transform.resize" and kept and _takes_scale(kept[-1]):
            kept[-1] = Action(kind=kept[-1].kind, args={**kept[-1].args, "scale": action.args.get("value", [1.0, 1.0, 1.0])}, edit=True)
            continue
        if author.places and kept and (placed := _placed(kept[-1], action)) is not None:
            kept[-1] = placed
            continue
        if author.data_api and action.kind == "transform.rotate" and kept and adds_an_object(kept[-1].kind):
            continue  # turned through the data API (obj.rotation_euler = ...), whose angle a script knows and the view does not
        if author.data_api and action.kind == "object.delete" and not (kept and kept[-1].kind in SELECTIONS):
            kept.append(DESELECT_ALL)  # then the object to delete is selected through the data API
        if author.toggles and action.kind == "object.mode_set" and action.args.get("mode", "OBJECT") in ("EDIT", "OBJECT"):
            action = Action(kind="object.editmode_toggle", edit=True)
        if adds_an_object(action.kind):
            made_at = len(kept)
        kept.append(Action(kind=action.kind, args=action.args, edit=action.edit))
    if author.adds_only:
        kept = [call for call in kept if adds_an_object(call.kind)]
    return as_loops(kept) if author.loops else kept


def _placed(added: Action, move: Action) -> Action | None:
    """``added`` (an add call) with ``move``, a move (G) in world axes right after it, passed as its
    ``location``, as a script places what it adds; None for any other call. A turn (R) is no
    ``rotation``: its angle, like the rotation an add starts with, depends on the 3D view it was made
    in (a data API author sets it in Python instead, ``obj.rotation_euler = ...``)."""
    if not adds_an_object(added.kind) or move.kind != "transform.translate" or set(move.args) - {"value", "orient_type"}:
        return None
    if move.args.get("orient_type", "GLOBAL") != "GLOBAL":
        return None
    offset = move.args.get("value", [0.0, 0.0, 0.0])
    location = [start + step for start, step in zip(added.args.get("location", [0.0, 0.0, 0.0]), offset)]
    return Action(kind=added.kind, args={**added.args, "location": location}, edit=added.edit)


def _takes_scale(action: Action) -> bool:
    return action.kind.startswith("mesh.primitive_") and "scale" not in action.args


def as_loops(calls: list[Action]) -> list[Action]:
    """Runs of one call, or of one pair of calls, repeated with the same operators: one iteration, as
    the ``scripts`` collector reads a loop body once. Arguments that change from one iteration to the
    next are a loop variable in a script, so they are left out."""
    written: list[Action] = []
    position = 0
    while position < len(calls):
        for period in (1, 2):
            body = [call.kind for call in calls[position : position + period]]
            end = position + period
            while len(body) == period and [call.kind for call in calls[end : end + period]] == body:
                end += period
            if end >= position + 2 * period:
                iterations = [calls[start : start + period] for start in range(position, end, period)]
                written.extend(_loop_call(list(column)) for column in zip(*iterations))
                position = end
                break
        else:
            written.append(calls[position])
            position += 1
    return written


def _loop_call(iterations: list[Action]) -> Action:
    first = iterations[0]
    constant = {name: value for name, value in first.args.items() if all(call.args.get(name) == value for call in iterations)}
    return Action(kind=first.kind, args=constant, edit=first.edit)
