"""Recipe families: procedural modeling sessions with randomized parameters, one function each.

Each recipe drives a ``SessionBuilder`` through the steps an artist takes to model one kind of
thing. Sizes, counts and offsets are drawn per object and then reused (a table's legs share a size,
stairs repeat one step offset); bevel widths, inset thicknesses, extrude depths, cut counts, the
finishing moves and the view habits come from the session's ``Style`` and recur in every recipe
of the session. Views and selections come in between, sometimes a step is undone and redone with
other values, sometimes an idea is abandoned, sometimes the artist pauses. A session models one
theme (a room's furniture, a building, props...), so what comes next depends on what came before.
"""

from __future__ import annotations

import math
from typing import Callable

from nep_blender.bpy_calls import point_caches
from nep_blender.synthetic.builder import SessionBuilder


def _add(s: SessionBuilder, kind: str, **args) -> None:
    s.add(kind, **args)
    s.added()


def _block(s: SessionBuilder, size: list[float], location: list[float]) -> None:
    """A unit cube scaled into a board or a post."""
    _add(s, "mesh.primitive_cube_add", size=1.0, location=location)
    s.op("transform.resize", value=size)
    s.resized()


def _uv(s: SessionBuilder) -> None:
    s.edit_mode()
    if s.style.uv_method == "smart":
        s.retry("uv.smart_project", angle_limit=math.radians(66), island_margin=0.02)
    elif s.style.uv_method == "unwrap":
        s.op("uv.unwrap", method="ANGLE_BASED", margin=0.01)
    elif s.style.uv_method == "seams":  # seams marked on edges (picked at random here), then unwrapped
        _select_mode(s, "EDGE")
        s.op("mesh.select_all", action="DESELECT")
        s.op("mesh.select_random", ratio=s.pick((0.1, 0.2)), seed=s.rng.randint(0, 9))
        s.op("mesh.mark_seam")
        s.op("mesh.select_all", action="SELECT")
        s.op("uv.unwrap", method="ANGLE_BASED", margin=0.01)
    elif s.style.uv_method == "lightmap":
        s.op("uv.lightmap_pack")
    else:
        s.op("uv.cube_project", cube_size=1.0)
    s.object_mode()


def _material(s: SessionBuilder) -> None:
    s.op("object.material_slot_add")
    s.new_material()


def finish(s: SessionBuilder) -> None:
    """The session's finishing moves on the active object, in the artist's order."""
    for move in s.style.finish:
        s.look()
        if move == "smooth":
            if not s.active_is_smooth():
                s.op("object.shade_smooth")
        elif move == "bevel":
            s.modifier("BEVEL")
        elif move == "subsurf" and s.style.subdivides_with_shortcut:
            s.op("object.subdivision_set", level=s.pick((1, 2, 2, 3)), relative=False)
        elif move == "subsurf":
            s.modifier("SUBSURF")
        elif move == "material":
            _material(s)
        else:
            _uv(s)
    s.maybe_pause()


def _select_mode(s: SessionBuilder, mode: str) -> None:
    """Vertex, edge or face select mode (1, 2, 3), unless it is already the only one on."""
    if tuple(s.bpy.context.tool_settings.mesh_select_mode) != (mode == "VERT", mode == "EDGE", mode == "FACE"):
        s.op("mesh.select_mode", type=mode)


def _random_faces(s: SessionBuilder, ratio: float) -> None:
    """Face select mode, then a random set of faces (the recipe's stand-in for clicking faces)."""
    _select_mode(s, "FACE")
    s.op("mesh.select_all", action="DESELECT")
    s.op("mesh.select_random", ratio=ratio, seed=s.rng.randint(0, 9))


def _join_all(s: SessionBuilder, all_selected: bool = False) -> None:
    if not all_selected:
        s.op("object.select_all", action="SELECT")
    s.look(0.3)
    s.op("object.join")
    if s.rng.random() < 0.3:
        s.op_if_it_changes("object.origin_set", type="ORIGIN_GEOMETRY")


def _duplicates(s: SessionBuilder, offset: list[float], count: int, look: float = 0.15) -> None:
    for _ in range(count):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": offset})
        s.look(look)


# Furniture ------------------------------------------------------------------------------------


def table(s: SessionBuilder) -> None:
    width, depth, height = s.pick((1.2, 1.6, 2.0)), s.pick((0.8, 1.0)), s.pick((0.75, 0.9))
    _block(s, [width, depth, 0.08], [0.0, 0.0, height])
    leg = s.pick((0.06, 0.08, 0.1))
    x, y = width / 2 - leg, depth / 2 - leg
    _block(s, [leg, leg, height], [x, y, height / 2])
    for dx, dy in ((-2 * x, 0.0), (0.0, -2 * y), (2 * x, 0.0)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [dx, dy, 0.0]})
        s.look(0.15)
    _join_all(s)
    finish(s)


def chair(s: SessionBuilder) -> None:
    seat, height = s.pick((0.4, 0.45, 0.5)), s.pick((0.42, 0.45))
    _block(s, [seat, seat, 0.05], [0.0, 0.0, height])
    leg = s.pick((0.04, 0.05))
    offset = seat / 2 - leg
    _block(s, [leg, leg, height], [offset, offset, height / 2])
    for dx, dy in ((-2 * offset, 0.0), (0.0, -2 * offset), (2 * offset, 0.0)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [dx, dy, 0.0]})
    s.look()
    _block(s, [seat, 0.04, s.pick((0.4, 0.5))], [0.0, -offset, height + 0.25])
    s.retry("transform.rotate", value=math.radians(s.pick((-8, -10, -12))), orient_axis="X")
    _join_all(s)
    finish(s)


