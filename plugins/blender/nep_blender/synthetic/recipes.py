"""Recipe families: procedural modeling sessions with randomized parameters, one function each.

Each recipe drives a ``SessionBuilder``: the steps an artist takes to model one kind of thing, with
sizes, counts and offsets drawn per session and then reused (a table's legs share a size; stairs
repeat one step offset), views and selections in between, sometimes an abandoned step, sometimes a
pause. Several recipes chain ``finish`` steps (smooth shading, modifiers, a material, UVs) the way
artists finish a model.
"""

from __future__ import annotations

import math
from typing import Callable

from nep_blender.synthetic.builder import SessionBuilder

SIZES = (0.5, 1.0, 1.5, 2.0)
OFFSETS = (0.1, 0.2, 0.25, 0.3, 0.5)


def _finish(s: SessionBuilder) -> None:
    """The common finishing moves, in a per-session order."""
    moves = ["smooth", "bevel", "material", "uv"]
    s.rng.shuffle(moves)
    for move in moves[: s.rng.randint(1, 3)]:
        s.look()
        if move == "smooth":
            mesh = s.bpy.context.object.data if s.bpy.context.object and s.bpy.context.object.type == "MESH" else None
            if mesh is not None and not all(polygon.use_smooth for polygon in mesh.polygons):
                s.op("object.shade_smooth")
        elif move == "bevel":
            s.op("object.modifier_add", type="BEVEL")
        elif move == "material":
            s.op("object.material_slot_add")
            s.op("material.new")
        else:
            s.edit_mode()
            s.op("uv.smart_project", angle_limit=round(math.radians(s.number((45, 66, 66, 80))), 4), island_margin=s.number((0.0, 0.01, 0.02)))
            s.object_mode()
        s.maybe_pause()


def _block(s: SessionBuilder, size: list[float], location: list[float]) -> None:
    s.op("mesh.primitive_cube_add", size=1.0, location=location)
    s.op("transform.resize", value=size)


def table(s: SessionBuilder) -> None:
    width, depth, height = s.number((1.2, 1.6, 2.0)), s.number((0.8, 1.0)), s.number((0.75, 0.9))
    _block(s, [width, depth, 0.08], [0.0, 0.0, height])
    s.look()
    leg = s.number((0.06, 0.08, 0.1))
    x, y = round(width / 2 - leg, 3), round(depth / 2 - leg, 3)
    _block(s, [leg, leg, height], [x, y, height / 2])
    for dx, dy in ((-2 * x, 0.0), (0.0, -2 * y), (2 * x, 0.0)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [dx, dy, 0.0]})
        s.look(0.15)
    s.op("object.select_all", action="SELECT")
    s.op("object.join")
    _finish(s)


def chair(s: SessionBuilder) -> None:
    seat, height = s.number((0.4, 0.45, 0.5)), s.number((0.42, 0.45))
    _block(s, [seat, seat, 0.05], [0.0, 0.0, height])
    leg = s.number((0.04, 0.05))
    offset = round(seat / 2 - leg, 3)
    _block(s, [leg, leg, height], [offset, offset, height / 2])
    for dx, dy in ((-2 * offset, 0.0), (0.0, -2 * offset), (2 * offset, 0.0)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [dx, dy, 0.0]})
    s.look()
    _block(s, [seat, 0.04, s.number((0.4, 0.5))], [0.0, -offset, height + 0.25])
    s.op("transform.rotate", value=round(math.radians(s.number((-8, -10, -12))), 4), orient_axis="X")
    _finish(s)


def shelf(s: SessionBuilder) -> None:
    width, boards = s.number((0.8, 1.0, 1.2)), s.rng.randint(3, 5)
    _block(s, [width, 0.3, 0.03], [0.0, 0.0, 0.1])
    s.op("object.modifier_add", type="ARRAY")
    s.look()
    _block(s, [0.03, 0.3, 0.4 * boards], [width / 2, 0.0, 0.2 * boards])
    s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [-width, 0.0, 0.0]})
    s.op("object.modifier_add", type="SOLIDIFY")
    _finish(s)


