"""Checking and running an operator call inside Blender: used by the add-on, the verifier and the generator.

Pure Python that takes the ``bpy`` module as an argument and imports nothing from NEP, so the add-on
ships this very file. ``check_call`` looks the operator and every property up in the live RNA of
this Blender before anything runs: a call that names an unknown operator, an unknown property, or a
value of the wrong type, length, range or enum item is refused with a one-line reason. Model output
is never evaluated as code: the call is ``getattr(getattr(bpy.ops, module), name)(**kwargs)``.

It also holds NEP's one rule for calls that leave the scene (``reaches_outside``, ``polled_only``,
``outside_reason``): the replay worker never runs them, the registry counts them as non-edits (so a
model never writes one as a suggestion and the server drops one), and the add-on's Accept refuses them.
"""

from __future__ import annotations

import hashlib
import math
import struct


class CallRefused(ValueError):
    """The call is not a valid operator call for this Blender; the message says why."""


PATH_SUBTYPES = frozenset({"FILE_PATH", "DIR_PATH", "FILE_NAME"})
"""String property subtypes that name files: a call setting one reads or writes outside the scene."""


OUTSIDE_MODULES = frozenset({"wm", "script", "preferences", "extensions", "file", "text", "console", "info", "buttons", "cycles"})
"""Operator modules that read or write files, run scripts or change preferences (``cycles.merge_images``
reads and writes image files; ``text.*`` edits and runs scripts)."""

OUTSIDE_WORDS = frozenset({"save", "export", "import", "open", "reload", "browse", "external", "preset", "copybuffer",
                           "pastebuffer", "clipboard", "unpack"})
"""Words of operator names that mean file access: ``image.save_as``, ``sound.open``, ``camera.preset_add``
(writes, or with ``remove_name`` deletes, a preset file in the user's Blender configuration),
``view3d.copybuffer`` (the copy-and-paste buffer file shared with the user's Blender), the clipboard,
``image.unpack`` (writes a packed file out to disk, over the original with ``WRITE_ORIGINAL``)."""

PATH_PROPERTIES = frozenset({"filepath", "directory", "filename", "files"})
"""Argument names that name files; a string property of a file subtype is refused too (``path_arguments``)."""

OUTSIDE_KINDS = frozenset({
    "font.text_paste_from_file", "workspace.append_activate", "screen.screenshot", "screen.screenshot_area",
    "sound.mixdown", "asset.bundle_install", "asset.screenshot_preview",
    # copy buffers kept as .blend files in Blender's temporary folder, shared with the user's other Blenders
    "pose.copy", "pose.paste", "material.copy", "material.paste", "outliner.id_copy", "outliner.id_paste",
    "sequencer.copy", "sequencer.paste", "poselib.copy_as_asset",
    # the system clipboard
    "font.text_copy", "font.text_cut", "font.text_paste", "sequencer.text_edit_copy", "sequencer.text_edit_cut",
    "sequencer.text_edit_paste", "poselib.paste_asset", "pose.selection_set_copy", "pose.selection_set_paste",
    "ui.copy_data_path_button", "ui.copy_python_command_button", "object.copy_global_transform",
    "object.copy_relative_transform", "object.paste_transform",
    "ui.button_execute",  # presses whatever button is active, which may be any of the above
})
"""Other operators that read or write files or the clipboard. Copy and paste that stay in memory
(``uv.copy``, ``graph.paste``, ``grease_pencil.copy``) stay in the scene."""

POLLED_ONLY = frozenset({
    "render.render", "render.opengl", "render.view_show", "render.play_rendered_anim",
    "object.bake", "object.bake_image", "object.ocean_bake", "object.lightprobe_cache_bake", "object.simulation_nodes_cache_bake",
    "object.geometry_node_bake_single", "object.geometry_node_bake_pack_single", "object.geometry_node_bake_unpack_single",
    "object.geometry_node_bake_delete_single", "dpaint.bake", "sound.bake_animation",
})
"""Operators that render or bake to disk: checked (arguments and poll), never run; so are the
``fluid`` and ``ptcache`` bakes (``polled_only``). Bakes to keyframes (``nla.bake``) run."""