def shelf(s: SessionBuilder) -> None:
    width, boards = s.pick((0.8, 1.0, 1.2)), s.rng.randint(3, 5)
    _block(s, [0.03, 0.3, 0.4 * boards], [width / 2, 0.0, 0.2 * boards])
    s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [-width, 0.0, 0.0]})
    _block(s, [width, 0.3, 0.03], [0.0, 0.0, 0.1])
    s.op("object.modifier_add", type="ARRAY")
    s.look()
    s.op("object.modifier_add", type="SOLIDIFY")
    finish(s)


def sofa(s: SessionBuilder) -> None:
    width = s.pick((1.6, 2.0, 2.4))
    _block(s, [width, 0.9, 0.4], [0.0, 0.0, 0.2])
    s.edit_mode()
    s.op("mesh.loopcut_slide", MESH_OT_loopcut={"number_cuts": s.style.cuts, "edge_index": 1, "object_index": 0})
    s.op("mesh.bevel", offset=s.style.bevel_offset, segments=s.style.bevel_segments)
    s.object_mode()
    _block(s, [width, 0.2, 0.5], [0.0, 0.35, 0.6])
    s.op("object.modifier_add", type="BEVEL")
    for side in (1, -1):
        _block(s, [0.2, 0.9, 0.3], [side * (width / 2 + 0.1), 0.0, 0.45])
    finish(s)


# Architecture -----------------------------------------------------------------------------


def wall_with_windows(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_cube_add", size=1.0, location=[0.0, 0.0, 1.5])
    s.op("transform.resize", value=[s.pick((4.0, 6.0, 8.0)), 0.25, 3.0])
    s.resized()
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=s.style.cuts)
    s.look()
    _random_faces(s, s.pick((0.3, 0.5)))
    s.retry("mesh.inset", thickness=s.style.inset_thickness, use_individual=True)
    s.op("mesh.extrude_region_shrink_fatten", TRANSFORM_OT_shrink_fatten={"value": -s.style.extrude_depth})
    s.object_mode()
    s.op("object.modifier_add", type="BEVEL")
    s.maybe_pause()


def stairs(s: SessionBuilder) -> None:
    rise, run, steps = s.pick((0.15, 0.18, 0.2)), s.pick((0.25, 0.3)), s.rng.randint(5, 10)
    _block(s, [s.pick((1.0, 1.2)), run, rise], [0.0, 0.0, rise / 2])
    for index in range(steps):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [0.0, run, rise]})
        if index % 3 == 2:
            s.look(0.3)
    _join_all(s)
    s.maybe_pause()


def columns(s: SessionBuilder) -> None:
    radius, height, spacing = s.pick((0.2, 0.25, 0.3)), s.pick((2.5, 3.0, 4.0)), s.pick((1.5, 2.0, 2.5))
    _add(s, "mesh.primitive_cylinder_add", vertices=s.pick((12, 16, 24)), radius=radius, depth=height, location=[0.0, 0.0, height / 2])
    s.enter_edit()
    s.op("mesh.select_all", action="DESELECT")
    s.op("mesh.select_face_by_sides", number=4, type="GREATER")
    s.op("mesh.extrude_region_shrink_fatten", TRANSFORM_OT_shrink_fatten={"value": s.style.extrude_depth})
    s.object_mode()
    s.op("object.modifier_add", type="BEVEL")
    s.op("object.shade_smooth")
    _duplicates(s, [spacing, 0.0, 0.0], s.rng.randint(3, 6), 0.2)
    s.maybe_pause()


def tower(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_circle_add", vertices=s.pick((6, 8, 12)), radius=s.pick((1.0, 1.5)), fill_type="NGON")
    s.enter_edit()
    height = s.pick((1.0, 1.5, 2.0))
    for level in range(s.rng.randint(3, 6)):
        s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, height]})
        if level % 2 == 1:
            s.op("mesh.inset", thickness=s.style.inset_thickness)
        s.look(0.25)
    s.object_mode()
    finish(s)


def floor_plan(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_plane_add", size=s.pick((6.0, 8.0, 10.0)))
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=s.style.cuts)
    _random_faces(s, 0.5)
    s.look()
    s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, s.pick((2.5, 3.0))]})
    s.retry("mesh.inset", thickness=s.style.inset_thickness)
    s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, -s.style.extrude_depth]})
    s.object_mode()
    s.op("object.modifier_add", type="SOLIDIFY")
    s.maybe_pause()


# Low-poly props -------------------------------------------------------------------------------


