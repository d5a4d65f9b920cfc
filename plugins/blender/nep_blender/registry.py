"""Blender's operator registry: every operator with its typed properties, as read from bpy.

Where bpy is installed, the registry is read from it (``python -m nep_blender.introspect``, in a
subprocess) once per bpy version and cached under ``$NEP_HOME/blender``. Where it is not (a machine
that only serves suggestions to a Blender elsewhere), the snapshot shipped with NEP, read from bpy
5.0.1 the same way, stands in. ``NEP_BLENDER_REGISTRY=FILE`` points at a registry JSON explicitly.
"""

from __future__ import annotations

import functools
import gzip
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nep_core.errors import NepError
from nep_blender.bpy_calls import outside_reason

SNAPSHOT = Path(__file__).parent / "data" / "operators-5.0.1.json.gz"

VIEW_MODULES = frozenset({"view3d", "view2d", "screen", "ui", "wm", "file", "preferences", "console", "info", "buttons", "workspace"})
"""Operator modules that change what the user sees, not the scene (``view3d.snap_*`` excepted)."""

EDITS_WITHOUT_UNDO_FLAG = frozenset({"object.mode_set", "object.editmode_toggle", "object.posemode_toggle", "view3d.snap_cursor_to_selected"})
"""Scene changes whose operators do not carry the UNDO option (Blender records mode changes itself)."""

NOT_EDITS = frozenset({"ed.undo", "ed.redo", "ed.undo_history", "ed.undo_push"})


@dataclass(frozen=True, eq=False)
class PropertySpec:
    """One operator property as Blender types it; ``name`` is ``SUB_OT_op.name`` inside a macro."""

    name: str
    type: str
    subtype: str = "NONE"
    length: int = 0
    default: Any = None
    min: float | None = None
    max: float | None = None
    items: tuple[str, ...] = ()
    flag: bool = False

    @property
    def tokenized(self) -> bool:
        """Whether the action space writes this property (strings, flag sets and item-less enums are not)."""
        if self.type == "ENUM":
            return bool(self.items) and not self.flag
        return self.type in ("BOOLEAN", "INT", "FLOAT")

    @property
    def is_angle(self) -> bool:
        return self.type == "FLOAT" and self.subtype in ("ANGLE", "EULER")


@dataclass(eq=False)
class OperatorSpec:
    idname: str
    label: str
    description: str
    options: tuple[str, ...]
    properties: tuple[PropertySpec, ...]

    def __post_init__(self) -> None:
        self._by_name = {prop.name: prop for prop in self.properties}

    @property
    def module(self) -> str:
        return self.idname.partition(".")[0]

    @property
    def is_edit(self) -> bool:
        """Changes the scene and stays inside it: undoable (or a mode change), not a selection, a view
        change or undo itself, nor a call that reaches outside the scene or renders or bakes to disk
        (``bpy_calls.outside_reason``: saving, exporting, importing, the clipboard, text and scripts,
        ``ptcache.bake_all``). NEP suggests edits only; the others are context the model reads."""
        name = self.idname.partition(".")[2]
        if outside_reason(self.idname):
            return False
        if self.idname in EDITS_WITHOUT_UNDO_FLAG:
            return True
        if "UNDO" not in self.options or self.idname in NOT_EDITS or re.search(r"select(?!ed)", name):
            return False
        return self.module not in VIEW_MODULES or name.startswith("snap")

    def property(self, name: str) -> PropertySpec | None:
        return self._by_name.get(name)


@dataclass(eq=False)
class OperatorRegistry:
    blender: str
    operators: dict[str, OperatorSpec]
    source: str

    def get(self, idname: str) -> OperatorSpec | None:
        return self.operators.get(idname)

    @classmethod
    def from_json(cls, data: dict, source: str) -> OperatorRegistry:
        operators = {}
        for idname, record in data["operators"].items():
            properties = tuple(
                PropertySpec(
                    name=prop["name"], type=prop["type"], subtype=prop.get("subtype", "NONE"), length=prop.get("length", 0),
                    default=prop.get("default"), min=prop.get("min"), max=prop.get("max"),
                    items=tuple(prop.get("items", ())), flag=prop.get("flag", False),
                )
                for prop in record["properties"]
            )
            operators[idname] = OperatorSpec(idname, record["name"], record.get("description", ""), tuple(record["options"]), properties)
        return cls(blender=data["blender"], operators=operators, source=source)


def installed_bpy_version() -> str | None:
    if importlib.util.find_spec("bpy") is None:
        return None
    try:
        return importlib.metadata.version("bpy")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def read_registry_file(path: Path) -> OperatorRegistry:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return OperatorRegistry.from_json(json.load(handle), str(path))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise NepError(f"{path}: not a Blender operator registry ({error})") from None


def introspect_installed(out: Path) -> None:
    """Run the introspection subprocess for the installed bpy, writing ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "nep_blender.introspect", str(out)], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0 or not out.exists():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise NepError(f"reading the operator registry of the installed bpy failed: {last}")


@functools.lru_cache(maxsize=None)
def load_registry() -> OperatorRegistry:
    """The registry of the installed bpy (cached per version), else the shipped bpy 5.0.1 snapshot."""
    explicit = os.environ.get("NEP_BLENDER_REGISTRY")
    if explicit:
        return read_registry_file(Path(explicit))
    version = installed_bpy_version()
    if version is None:
        return read_registry_file(SNAPSHOT)
    from nep_core.dataset import nep_home

    cached = nep_home() / "blender" / f"operators-{version}.json"
    if not cached.exists():
        introspect_installed(cached)
    return read_registry_file(cached)