def reaches_outside(kind, args=None) -> bool:
    """Whether the call could touch files, run code or change preferences: the replay never runs it,
    NEP never suggests it and Accept refuses it. Only Blender's own lower-case spelling passes
    (``bpy.ops`` finds ``WM.context_set_value`` too); a string property of a file subtype is
    ``path_arguments``' to find, since that takes the live operator."""
    if not isinstance(kind, str) or kind != kind.lower():
        return True
    module, _, name = kind.partition(".")
    if module in OUTSIDE_MODULES or module.startswith(("import_", "export_")) or kind in OUTSIDE_KINDS:
        return True
    return bool(OUTSIDE_WORDS & set(name.split("_"))) or bool(PATH_PROPERTIES & set(args or {}))


def polled_only(kind) -> bool:
    """Renders and bakes to disk (``object.bake``, ``fluid.bake_all``, ``ptcache.free_bake``) take seconds
    to hours and write caches: the replay checks them (arguments and poll) but never runs them."""
    if not isinstance(kind, str):
        return False
    module, _, name = kind.partition(".")
    return kind in POLLED_ONLY or (module in ("fluid", "ptcache") and "bake" in name.split("_"))


def outside_reason(kind, args=None) -> str:
    """Why NEP never suggests ``kind`` (with ``args``) nor runs it from a suggestion, or '' when it stays in the scene."""
    if reaches_outside(kind, args):
        return f"{kind} can reach outside the scene (files, scripts, preferences, the clipboard)"
    if polled_only(kind):
        return f"{kind} renders or bakes (it can take hours and write caches to disk)"
    return ""


def operator(bpy, kind):
    """The ``bpy.ops`` function for ``kind`` ("mesh.primitive_cube_add"), or None.

    Only Blender's own spelling, lower case: ``bpy.ops`` also finds ``WM.context_set_value``, which
    would slip past every check that names a module (``wm``, ``script``) in lower case."""
    if not isinstance(kind, str) or kind.count(".") != 1 or kind != kind.lower():
        return None
    module_name, name = kind.split(".")
    if not module_name.isidentifier() or not name.isidentifier() or name.startswith("_"):
        return None
    module = getattr(bpy.ops, module_name, None)
    function = getattr(module, name, None) if module is not None else None
    if function is None:
        return None
    try:
        function.get_rna_type()
    except (KeyError, AttributeError, RuntimeError):
        return None
    return function


def _check_value(prop, value, where):
    length = getattr(prop, "array_length", 0) or 0
    if length:
        if not isinstance(value, (list, tuple)) or len(value) != length:
            raise CallRefused(f"{where} takes {length} values")
        items = list(value)
    else:
        items = [value]
    for item in items:
        if prop.type == "BOOLEAN":
            if not isinstance(item, bool):
                raise CallRefused(f"{where} must be true or false")
        elif prop.type in ("INT", "FLOAT"):
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
                raise CallRefused(f"{where} must be a number")
            if prop.type == "INT" and isinstance(item, float) and not item.is_integer():
                raise CallRefused(f"{where} must be a whole number")
            if item < prop.hard_min or item > prop.hard_max:
                raise CallRefused(f"{where} must be within [{prop.hard_min:g}, {prop.hard_max:g}]")
        elif prop.type == "ENUM":
            identifiers = {enum_item.identifier for enum_item in prop.enum_items}
            if prop.is_enum_flag:
                if not isinstance(item, (list, tuple, set)) or not set(item) <= identifiers:
                    raise CallRefused(f"{where} must be a set of its items")
            elif not isinstance(item, str) or (identifiers and item not in identifiers):
                raise CallRefused(f"{where} has no item {item!r}")
        elif prop.type == "STRING":
            if not isinstance(item, str):
                raise CallRefused(f"{where} must be a string")
        else:
            raise CallRefused(f"{where} cannot be set from a suggestion")


def _check_properties(rna, args, where):
    if not isinstance(args, dict):
        raise CallRefused(f"{where}: arguments must be an object")
    properties = {prop.identifier: prop for prop in rna.properties if prop.identifier != "rna_type"}
    for name, value in args.items():
        prop = properties.get(name)
        if prop is None:
            raise CallRefused(f"{where} has no property '{name}'")
        if prop.type == "POINTER" and "_OT_" in getattr(prop.fixed_type, "identifier", ""):
            _check_properties(prop.fixed_type, value, f"{where}.{name}")
        else:
            _check_value(prop, value, f"{where}.{name}")