def barrel(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_cylinder_add", vertices=s.pick((16, 24, 32)), radius=0.5, depth=1.2, location=[0.0, 0.0, 0.6])
    s.enter_edit()
    s.op("mesh.loopcut_slide", MESH_OT_loopcut={"number_cuts": s.style.cuts + 1, "edge_index": 2, "object_index": 0})
    s.look()
    s.op("mesh.select_all", action="DESELECT")
    s.op("mesh.select_face_by_sides", number=4, type="GREATER")
    s.retry("mesh.inset", thickness=s.style.inset_thickness)
    if s.rng.random() < 0.5:
        s.op("mesh.extrude_region_shrink_fatten", TRANSFORM_OT_shrink_fatten={"value": -s.style.inset_thickness})
    else:  # Extrude Individual Faces
        s.op("mesh.extrude_faces_move", TRANSFORM_OT_shrink_fatten={"value": -s.style.inset_thickness})
    s.object_mode()
    s.op("object.shade_smooth")
    finish(s)


def crate(s: SessionBuilder) -> None:
    size = s.pick((0.5, 1.0, 1.5))
    _add(s, "mesh.primitive_cube_add", size=size, location=[0.0, 0.0, size / 2])
    s.edit_mode()
    s.retry("mesh.inset", thickness=s.style.inset_thickness, use_individual=True)
    if s.rng.random() < 0.5:
        s.op("mesh.extrude_region_shrink_fatten", TRANSFORM_OT_shrink_fatten={"value": -s.style.inset_thickness})
    else:  # Extrude Individual Faces
        s.op("mesh.extrude_faces_move", TRANSFORM_OT_shrink_fatten={"value": -s.style.inset_thickness})
    s.object_mode()
    s.op("object.modifier_add", type="BEVEL")
    if s.rng.random() < 0.6:
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [size * 1.2, 0.0, 0.0]})
        s.op("transform.rotate", value=math.radians(s.pick((10, 15, 20))), orient_axis="Z")
    finish(s)


def lamp(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_cylinder_add", vertices=24, radius=0.15, depth=0.04, location=[0.0, 0.0, 0.02])
    pole = s.pick((0.4, 0.5, 1.4))
    _add(s, "mesh.primitive_cylinder_add", vertices=12, radius=0.015, depth=pole, location=[0.0, 0.0, pole / 2])
    s.op("mesh.primitive_cone_add", vertices=24, radius1=s.pick((0.15, 0.2)), radius2=0.08, depth=0.2, location=[0.0, 0.0, pole])
    s.op("object.shade_smooth")
    s.op("object.modifier_add", type="SOLIDIFY")
    s.look()
    s.add("object.light_add", type="POINT", radius=0.05, location=[0.0, 0.0, pole - 0.05])
    s.maybe_pause()


def tree(s: SessionBuilder) -> None:
    trunk = s.pick((1.0, 1.5, 2.0))
    _add(s, "mesh.primitive_cylinder_add", vertices=8, radius=s.pick((0.1, 0.15)), depth=trunk, location=[0.0, 0.0, trunk / 2])
    _material(s)
    _add(s, "mesh.primitive_ico_sphere_add", subdivisions=s.rng.randint(1, 2), radius=s.pick((0.6, 0.8, 1.0)), location=[0.0, 0.0, trunk + 0.4])
    s.enter_edit()
    s.op("transform.vertex_random", offset=s.pick((0.1, 0.15, 0.2)), seed=s.rng.randint(0, 20))
    if s.rng.random() < 0.4:
        s.op("mesh.vertices_smooth", factor=s.pick((0.5, 1.0)), repeat=s.pick((1, 3, 5)))
    s.object_mode()
    _material(s)
    if s.rng.random() < 0.5:
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, 0.5]})
        s.op("transform.resize", value=[0.7, 0.7, 0.7])
    s.maybe_pause()


def rock(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_ico_sphere_add", subdivisions=s.rng.randint(2, 3), radius=s.pick((0.5, 1.0)))
    s.op("transform.resize", value=[1.0, s.pick((0.7, 0.8)), s.pick((0.5, 0.6))])
    s.resized()
    s.enter_edit()
    s.retry("transform.vertex_random", offset=s.pick((0.1, 0.2, 0.3)), seed=s.rng.randint(0, 20))
    s.object_mode()
    s.op("object.modifier_add", type="DECIMATE")
    s.op("object.shade_smooth")
    scale = s.pick((0.6, 0.8))
    for _ in range(s.rng.randint(0, 3)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [s.pick((1.5, 2.0, -1.5)), s.pick((0.5, -0.5, 1.0)), 0.0]})
        s.op("transform.resize", value=[scale] * 3)
        s.op("transform.rotate", value=math.radians(s.pick((30, 45, 90))), orient_axis="Z")
    s.maybe_pause()


def sword(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_cube_add", size=1.0, location=[0.0, 0.0, 0.6])
    s.op("transform.resize", value=[0.08, 0.01, s.pick((0.8, 1.0))])
    s.enter_edit()
    s.op("mesh.loopcut_slide", MESH_OT_loopcut={"number_cuts": s.style.cuts, "edge_index": 4, "object_index": 0})
    s.op("mesh.bevel", offset=s.style.bevel_offset, segments=s.style.bevel_segments, affect="VERTICES")
    s.object_mode()
    _block(s, [0.3, 0.04, 0.04], [0.0, 0.0, 0.1])
    _add(s, "mesh.primitive_cylinder_add", vertices=8, radius=0.02, depth=0.25, location=[0.0, 0.0, -0.05])
    _join_all(s)
    finish(s)


def curve_ring(s: SessionBuilder) -> None:
    """A band or a rim from a curve: Bezier circle, converted to a mesh, its edge ring extruded up."""
    s.add("curve.primitive_bezier_circle_add", radius=s.pick((0.5, 1.0, 1.5)), location=[0.0, 0.0, s.pick((0.0, 0.5))])
    s.added()
    s.op("object.convert", target="MESH")
    s.edit_mode()
    s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, s.pick((0.2, 0.5, 1.0))]})
    s.object_mode()
    s.modifier("SOLIDIFY")
    finish(s)