def wall_with_windows(s: SessionBuilder) -> None:
    s.op("mesh.primitive_cube_add", size=1.0, location=[0.0, 0.0, 1.5])
    s.op("transform.resize", value=[s.number((4.0, 6.0, 8.0)), 0.25, 3.0])
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=s.rng.randint(1, 3))
    s.look()
    thickness = s.number((0.1, 0.15, 0.2))
    s.op("mesh.inset", thickness=thickness, use_individual=True)
    s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, s.number((0.1, 0.15)), 0.0]})
    if s.rng.random() < 0.3:
        s.abandon("mesh.inset", thickness=thickness * 2, use_individual=True)
    s.object_mode()
    s.op("object.modifier_add", type="BEVEL")
    s.maybe_pause()


def stairs(s: SessionBuilder) -> None:
    rise, run, steps = s.number((0.15, 0.18, 0.2)), s.number((0.25, 0.3)), s.rng.randint(5, 10)
    _block(s, [s.number((1.0, 1.2)), run, rise], [0.0, 0.0, rise / 2])
    for index in range(steps):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [0.0, run, rise]})
        if index % 3 == 2:
            s.look(0.3)
    s.op("object.select_all", action="SELECT")
    s.op("object.join")
    s.maybe_pause()


def columns(s: SessionBuilder) -> None:
    radius, height, spacing = s.number((0.2, 0.25, 0.3)), s.number((2.5, 3.0, 4.0)), s.number((1.5, 2.0, 2.5))
    s.op("mesh.primitive_cylinder_add", vertices=s.number((12, 16, 24)), radius=radius, depth=height, location=[0.0, 0.0, height / 2])
    s.op("object.modifier_add", type="BEVEL")
    s.op("object.shade_smooth")
    for _ in range(s.rng.randint(3, 6)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [spacing, 0.0, 0.0]})
        s.look(0.2)
    s.maybe_pause()


def barrel(s: SessionBuilder) -> None:
    s.op("mesh.primitive_cylinder_add", vertices=s.number((16, 24, 32)), radius=0.5, depth=1.2, location=[0.0, 0.0, 0.6])
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=s.rng.randint(2, 4))
    s.look()
    s.op("mesh.inset", thickness=s.number((0.03, 0.05)), use_individual=True)
    s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, -s.number((0.05, 0.08))]})
    s.object_mode()
    s.op("object.shade_smooth")
    _finish(s)


def crate(s: SessionBuilder) -> None:
    size = s.number(SIZES)
    s.op("mesh.primitive_cube_add", size=size, location=[0.0, 0.0, size / 2])
    s.op("object.modifier_add", type="BEVEL")
    s.edit_mode()
    s.op("mesh.inset", thickness=s.number((0.05, 0.08, 0.1)), use_individual=True)
    s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, -0.02]})
    s.object_mode()
    if s.rng.random() < 0.5:
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [size * 1.1, 0.0, 0.0]})
    _finish(s)


def lamp(s: SessionBuilder) -> None:
    s.op("mesh.primitive_cylinder_add", vertices=24, radius=0.15, depth=0.04, location=[0.0, 0.0, 0.02])
    pole = s.number((0.4, 0.5, 1.4))
    s.op("mesh.primitive_cylinder_add", vertices=12, radius=0.015, depth=pole, location=[0.0, 0.0, pole / 2])
    s.look()
    s.op("mesh.primitive_cone_add", vertices=24, radius1=s.number((0.15, 0.2)), radius2=0.08, depth=0.2, location=[0.0, 0.0, pole])
    s.op("object.shade_smooth")
    s.op("object.light_add", type="POINT", radius=0.05, location=[0.0, 0.0, pole - 0.05])
    s.maybe_pause()


