"""Read the operator registry of the installed bpy; run as ``python -m nep_blender.introspect OUT.json``.

It runs in its own process: bpy is big, prints to stdout, and is best kept out of the training and
serving processes. The JSON is what ``nep_blender.registry`` loads: every operator with its label,
its ``bl_options`` and its properties as Blender types them. Properties of a macro's sub-operators
(``TRANSFORM_OT_translate`` inside ``mesh.extrude_region_move``) appear as ``SUB.name``.
"""

from __future__ import annotations

import json
import math
import os
import sys

MAX_ARRAY = 4
"""Longer arrays (matrices, layer masks) are not part of the action space."""


def _number(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _property(prop, prefix: str = "") -> dict | None:
    # Hidden and skip-save properties stay: some are the point of the call (``select_all(action=...)``).
    if prop.identifier == "rna_type" or prop.type in ("POINTER", "COLLECTION"):
        return None
    length = getattr(prop, "array_length", 0) or 0
    if length > MAX_ARRAY:
        return None
    record = {"name": prefix + prop.identifier, "type": prop.type, "subtype": prop.subtype, "length": length}
    if prop.type in ("INT", "FLOAT"):
        default = list(prop.default_array) if length else prop.default
        record.update(
            default=[_number(item) for item in default] if length else _number(default),
            min=_number(prop.hard_min),
            max=_number(prop.hard_max),
            soft_min=_number(prop.soft_min),
            soft_max=_number(prop.soft_max),
        )
    elif prop.type == "BOOLEAN":
        record["default"] = list(prop.default_array) if length else prop.default
    elif prop.type == "ENUM":
        record["items"] = [item.identifier for item in prop.enum_items]
        record["flag"] = bool(prop.is_enum_flag)
        default = prop.default_flag if prop.is_enum_flag else prop.default
        record["default"] = sorted(default) if prop.is_enum_flag else (default or None)
    elif prop.type == "STRING":
        record["default"] = prop.default
    return record


def introspect(bpy) -> dict:
    """The registry of ``bpy`` as JSON-ready data."""
    operators = {}
    for module_name in sorted(name for name in dir(bpy.ops) if not name.startswith("_")):
        module = getattr(bpy.ops, module_name)
        for op_name in sorted(name for name in dir(module) if not name.startswith("_")):
            operator = getattr(module, op_name)
            try:
                rna = operator.get_rna_type()
                options = sorted(operator.bl_options)
            except (KeyError, AttributeError, RuntimeError):
                continue
            properties = []
            for prop in rna.properties:
                if prop.type == "POINTER" and "_OT_" in getattr(prop.fixed_type, "identifier", ""):
                    for sub in prop.fixed_type.properties:
                        record = _property(sub, prefix=f"{prop.fixed_type.identifier}.")
                        if record:
                            properties.append(record)
                    continue
                record = _property(prop)
                if record:
                    properties.append(record)
            operators[f"{module_name}.{op_name}"] = {
                "name": rna.name,
                "description": rna.description,
                "options": options,
                "properties": properties,
            }
    return {"blender": bpy.app.version_string, "operators": operators}


def main() -> None:
    out = sys.argv[1]
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    os.dup2(devnull, 1)  # bpy writes to stdout while it loads
    import bpy

    data = introspect(bpy)
    os.dup2(saved, 1)
    temporary = f"{out}.tmp{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, out)


if __name__ == "__main__":
    main()