def text_sign(s: SessionBuilder) -> None:
    """Lettering for a sign: a text object scaled, converted to a mesh, given depth with Solidify."""
    s.add("object.text_add", location=[0.0, 0.0, s.pick((0.01, 1.0, 2.0))])
    s.added()
    if s.rng.random() < 0.7:  # Tab, erase the default "Text", type the sign's words, Tab
        s.enter_edit()
        if s.rng.random() < 0.5:
            s.op("font.delete", type="PREVIOUS_WORD")
        else:
            for _ in range(4):
                s.op("font.delete", type="PREVIOUS_OR_SELECTION")
        s.op("font.text_insert", text=s.pick(("OPEN", "EXIT", "Cafe", "Hotel", "NEP", "Shop", "42")))
        s.object_mode()
    s.op("transform.resize", value=[s.pick((0.5, 1.0, 2.0))] * 3)
    s.resized()
    s.op("object.convert", target="MESH")
    s.modifier("SOLIDIFY")
    if s.rng.random() < 0.5:
        s.modifier("BEVEL")
    s.maybe_pause()


# Modeling workflows -------------------------------------------------------------------------


def modifier_stack(s: SessionBuilder) -> None:
    _add(s, s.pick(("mesh.primitive_cube_add", "mesh.primitive_monkey_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_torus_add")))
    stack = s.pick((("MIRROR", "SUBSURF", "BEVEL"), ("SUBSURF", "SOLIDIFY"), ("ARRAY", "BEVEL", "SUBSURF"), ("SOLIDIFY", "BEVEL", "WEIGHTED_NORMAL")))
    for modifier in stack:
        s.look(0.3)
        s.modifier(modifier, in_a_stack=True)
        s.maybe_pause(0.05)
    if s.style.applies_modifiers:
        s.look(0.3)
        s.apply_stack()
    if s.rng.random() < 0.3:
        s.abandon("object.modifier_add", type="TRIANGULATE")
    s.op("object.shade_smooth")


def extrude_inset(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_plane_add", size=s.pick((1.0, 2.0)))
    s.enter_edit()
    for level in range(s.rng.randint(3, 6)):
        s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, s.style.extrude_depth]})
        if level % 2 == 1:
            s.retry("mesh.inset", thickness=s.style.inset_thickness)
        s.look(0.25)
    s.object_mode()
    finish(s)


def inset_panels(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_cube_add", size=s.pick((1.0, 2.0)))
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=s.style.cuts)
    _random_faces(s, s.pick((0.3, 0.5)))
    s.retry("mesh.inset", thickness=s.style.inset_thickness, use_individual=True)
    if s.rng.random() < 0.5:
        s.op("mesh.extrude_region_shrink_fatten", TRANSFORM_OT_shrink_fatten={"value": -s.style.inset_thickness})
    else:  # Extrude Individual Faces
        s.op("mesh.extrude_faces_move", TRANSFORM_OT_shrink_fatten={"value": -s.style.inset_thickness})
    s.look()
    s.op("mesh.select_all", action="SELECT")
    s.op("mesh.bevel", offset=s.style.bevel_offset, segments=s.style.bevel_segments)
    s.object_mode()
    finish(s)


def bevel_edges(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_cube_add", size=s.pick((1.0, 2.0)))
    s.edit_mode()
    s.retry("mesh.bevel", offset=s.style.bevel_offset, segments=s.style.bevel_segments)
    s.look()
    s.op("mesh.select_all", action="DESELECT")
    s.op("mesh.select_all", action="SELECT")
    s.op("mesh.subdivide", number_cuts=s.style.cuts)
    s.object_mode()
    s.op("object.shade_smooth")
    s.maybe_pause()


def loop_cuts(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_cube_add", size=s.pick((1.0, 2.0)))
    s.enter_edit()
    for edge in s.rng.sample((0, 1, 4), 2):
        s.op("mesh.loopcut_slide", MESH_OT_loopcut={"number_cuts": s.style.cuts, "edge_index": edge, "object_index": 0})
        s.look(0.3)
    _random_faces(s, 0.3)
    s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, s.style.extrude_depth]})
    s.object_mode()
    s.op("object.modifier_add", type="SUBSURF")
    s.op("object.shade_smooth")
    s.maybe_pause()