def tree(s: SessionBuilder) -> None:
    trunk = s.number((1.0, 1.5, 2.0))
    s.op("mesh.primitive_cylinder_add", vertices=8, radius=s.number((0.1, 0.15)), depth=trunk, location=[0.0, 0.0, trunk / 2])
    s.op("object.material_slot_add")
    s.op("material.new")
    s.op("mesh.primitive_ico_sphere_add", subdivisions=s.rng.randint(1, 2), radius=s.number((0.6, 0.8, 1.0)), location=[0.0, 0.0, trunk + 0.4])
    s.edit_mode()
    s.op("transform.vertex_random", offset=s.number((0.1, 0.15, 0.2)), seed=s.rng.randint(0, 20))
    s.object_mode()
    s.op("object.material_slot_add")
    s.op("material.new")
    s.look()
    if s.rng.random() < 0.5:
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, 0.5]})
        s.op("transform.resize", value=[0.7, 0.7, 0.7])
    s.maybe_pause()


def rock(s: SessionBuilder) -> None:
    s.op("mesh.primitive_ico_sphere_add", subdivisions=s.rng.randint(2, 3), radius=s.number((0.5, 1.0)))
    s.op("transform.resize", value=[1.0, s.number((0.7, 0.8, 1.0)), s.number((0.5, 0.6))])
    s.edit_mode()
    s.op("transform.vertex_random", offset=s.number((0.1, 0.2, 0.3)), seed=s.rng.randint(0, 20))
    s.object_mode()
    s.op("object.modifier_add", type="DECIMATE")
    s.op("object.shade_smooth")
    for _ in range(s.rng.randint(0, 3)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [s.number((1.5, 2.0, -1.5)), s.number((0.5, -0.5, 1.0)), 0.0]})
        s.op("transform.resize", value=[s.number((0.6, 0.8))] * 3)
        s.op("transform.rotate", value=round(math.radians(s.number((30, 45, 90))), 4), orient_axis="Z")
    s.maybe_pause()


def modifier_stack(s: SessionBuilder) -> None:
    base = s.rng.choice(("mesh.primitive_cube_add", "mesh.primitive_monkey_add", "mesh.primitive_uv_sphere_add"))
    s.op(base)
    stack = s.rng.choice((("MIRROR", "SUBSURF", "BEVEL"), ("SUBSURF", "SOLIDIFY"), ("ARRAY", "BEVEL", "SUBSURF"), ("SOLIDIFY", "BEVEL", "WEIGHTED_NORMAL")))
    for modifier in stack:
        s.look(0.3)
        s.op("object.modifier_add", type=modifier)
        s.maybe_pause(0.08)
    if s.rng.random() < 0.3:
        s.abandon("object.modifier_add", type="TRIANGULATE")
    s.op("object.shade_smooth")


def extrude_tower(s: SessionBuilder) -> None:
    s.op("mesh.primitive_plane_add", size=s.number((1.0, 2.0)))
    s.edit_mode()
    height = s.number((0.5, 1.0, 1.5))
    for level in range(s.rng.randint(3, 6)):
        s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, height]})
        if level % 2 == 1:
            s.op("mesh.inset", thickness=s.number((0.05, 0.1)))
        s.look(0.25)
    s.object_mode()
    _finish(s)


def inset_panels(s: SessionBuilder) -> None:
    s.op("mesh.primitive_cube_add", size=s.number(SIZES))
    s.edit_mode()
    s.op("mesh.subdivide", number_cuts=s.rng.randint(1, 2))
    thickness, depth = s.number((0.02, 0.04, 0.05)), s.number((0.02, 0.03))
    s.op("mesh.inset", thickness=thickness, use_individual=True)
    s.op("mesh.extrude_region_move", TRANSFORM_OT_translate={"value": [0.0, 0.0, 0.0]})
    s.op("transform.shrink_fatten", value=-depth)
    s.look()
    s.op("mesh.bevel", offset=s.number((0.01, 0.02)), segments=s.rng.randint(1, 3))
    s.object_mode()
    _finish(s)