def path_arguments(function, args) -> list[str]:
    """The arguments of ``args`` that set a file or folder path (``PATH_SUBTYPES``), by name."""
    properties = function.get_rna_type().properties
    return [name for name in (args or {}) if (prop := properties.get(name)) is not None
            and prop.type == "STRING" and prop.subtype in PATH_SUBTYPES]


def free_strings(rna, args) -> list[str]:
    """The arguments of ``args`` that set a free string, by name (a macro's as ``SUB_OT_x.name``): a
    string property, or an enum without fixed items, which takes any string Blender's own code accepts.
    NEP's action space writes neither (``PropertySpec.tokenized``), so no suggestion carries one; a data
    path such as ``uilist.entry_move``'s ``active_index_path`` could otherwise set any property of
    Blender, its preferences included."""
    found = []
    properties = rna.properties
    for name, value in (args or {}).items():
        prop = properties.get(name)
        if prop is None:
            continue
        if prop.type == "POINTER" and "_OT_" in getattr(prop.fixed_type, "identifier", "") and isinstance(value, dict):
            found += [f"{name}.{inner}" for inner in free_strings(prop.fixed_type, value)]
        elif prop.type == "STRING" or (prop.type == "ENUM" and not prop.is_enum_flag and not prop.enum_items):
            found.append(name)
    return found


def check_call(bpy, kind, args):
    """Raise CallRefused unless ``kind(**args)`` is a known operator with well-typed properties."""
    function = operator(bpy, kind)
    if function is None:
        raise CallRefused(f"this Blender has no operator '{kind}'")
    _check_properties(function.get_rna_type(), args or {}, kind)
    return function


def implicit_modifier(bpy, function, args):
    """The active modifier's name for a modifier operator called without one ("" when there is none);
    None for other operators and calls that name their modifier.

    Suggestions carry no strings, so ``object.modifier_apply`` arrives without ``modifier``; it then
    means the active object's active modifier, the one Ctrl+A over the modifier panel applies.
    """
    if (args or {}).get("modifier"):
        return None
    prop = function.get_rna_type().properties.get("modifier")
    if prop is None or prop.type != "STRING":
        return None
    obj = getattr(bpy.context, "object", None)
    active = obj.modifiers.active if obj is not None and hasattr(obj, "modifiers") else None
    return active.name if active is not None else ""


def run_call(bpy, kind, args, undo=False):
    """Check, then run the operator; returns Blender's result set ({'FINISHED'}, {'CANCELLED'}).

    ``undo=True`` runs it as one undo step, as the add-on's Accept does. Raises CallRefused for an
    invalid call and RuntimeError when the operator's poll fails or it reports an error. A modifier
    operator without a modifier name acts on the active modifier (``implicit_modifier``).
    """
    function = check_call(bpy, kind, args)
    kwargs = {name: (tuple(value) if isinstance(value, list) else value) for name, value in (args or {}).items()}
    modifier = implicit_modifier(bpy, function, args)
    if modifier:
        kwargs["modifier"] = modifier
    if undo:
        return function("EXEC_DEFAULT", True, **with_defaults_set(function, kwargs))
    return function(**kwargs)


def with_defaults_set(function, kwargs):
    """``kwargs`` and the default of each property they leave out that Blender would otherwise fill
    from the user's last use of the operator: a call with undo is not nested, so Blender gives its
    unset properties their last-used values (Add Modifier after a Bevel added a Bevel again), and
    the call run would not be the one shown and logged. Skip-save properties (a new object's
    location at the 3D cursor) stay unset, as Blender computes them for each call."""
    filled = dict(kwargs)
    for prop in function.get_rna_type().properties:
        name = prop.identifier
        if name in filled or name == "rna_type" or prop.is_skip_save or prop.is_readonly or prop.type in ("POINTER", "COLLECTION"):
            continue
        length = getattr(prop, "array_length", 0) or 0
        if prop.type == "ENUM":
            if prop.is_enum_flag:
                filled[name] = set(prop.default_flag)
            else:
                items = {item.identifier for item in prop.enum_items}  # none for a dynamic enum, whose default Blender finds
                if items and prop.default in items:
                    filled[name] = prop.default
        elif length:
            if not prop.array_dimensions[1]:  # a matrix is left to Blender
                filled[name] = tuple(prop.default_array)
        else:
            filled[name] = prop.default
    return filled