def boolean_cut(s: SessionBuilder) -> None:
    """A hole through a block: a cutter placed through it, a Boolean modifier applied, the cutter deleted."""
    size = s.pick((1.0, 2.0))
    _add(s, "mesh.primitive_cube_add", size=size, location=[0.0, 0.0, size / 2])
    block = s.bpy.context.active_object
    cutter_kind = s.pick(("mesh.primitive_cylinder_add", "mesh.primitive_cylinder_add", "mesh.primitive_cube_add", "mesh.primitive_uv_sphere_add"))
    if cutter_kind == "mesh.primitive_cylinder_add":
        _add(s, cutter_kind, radius=round(size * s.pick((0.15, 0.25)), 2), depth=size * 2, location=[0.0, 0.0, size / 2])
        if s.rng.random() < 0.5:
            s.op("transform.rotate", value=math.radians(90), orient_axis=s.pick(("X", "Y")))
    else:
        _add(s, cutter_kind, location=[s.pick((0.0, size / 2)), 0.0, size])
        s.op("transform.resize", value=[s.pick((0.3, 0.5))] * 3)
    cutter = s.bpy.context.active_object
    s.click(block)
    s.op("object.modifier_add", type="BOOLEAN")
    s.pick_modifier_object(cutter)
    s.look(0.3)
    s.op("object.modifier_apply")
    s.click(cutter)
    if s.rng.random() < 0.8:
        s.op("object.delete")
    s.click(block)
    finish(s)


def solidify_shell(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_uv_sphere_add", segments=s.pick((16, 24, 32)), ring_count=s.pick((8, 12, 16)), radius=1.0)
    s.enter_edit()
    _random_faces(s, s.pick((0.2, 0.3)))
    s.op("mesh.delete", type="FACE")
    s.op("mesh.select_all", action="SELECT")
    s.op("mesh.solidify", thickness=s.style.inset_thickness)
    s.object_mode()
    s.op("object.modifier_add", type="SUBSURF")
    s.op("object.shade_smooth")
    s.maybe_pause()


def cleanup(s: SessionBuilder) -> None:
    """Tidy a mesh: merge the doubles a cancelled extrude left, fix normals, apply scale, origin to geometry."""
    _add(s, s.pick(("mesh.primitive_monkey_add", "mesh.primitive_cube_add", "mesh.primitive_uv_sphere_add")), location=[0.0, 0.0, 1.0])
    s.op("transform.resize", value=[s.pick((1.5, 2.0)), 1.0, s.pick((0.5, 1.0, 1.5))])
    s.resized()
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=1)
    s.op("mesh.extrude_region_move")  # an extrude cancelled with right-click leaves doubles behind
    s.look(0.3)
    s.op_if_it_changes("mesh.remove_doubles", threshold=s.pick((0.0001, 0.001, 0.01)))
    s.op_if_it_changes("mesh.normals_make_consistent", inside=False)
    if s.rng.random() < 0.3:
        s.op_if_it_changes("mesh.tris_convert_to_quads")
    if s.rng.random() < 0.4:
        s.op_if_it_changes("mesh.dissolve_limited", angle_limit=math.radians(s.pick((5, 5, 15))))
    s.object_mode()
    if not s.style.applies_scale:
        s.op("object.transform_apply", location=False, rotation=False, scale=True)
    s.op_if_it_changes("object.origin_set", type="ORIGIN_GEOMETRY")
    finish(s)


def mesh_repair(s: SessionBuilder) -> None:
    """Fix a mesh that came in broken (faces flipped, holes, a loose part): tidy it in edit mode."""
    _add(s, s.pick(("mesh.primitive_monkey_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_cylinder_add")))
    s.found("object.mode_set", mode="EDIT")  # the flaws the artist finds: not their own steps
    s.found("mesh.select_all", action="DESELECT")
    s.found("mesh.select_random", ratio=0.2, seed=s.rng.randint(0, 9))
    s.found("mesh.flip_normals")
    if s.rng.random() < 0.6:
        s.found("mesh.select_all", action="DESELECT")
        s.found("mesh.select_random", ratio=0.05, seed=s.rng.randint(0, 9))
        s.found("mesh.delete", type="ONLY_FACE")
    loose = s.rng.random() < 0.5
    if loose:  # stray edges, the faces of a small part lost
        s.found("mesh.primitive_ico_sphere_add", subdivisions=1, radius=0.1, location=[2.0, 0.0, 0.0])
        s.found("mesh.delete", type="ONLY_FACE")
    s.found("mesh.select_all", action="DESELECT")
    s.found("object.mode_set", mode="OBJECT")
    s.edit_mode()
    s.op_if_it_changes("mesh.remove_doubles", threshold=s.pick((0.0001, 0.001)))
    if loose:
        _select_mode(s, "EDGE")  # Select Loose picks edges without faces in edge select mode
        s.op("mesh.select_all", action="DESELECT")
        s.op("mesh.select_loose")
        s.op("mesh.delete", type="EDGE")
        s.op("mesh.select_all", action="SELECT")
    s.op_if_it_changes("mesh.fill_holes", sides=s.pick((0, 4)))
    s.op_if_it_changes("mesh.normals_make_consistent", inside=False)
    if s.rng.random() < 0.3:
        s.op_if_it_changes("mesh.dissolve_degenerate")
    s.object_mode()
    finish(s)


# Simulation -------------------------------------------------------------------------------


def _rigid_body(s: SessionBuilder, passive: bool = False) -> None:
    s.op("rigidbody.object_add", type="PASSIVE" if passive else "ACTIVE")


def _bake(s: SessionBuilder, chance: float = 0.7) -> None:
    """Sometimes bake the simulations (Bake All Dynamics) to play them back, freeing an earlier bake first."""
    if s.rng.random() < chance:
        s.look(0.3)
        if any(cache.is_baked for cache in point_caches(s.bpy.context.scene)):
            s.op("ptcache.free_bake_all")
        s.op("ptcache.bake_all")