def bevel_edges(s: SessionBuilder) -> None:
    s.op("mesh.primitive_cube_add", size=s.number(SIZES))
    s.edit_mode()
    offset, segments = s.number((0.05, 0.1, 0.2)), s.rng.randint(2, 4)
    s.op("mesh.bevel", offset=offset, segments=segments)
    if s.rng.random() < 0.4:
        s.abandon("mesh.bevel", offset=offset * 2, segments=segments)
    s.look()
    s.op("mesh.select_all", action="DESELECT")
    s.op("mesh.select_all", action="SELECT")
    s.op("mesh.subdivide", number_cuts=1)
    s.object_mode()
    s.op("object.shade_smooth")
    s.maybe_pause()


def materials(s: SessionBuilder) -> None:
    for index in range(s.rng.randint(2, 4)):
        primitive = s.rng.choice(("mesh.primitive_cube_add", "mesh.primitive_uv_sphere_add", "mesh.primitive_cylinder_add"))
        s.op(primitive, location=[index * 2.5, 0.0, 1.0])
        s.op("object.material_slot_add")
        s.op("material.new")
        s.look(0.25)
    s.maybe_pause()


def uv_unwrap(s: SessionBuilder) -> None:
    s.op(s.rng.choice(("mesh.primitive_cube_add", "mesh.primitive_cylinder_add", "mesh.primitive_monkey_add")))
    s.edit_mode()
    method = s.rng.random()
    if method < 0.4:
        s.op("uv.smart_project", angle_limit=round(math.radians(s.number((45, 66))), 4), island_margin=s.number((0.01, 0.02)))
    elif method < 0.7:
        s.op("uv.unwrap", method=s.rng.choice(("ANGLE_BASED", "CONFORMAL")), margin=s.number((0.001, 0.01)))
    else:
        s.op("uv.cube_project", cube_size=s.number((1.0, 2.0)))
    s.look()
    s.object_mode()
    s.op("object.material_slot_add")
    s.op("material.new")
    s.maybe_pause()


def lighting_and_camera(s: SessionBuilder) -> None:
    s.op("mesh.primitive_plane_add", size=s.number((10.0, 20.0)))
    s.op("mesh.primitive_monkey_add", location=[0.0, 0.0, 1.0])
    s.op("object.shade_smooth")
    s.look()
    key = s.rng.choice(("AREA", "SUN", "POINT", "SPOT"))
    s.op("object.light_add", type=key, location=[s.number((3.0, 4.0)), -s.number((3.0, 4.0)), s.number((4.0, 5.0))])
    if s.rng.random() < 0.6:
        s.op("object.light_add", type="AREA", location=[-s.number((3.0, 4.0)), -2.0, 3.0])
    s.op("object.camera_add", location=[7.0, -7.0, s.number((4.0, 5.0))], rotation=[round(math.radians(63), 4), 0.0, round(math.radians(45), 4)])
    s.op("transform.rotate", value=round(math.radians(s.number((5, 10, -5))), 4), orient_axis="Z")
    s.maybe_pause()


def scatter(s: SessionBuilder) -> None:
    s.op(s.rng.choice(("mesh.primitive_ico_sphere_add", "mesh.primitive_cube_add", "mesh.primitive_cone_add")), location=[0.0, 0.0, 0.5])
    step = s.number((1.0, 1.5, 2.0))
    for _ in range(s.rng.randint(3, 7)):
        s.op("object.duplicate_move", TRANSFORM_OT_translate={"value": [step, s.number((0.0, 0.5, -0.5)), 0.0]})
        s.op("transform.rotate", value=round(math.radians(s.number((15, 30, 45))), 4), orient_axis="Z")
        s.look(0.15)
    s.op("object.select_all", action="SELECT")
    s.op("object.join")
    s.maybe_pause()


FAMILIES: dict[str, Callable[[SessionBuilder], None]] = {
    recipe.__name__: recipe
    for recipe in (
        table, chair, shelf, wall_with_windows, stairs, columns, barrel, crate, lamp, tree, rock,
        modifier_stack, extrude_tower, inset_panels, bevel_edges, materials, uv_unwrap, lighting_and_camera, scatter,
    )
}