def viewport_override(bpy):
    """Keyword arguments for ``bpy.context.temp_override``: the first window's 3D viewport.

    Headless Blender has the factory screen but no active area, so view operators and loop cuts
    need this to run there; empty when the screen has no 3D viewport.
    """
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                region = next((region for region in area.regions if region.type == "WINDOW"), None)
                if region is not None:
                    return {"window": window, "area": area, "region": region}
    return {}


MAX_NAMED_SELECTION = 64
"""More selected objects than this are counted in the context, not named."""


def current_context(bpy):
    """What the session log records with each operator call: ``{"mode", "active", "selected"}``
    (the active object's type, how many objects are selected) and, for the replay to select them
    again, ``active_name`` and ``selected_names`` (up to MAX_NAMED_SELECTION)."""
    context = bpy.context
    active = getattr(context, "active_object", None)
    selected = getattr(context, "selected_objects", None) or []
    recorded = {"mode": context.mode, "active": active.type if active else "NONE", "selected": len(selected)}
    if len(selected) <= MAX_NAMED_SELECTION:
        recorded["active_name"] = active.name if active else None
        recorded["selected_names"] = sorted(obj.name for obj in selected)
    return recorded


def select_as_recorded(bpy, selection):
    """Select the objects a context names and make its active one active again, in object mode
    (``{"active": name or None, "selected": [names]}``). A selection that names an object the scene
    lacks (renamed, or not made yet) is left as it is. Returns whether the selection changed."""
    if bpy.context.mode != "OBJECT":
        return False
    objects = bpy.context.view_layer.objects
    wanted = set(selection.get("selected") or ())
    name = selection.get("active")
    if any(objects.get(wanted_name) is None for wanted_name in wanted) or (name is not None and objects.get(name) is None):
        return False
    changed = False
    for obj in objects:
        if obj.select_get() != (obj.name in wanted):
            try:
                obj.select_set(obj.name in wanted)
            except RuntimeError:  # an object that cannot be selected here
                continue
            changed = changed or obj.select_get() == (obj.name in wanted)
    active = objects.get(name) if name is not None else None
    if objects.active != active:
        objects.active = active
        changed = True
    return changed


def _pack_floats(digest, values):
    for value in values:
        digest.update(struct.pack("<d", round(float(value), 5)))


def _hash_edit_mesh(digest, mesh):
    """Edit-mode meshes live in a BMesh until edit mode ends: hash its vertices, UVs, seams, hidden parts and shading."""
    import bmesh

    data = bmesh.from_edit_mesh(mesh)
    digest.update(f"bm|{len(data.verts)}|{len(data.edges)}|{len(data.faces)}".encode())
    seams, hidden, smooth = sum(edge.seam for edge in data.edges), sum(vertex.hide for vertex in data.verts), sum(face.smooth for face in data.faces)
    digest.update(f"|{seams}|{hidden}|{smooth}".encode())
    _pack_floats(digest, [component for vertex in list(data.verts)[:1000] for component in vertex.co])
    digest.update(bytes(min(face.material_index, 255) for face in list(data.faces)[:3000]))
    layer = data.loops.layers.uv.active
    if layer is not None:
        _pack_floats(digest, [value for face in list(data.faces)[:500] for loop in face.loops for value in loop[layer].uv])


def point_caches(scene):
    """The scene's simulation caches: each modifier's (cloth, soft body...) and the rigid body world's."""
    caches = [modifier.point_cache for obj in scene.objects for modifier in obj.modifiers if hasattr(modifier, "point_cache")]
    if scene.rigidbody_world is not None:
        caches.append(scene.rigidbody_world.point_cache)
    return caches