def rigid_body_drop(s: SessionBuilder) -> None:
    """Objects dropped onto a floor: the floor a passive rigid body, each object an active one."""
    _add(s, "mesh.primitive_plane_add", size=s.pick((10.0, 20.0)))
    _rigid_body(s, passive=True)
    kind = s.pick(("mesh.primitive_cube_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_ico_sphere_add", "mesh.primitive_cylinder_add"))
    _add(s, kind, location=[0.0, 0.0, s.pick((2.0, 3.0, 5.0))])
    if s.rng.random() < 0.4:
        s.op("transform.rotate", value=math.radians(s.pick((15, 30, 45))), orient_axis=s.pick(("X", "Y")))
    _rigid_body(s)
    if s.rng.random() < 0.6:  # a stack: copies keep their rigid bodies
        _duplicates(s, [s.pick((0.2, 0.4, 0.0)), 0.0, s.pick((1.5, 2.0, 2.5))], s.rng.randint(2, 5))
    else:
        for index in range(s.rng.randint(1, 3)):
            _add(s, s.pick(("mesh.primitive_cube_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_monkey_add")), location=[s.pick((1.0, -1.0, 0.5)), 0.0, 4.0 + 2.0 * index])
            _rigid_body(s)
    _bake(s)
    s.maybe_pause()


def dominoes(s: SessionBuilder) -> None:
    """A row of dominoes on a floor, and a ball to knock the first over."""
    _add(s, "mesh.primitive_plane_add", size=s.pick((10.0, 20.0)))
    _rigid_body(s, passive=True)
    height = s.pick((0.5, 0.8, 1.0))
    _block(s, [0.1, 0.4, height], [0.0, 0.0, height / 2])
    _rigid_body(s)
    _duplicates(s, [s.pick((0.3, 0.4, 0.5)), 0.0, 0.0], s.rng.randint(4, 9), 0.1)
    _add(s, "mesh.primitive_uv_sphere_add", radius=0.2, location=[-1.0, 0.0, height + 0.5])
    _rigid_body(s)
    _bake(s)
    s.maybe_pause()


def cloth_drape(s: SessionBuilder) -> None:
    """A cloth dropped over an object: the object collides, a subdivided plane above it is the cloth."""
    _add(s, s.pick(("mesh.primitive_cube_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_monkey_add")), location=[0.0, 0.0, 1.0])
    s.op("object.modifier_add", type="COLLISION")
    _add(s, "mesh.primitive_plane_add", size=s.pick((3.0, 4.0)), location=[0.0, 0.0, s.pick((2.5, 3.0))])
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=s.pick((8, 10, 12)))
    s.object_mode()
    s.op("object.modifier_add", type="CLOTH")
    _bake(s)
    s.op("object.shade_smooth")
    if s.rng.random() < 0.5:
        s.op("object.modifier_add", type="SUBSURF")
    s.maybe_pause()


# Environment ------------------------------------------------------------------------------


def terrain(s: SessionBuilder) -> None:
    """Ground from a dense grid, displaced by a new noise texture, then smoothed."""
    size = s.pick((10.0, 20.0, 40.0))
    if s.rng.random() < 0.5:
        cuts = s.pick((20, 32, 50))
        _add(s, "mesh.primitive_grid_add", x_subdivisions=cuts, y_subdivisions=cuts, size=size)
    else:
        _add(s, "mesh.primitive_plane_add", size=size)
        s.edit_mode()
        s.op("mesh.subdivide", number_cuts=s.pick((10, 20, 30)))
        s.object_mode()
    s.op("object.modifier_add", type="DISPLACE")
    s.new_texture(s.pick(("CLOUDS", "CLOUDS", "VORONOI", "DISTORTED_NOISE")))
    s.look()
    if s.rng.random() < 0.5:
        s.op("object.modifier_add", type="SUBSURF")
        if s.rng.random() < 0.5:  # subdivide before displacing
            s.op("object.modifier_move_up")
    s.op("object.shade_smooth")
    s.maybe_pause()


# Scene set-up, continued ---------------------------------------------------------------------


def camera_rig(s: SessionBuilder) -> None:
    """A camera aimed at the subject (or an empty above it) with a Track To constraint; a new world."""
    _add(s, s.pick(("mesh.primitive_monkey_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_torus_add")), location=[0.0, 0.0, 1.0])
    target = s.bpy.context.active_object
    if s.rng.random() < 0.5:
        s.add("object.empty_add", type="PLAIN_AXES", location=[0.0, 0.0, 1.0])
        target = s.bpy.context.active_object
    s.add("object.camera_add", location=[s.pick((6.0, 8.0)), -s.pick((6.0, 8.0)), s.pick((3.0, 4.0, 5.0))])
    s.op("object.constraint_add", type="TRACK_TO")
    s.pick_constraint_target(target)
    if s.rng.random() < 0.5:
        s.new_world()
    if s.rng.random() < 0.5:
        s.add("object.light_add", type=s.pick(("SUN", "AREA")), location=[4.0, -4.0, 6.0])
    s.maybe_pause()


def curve_path(s: SessionBuilder) -> None:
    """A path drawn point by point (its first points deleted, new ones added), then given a follower."""
    s.add("curve.primitive_bezier_curve_add", location=[0.0, 0.0, s.pick((0.0, 1.0))])
    s.added()
    s.enter_edit()
    if s.rng.random() < 0.5:  # redraw it: delete every point, Ctrl+right-click new ones
        s.op("curve.select_all", action="SELECT")
        s.op("curve.delete", type="VERT")
        x = 0.0
        for _ in range(s.rng.randint(2, 5)):
            x += s.pick((1.0, 2.0))
            s.op("curve.vertex_add", location=[x, s.pick((0.0, 1.0, -1.0)), 0.0])
    else:  # extend it from its end (E)
        s.op("curve.select_all", action="DESELECT")
        s.op("curve.de_select_last")
        for _ in range(s.rng.randint(1, 4)):
            s.op("curve.extrude_move", TRANSFORM_OT_translate={"value": [s.pick((1.0, 2.0)), s.pick((0.0, 1.0, -1.0)), 0.0]})
    s.op("curve.select_all", action="SELECT")
    if s.rng.random() < 0.5:
        s.op("curve.subdivide", number_cuts=s.pick((1, 2, 3)))
    if s.rng.random() < 0.4:
        s.op_if_it_changes("curve.handle_type_set", type=s.pick(("AUTOMATIC", "VECTOR")))
    s.object_mode()
    path = s.bpy.context.active_object
    if s.rng.random() < 0.5:  # something to travel along it
        s.add(s.pick(("object.camera_add", "object.empty_add")))
        s.op("object.constraint_add", type="FOLLOW_PATH")
        s.pick_constraint_target(path)
    else:
        s.op("object.convert", target="MESH")
    s.maybe_pause()


# Scene set-up ---------------------------------------------------------------------------------


def materials(s: SessionBuilder) -> None:
    for index in range(s.rng.randint(2, 4)):
        primitive = s.pick(("mesh.primitive_cube_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_cylinder_add"))
        _add(s, primitive, location=[index * 2.5, 0.0, 1.0])
        _material(s)
    s.maybe_pause()


def uv_unwrap(s: SessionBuilder) -> None:
    _add(s, s.pick(("mesh.primitive_cube_add", "mesh.primitive_cylinder_add", "mesh.primitive_monkey_add")))
    _uv(s)
    _material(s)
    s.maybe_pause()


def lighting_and_camera(s: SessionBuilder) -> None:
    _add(s, "mesh.primitive_plane_add", size=s.pick((10.0, 20.0)))
    _add(s, "mesh.primitive_monkey_add", location=[0.0, 0.0, 1.0])
    s.op("object.shade_smooth")
    key = s.pick(("AREA", "SUN", "POINT", "SPOT"))
    s.add("object.light_add", type=key, location=[s.pick((3.0, 4.0)), -s.pick((3.0, 4.0)), s.pick((4.0, 5.0))])
    if s.rng.random() < 0.6:  # a fill light, and sometimes a rim light behind: three-point lighting
        s.add("object.light_add", type="AREA", location=[-s.pick((3.0, 4.0)), -2.0, 3.0])
        if s.rng.random() < 0.5:
            s.add("object.light_add", type=s.pick(("AREA", "SPOT", "POINT")), location=[0.0, s.pick((3.0, 4.0)), s.pick((3.0, 4.0))])
    if s.style.moves_new_objects:
        s.add("object.camera_add", location=[7.0, -7.0, s.pick((4.0, 5.0))])
        s.op("transform.rotate", value=math.radians(63), orient_axis="X")
    else:
        s.op("object.camera_add", location=[7.0, -7.0, s.pick((4.0, 5.0))], rotation=[math.radians(63), 0.0, math.radians(45)])
    s.retry("transform.rotate", value=math.radians(s.pick((5, 10, -5))), orient_axis="Z")
    s.maybe_pause()


def scatter(s: SessionBuilder) -> None:
    _add(s, s.pick(("mesh.primitive_ico_sphere_add", "mesh.primitive_cube_add", "mesh.primitive_cone_add", "mesh.primitive_torus_add")), location=[0.0, 0.0, 0.5])
    step, turn = s.pick((1.0, 1.5, 2.0)), math.radians(s.pick((15, 30, 45)))
    for _ in range(s.rng.randint(3, 7)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [step, s.pick((0.0, 0.5, -0.5)), 0.0]})
        s.op("transform.rotate", value=turn, orient_axis="Z")
        s.look(0.15)
    randomizes = s.rng.random() < 0.35
    if randomizes:  # Object > Transform > Randomize Transform
        s.op("object.select_all", action="SELECT")
        s.op("object.randomize_transform", random_seed=s.rng.randint(0, 9), loc=[s.pick((0.2, 0.5))] * 2 + [0.0], rot=[0.0, 0.0, math.radians(s.pick((15, 45, 90)))])
    _join_all(s, all_selected=randomizes)
    s.maybe_pause()


def grass_patch(s: SessionBuilder) -> None:
    """A ground plane, sometimes subdivided, given a hair particle system."""
    _add(s, "mesh.primitive_plane_add", size=s.pick((4.0, 10.0, 20.0)))
    if s.rng.random() < 0.5:
        s.edit_mode()
        s.op("mesh.subdivide", number_cuts=s.pick((4, 8)))
        s.object_mode()
    s.op("object.particle_system_add")
    s.maybe_pause()