def scene_fingerprint(bpy):
    """A hash of what an edit changes: objects, transforms, data (curve points, poses, seams), modifiers,
    constraints, rigid bodies, baked simulations, materials, textures, worlds, mode, cursor.

    In edit mode the mesh is read from the edit-mode BMesh data after ``update_from_editmode``.
    Selection and the view are left out, so selecting or orbiting does not change it.
    """
    digest = hashlib.sha256()
    context = bpy.context
    digest.update(str(context.mode).encode())
    scene = context.scene
    _pack_floats(digest, scene.cursor.location)
    for obj in sorted(bpy.data.objects, key=lambda item: item.name):
        if obj.mode == "EDIT" and obj.type == "MESH":
            _hash_edit_mesh(digest, obj.data)
        elif obj.mode == "EDIT" and obj.type == "ARMATURE":
            _pack_floats(digest, [value for bone in obj.data.edit_bones for value in (*bone.head, *bone.tail)])
        elif obj.mode == "EDIT":
            obj.update_from_editmode()
        digest.update(f"{obj.name}|{obj.type}|{obj.parent.name if obj.parent else ''}|{obj.hide_get() if obj.name in context.view_layer.objects else ''}".encode())
        _pack_floats(digest, [*obj.location, *obj.rotation_euler, *obj.scale])
        data = obj.data
        if obj.type == "MESH" and data is not None:
            digest.update(f"{len(data.vertices)}|{len(data.edges)}|{len(data.polygons)}|{len(data.uv_layers)}".encode())
            coordinates = [0.0] * (len(data.vertices) * 3)
            data.vertices.foreach_get("co", coordinates)
            _pack_floats(digest, coordinates[:3000])
            digest.update(struct.pack("<d", round(sum(coordinates), 4)))
            uv_layer = data.uv_layers.active
            if uv_layer is not None:
                uvs = [0.0] * (len(uv_layer.data) * 2)
                uv_layer.data.foreach_get("uv", uvs)
                _pack_floats(digest, uvs[:2000])
                digest.update(struct.pack("<d", round(sum(uvs), 4)))
            smooth = [False] * len(data.polygons)
            data.polygons.foreach_get("use_smooth", smooth)
            digest.update(bytes(smooth[:3000]))
            seams = [False] * len(data.edges)
            data.edges.foreach_get("use_seam", seams)
            digest.update(f"seams|{sum(seams)}".encode())
            slots = [0] * len(data.polygons)
            data.polygons.foreach_get("material_index", slots)
            digest.update(bytes(min(slot, 255) for slot in slots[:3000]))
        elif obj.type == "ARMATURE" and data is not None and obj.mode != "EDIT":
            _pack_floats(digest, [value for bone in data.bones for value in (*bone.head_local, *bone.tail_local)])
        elif data is not None:
            for attribute in ("energy", "lens", "size", "extrude", "bevel_depth", "body"):
                if hasattr(data, attribute):
                    digest.update(repr(getattr(data, attribute)).encode())
        if obj.type in ("CURVE", "SURFACE") and data is not None:
            handles = [value for spline in data.splines for point in spline.bezier_points for value in (*point.handle_left, *point.handle_right)]
            points = [value for spline in data.splines for point in (*spline.bezier_points, *spline.points) for value in point.co] + handles
            digest.update(f"splines|{len(data.splines)}|{len(points)}".encode())
            _pack_floats(digest, points[:3000])
        if obj.pose is not None:
            _pack_floats(digest, [value for bone in obj.pose.bones for value in (*bone.location, *bone.rotation_quaternion, *bone.rotation_euler, *bone.scale)])
        if obj.rigid_body is not None:
            digest.update(f"rb|{obj.rigid_body.type}".encode())
        for modifier in obj.modifiers:
            digest.update(f"{modifier.name}|{modifier.type}".encode())
            for prop in modifier.bl_rna.properties:
                if prop.type in ("INT", "FLOAT", "BOOLEAN", "ENUM") and not getattr(prop, "is_array", False):
                    digest.update(repr(getattr(modifier, prop.identifier, None)).encode())
        for slot in getattr(obj, "material_slots", []):
            digest.update(f"m|{slot.material.name if slot.material else ''}".encode())
        for constraint in obj.constraints:
            digest.update(f"c|{constraint.type}".encode())
        for system in getattr(obj, "particle_systems", []):
            digest.update(f"p|{system.name}".encode())
        digest.update(f"vg|{len(obj.vertex_groups)}".encode())
    for material in sorted(bpy.data.materials, key=lambda item: item.name):
        digest.update(f"mat|{material.name}|{material.users}".encode())
        _pack_floats(digest, material.diffuse_color)
    for collection in sorted(bpy.data.collections, key=lambda item: item.name):
        digest.update(f"col|{collection.name}|{len(collection.objects)}".encode())
    world = scene.world
    if world is not None:
        digest.update(f"world|{world.name}".encode())
    digest.update(f"worlds|{len(bpy.data.worlds)}|textures|{'|'.join(sorted(f'{texture.name}:{texture.type}' for texture in bpy.data.textures))}".encode())
    digest.update(f"baked|{[cache.is_baked for cache in point_caches(scene)]}".encode())
    digest.update(f"frame|{scene.frame_current}|{scene.render.engine}".encode())
    return digest.hexdigest()