def material_zones(s: SessionBuilder) -> None:
    """Several materials on one object: a slot each, then faces picked in edit mode and assigned to it."""
    _add(s, s.pick(("mesh.primitive_cylinder_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_monkey_add")))
    _material(s)
    for _ in range(s.rng.randint(1, 2)):
        _material(s)
        s.enter_edit()
        _random_faces(s, s.pick((0.2, 0.3, 0.5)))
        s.op("object.material_slot_assign")
        s.object_mode()
        s.look(0.3)
    if s.rng.random() < 0.15:
        s.abandon("object.material_slot_remove")
    s.maybe_pause()


def split_parts(s: SessionBuilder) -> None:
    """Break a part off a mesh (P): faces picked, or the whole mesh duplicated in edit mode, then separated."""
    _add(s, s.pick(("mesh.primitive_cylinder_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_monkey_add")))
    s.enter_edit()
    if s.rng.random() < 0.6:
        _random_faces(s, s.pick((0.2, 0.4)))
        s.op("mesh.separate", type="SELECTED")
    else:
        s.op("mesh.select_all", action="SELECT")
        s.op("mesh.duplicate_move", TRANSFORM_OT_translate={"value": [s.pick((1.5, 2.5, 3.0)), 0.0, 0.0]})
        s.op("mesh.separate", type=s.pick(("SELECTED", "SELECTED", "LOOSE")))
    s.object_mode()
    finish(s)


# Rigging ------------------------------------------------------------------------------------


def pivot_parent(s: SessionBuilder) -> None:
    """A row of objects parented to an empty, so that they move and turn together."""
    _add(s, s.pick(("mesh.primitive_ico_sphere_add", "mesh.primitive_cube_add", "mesh.primitive_torus_add")), location=[s.pick((1.0, 2.0)), 0.0, 0.5])
    _duplicates(s, [s.pick((1.0, 1.5)), 0.0, 0.0], s.rng.randint(1, 4))
    s.add("object.empty_add", type=s.pick(("PLAIN_AXES", "PLAIN_AXES", "ARROWS", "CUBE")))
    s.op("object.select_all", action="SELECT")
    s.op("object.parent_set", type="OBJECT", keep_transform=s.rng.random() < 0.3)
    s.maybe_pause()


def simple_rig(s: SessionBuilder) -> None:
    """A pole and its armature: a chain of bones extruded up, then parented with automatic weights."""
    height = s.pick((2.0, 3.0, 4.0))
    _add(s, "mesh.primitive_cylinder_add", radius=s.pick((0.2, 0.3, 0.5)), depth=height, location=[0.0, 0.0, height / 2])
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=s.pick((4, 6, 8)))
    s.object_mode()
    s.add("object.armature_add")
    s.enter_edit()
    bones = s.rng.randint(1, 3)
    for _ in range(bones):
        s.op("armature.extrude_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, round((height - 1.0) / bones, 2)]})
        s.look(0.2)
    s.object_mode()
    s.op("object.select_all", action="SELECT")
    s.op("object.parent_set", type=s.pick(("ARMATURE_AUTO", "ARMATURE_AUTO", "ARMATURE_ENVELOPE")))
    if s.rng.random() < 0.7:  # try the rig: pose mode (Ctrl+Tab), bend, clear the pose, back
        s.op("object.posemode_toggle")
        s.op("pose.select_all", action="SELECT")
        s.look(0.3)
        s.op("transform.rotate", value=math.radians(s.pick((20, 30, 45, -30))), orient_axis=s.pick(("X", "Y")))
        s.look(0.3)
        if s.rng.random() < 0.6:
            s.op(s.pick(("pose.rot_clear", "pose.transforms_clear")))
        s.op("object.posemode_toggle")
    s.maybe_pause()


THEMES: dict[str, tuple[Callable[[SessionBuilder], None], ...]] = {
    "furniture": (table, chair, sofa, shelf, lamp),
    "architecture": (floor_plan, wall_with_windows, columns, stairs, tower),
    "props": (barrel, crate, sword, curve_ring, curve_path, text_sign),
    "environment": (terrain, rock, tree, scatter, grass_patch),
    "hard_surface": (modifier_stack, extrude_inset, inset_panels, bevel_edges, loop_cuts, solidify_shell, cleanup, mesh_repair, split_parts, boolean_cut),
    "look_dev": (materials, material_zones, uv_unwrap, camera_rig, lighting_and_camera),
    "rigging": (pivot_parent, simple_rig),
    "simulation": (rigid_body_drop, dominoes, cloth_drape),
}
"""What one session models: two to four families of one theme, in the theme's order (the table before
its chairs, the floor plan before the walls), sometimes followed by a camera and lights."""

FAMILIES: dict[str, Callable[[SessionBuilder], None]] = {recipe.__name__: recipe for recipes in THEMES.values() for recipe in recipes}
"""Every recipe family by name."""


def plan_session(rng) -> tuple[str, list[str]]:
    """The theme of a session and its families, in order."""
    theme = rng.choice(sorted(THEMES))
    names = [recipe.__name__ for recipe in THEMES[theme]]
    chosen = sorted(rng.sample(range(len(names)), rng.randint(2, min(4, len(names)))))
    families = [names[position] for position in chosen]
    if "lighting_and_camera" not in families and rng.random() < 0.3:
        families.append("lighting_and_camera")
    return theme, families
