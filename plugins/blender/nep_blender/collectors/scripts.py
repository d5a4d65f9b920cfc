"""``scripts:PATH``: sessions from Blender Python scripts, read with ``ast`` (never run).

Each function body, and the module body, with at least two ``bpy.ops`` calls becomes a session: its
calls in source order (a call inside a loop or an ``if`` counts once, where it stands). Keyword
arguments with literal values are kept (tuples become lists); any other value (a variable, an
expression), and a property this Blender does not know (an older Blender's), is dropped and its name
listed in the action's ``context["unknown_args"]``. Calls of operators this Blender does not have
are counted, reported and skipped, and so are the properties it does not know; a
file that does not parse (or is nested too deeply for Python's parser) is reported as
``file:line: reason`` and skipped, and so is one that cannot be read: over ``MAX_SCRIPT_BYTES``, or a
zip member that is encrypted or compressed in a way Python cannot read. A whole number written as a
float for an integer property (``number_cuts=3.0``) is kept as an integer, as bpy takes it. ``import bpy``,
``from bpy import ops`` and ``import bpy.ops as O`` spellings are all understood.

PATH is a ``.py`` file, a folder of them or a ``.zip`` of them. ``scripts:bundled`` reads the scripts
that ship with the installed bpy (its own add-ons and operators); ``scripts:nep-examples`` reads the
example scripts written for NEP (``data/example-scripts.zip``: add-ons, pipelines, procedural
modeling, rigging, in the many styles of public scripts).
``synthetic.script_form`` writes recorded sessions the way such scripts read.

Splits keep a project's scripts together (``meta["source_id"]``): with ``group=folder`` the scripts
under each top-level folder of PATH are one group (a cloned repository, one project), and a script
directly in PATH is a group of its own; ``group=file`` makes every script its own group. Scripts of
one repository share code, so splitting them by file lets the train split give away the test split's
calls. By default scripts are grouped by folder when that makes at least ``MIN_FOLDER_GROUPS``
groups (a folder of repositories), else by file (one project, or ``scripts:bundled``, whose few
top-level folders could not fill three splits).
"""

from __future__ import annotations

import ast
import zipfile
import zlib
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

from nep_core.actions import Action
from nep_core.collector import Collector, CollectReport
from nep_core.errors import InvalidAction, NepError
from nep_core.session import Event, Session
from nep_core.source_options import parse_argument
from nep_core.zip_members import MemberTooLarge, read_capped
from nep_blender.action_space import BlenderActionSpace, flatten_args, nest_args, shown
from nep_blender.collectors import capped, with_int_values
from nep_blender.registry import installed_bpy_version

SECONDS_BETWEEN_CALLS = 2.0
"""Scripts carry no timing; calls are spaced evenly, well under the domain's pause threshold."""

MIN_CALLS = 2

MAX_SCRIPT_BYTES = 4 * 1024 * 1024
"""A larger file (or zip member) is skipped unread: generated data, not a script (bpy's largest is 0.6 MB)."""

BUNDLED = "bundled"
"""``scripts:bundled``: the Python scripts shipped inside the installed bpy."""

EXAMPLES = "nep-examples"
"""``scripts:nep-examples``: the example scripts written for NEP, shipped as ``data/example-scripts.zip``."""

EXAMPLES_ARCHIVE = "example-scripts.zip"

GROUPS = ("folder", "file")
"""How ``meta["source_id"]`` groups scripts for the splits (see the module docstring)."""

MIN_FOLDER_GROUPS = 10
"""Folder groups needed before scripts are grouped by folder by default."""

UI_ONLY_PREFIXES = ("view3d.", "screen.", "wm.", "ed.")
"""Operators a script has no reason to call: views, screens, windows, undo."""


def bundled_scripts_folder() -> Path:
    """The installed bpy's ``<version>/scripts`` folder."""
    import importlib.util

    spec = importlib.util.find_spec("bpy")
    version = installed_bpy_version()
    if spec is None or not spec.origin or version is None:
        raise NepError("scripts:bundled reads the scripts shipped with bpy, which is not installed; pip install bpy")
    package = Path(spec.origin).parent
    folders = sorted(package.glob("*/scripts"))
    if not folders:
        raise NepError(f"scripts:bundled: no <version>/scripts folder in {package}")
    return folders[-1]


def example_scripts_archive() -> Path:
    """The corpus of example scripts that ships with NEP (``scripts:nep-examples``)."""
    return Path(__file__).resolve().parent.parent / "data" / EXAMPLES_ARCHIVE


class UnreadableScript(Exception):
    """A script that cannot be read; the message says why."""


def _read_file(path: Path) -> str:
    """The text of a script on disk; ``UnreadableScript`` when it is too large or unreadable."""
    try:
        size = path.stat().st_size
        if size > MAX_SCRIPT_BYTES:
            raise UnreadableScript(f"{size} bytes, over the {MAX_SCRIPT_BYTES}-byte limit for a script")
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise UnreadableScript(str(error)) from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """The text of one zip member, checked by its declared size before it is read."""
    if info.flag_bits & 0x1:
        raise UnreadableScript("encrypted (it needs a password)")
    try:
        data = read_capped(archive, info, MAX_SCRIPT_BYTES)
    except MemberTooLarge as error:
        unpacked = f"{error.size} bytes unpacked, over" if error.size is not None else "over"
        raise UnreadableScript(f"{unpacked} the {MAX_SCRIPT_BYTES}-byte limit for a script") from None
    except (OSError, EOFError, RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error) as error:
        raise UnreadableScript(f"a damaged or unsupported zip member: {error}") from None
    return data.decode("utf-8", errors="replace")


@contextmanager
def _scripts_in(root: Path) -> Iterator[list[tuple[str, Path, Callable[[], str]]]]:
    """(relative path, path to report, reader of its text) of each script in a ``.py`` file, a folder or
    a ``.zip``; a reader raises ``UnreadableScript``. A zip stays open, and each member is read only when
    its reader is called."""
    if root.suffix == ".zip":
        try:
            archive = zipfile.ZipFile(root)
        except (OSError, zipfile.BadZipFile) as error:
            raise NepError(f"{root}: not a readable zip archive: {error}") from error
        with archive:
            members = {info.filename: info for info in archive.infolist() if info.filename.endswith(".py") and not info.is_dir()}
            yield [(name, root / name, partial(_read_member, archive, members[name])) for name in sorted(members)]
        return
    files = [root] if root.is_file() else sorted(path for path in root.rglob("*.py") if path.is_file())
    yield [(path.name if root.is_file() else path.relative_to(root).as_posix(), path, partial(_read_file, path)) for path in files]


def _ops_aliases(tree: ast.Module) -> set[str]:
    """Dotted names that mean ``bpy.ops`` in this file."""
    aliases = {"bpy.ops"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "bpy" and alias.asname:
                    aliases.add(f"{alias.asname}.ops")
                if alias.name == "bpy.ops" and alias.asname:
                    aliases.add(alias.asname)
        elif isinstance(node, ast.ImportFrom) and node.module == "bpy":
            for alias in node.names:
                if alias.name == "ops":
                    aliases.add(alias.asname or "ops")
    return aliases


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _literal(node: ast.AST):
    value = ast.literal_eval(node)

    def plain(item):
        if isinstance(item, (tuple, list)):
            return [plain(part) for part in item]
        if isinstance(item, (set, frozenset)):
            return sorted(plain(part) for part in item)
        if isinstance(item, dict):
            return {str(key): plain(part) for key, part in item.items()}
        return item

    return plain(value)


NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
"""Nodes a body's calls are not looked for in: nested functions are sessions of their own."""


def _calls_in(body: list[ast.stmt], aliases: set[str]) -> list[tuple[int, str, dict, list[str]]]:
    """``(line, operator, literal args, names of the other args)`` of each ``bpy.ops`` call of ``body``,
    in source order, not descending into nested functions or classes. The walk keeps its own stack,
    so a deeply nested expression cannot exhaust Python's recursion limit."""
    calls = []
    stack: list[ast.AST] = list(reversed(body))
    while stack:
        node = stack.pop()
        if isinstance(node, NESTED_SCOPES):
            continue
        if isinstance(node, ast.Call):
            call = _ops_call(node, aliases)
            if call:
                calls.append(call)
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return calls


def _ops_call(node: ast.Call, aliases: set[str]) -> tuple[int, str, dict, list[str]] | None:
    name = _dotted(node.func)
    if not name:
        return None
    for alias in aliases:
        if name.startswith(alias + ".") and name.count(".") == alias.count(".") + 2:
            args, unknown = {}, []
            for keyword in node.keywords:
                if keyword.arg is None:
                    unknown.append("**")
                    continue
                try:
                    args[keyword.arg] = _literal(keyword.value)
                except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                    unknown.append(keyword.arg)
            return node.lineno, name[len(alias) + 1 :], args, unknown
    return None


def _bodies(tree: ast.Module) -> Iterable[tuple[str, int, list[ast.stmt]]]:
    """(name, line, statements) of the module body and of every function in it."""
    yield "<module>", 0, tree.body
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.lineno, node.body


class ScriptsCollector(Collector):
    name = "scripts"
    description = "the bpy.ops calls of Blender Python scripts (a .py file, a folder or a .zip of them), read with ast"
    version = "7"  # part of the default dataset's cache key (it reads bundled and nep-examples): bump when the sessions change

    def __init__(self, action_space: BlenderActionSpace):
        self.action_space = action_space
        self.registry = action_space.registry

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        head, options = parse_argument("scripts", argument, {"group": ""})
        group = options["group"]
        if group and group not in GROUPS:
            raise NepError(f"scripts: unknown group '{group}' (choose from: {', '.join(GROUPS)})")
        if head == BUNDLED:
            root = bundled_scripts_folder()
        elif head == EXAMPLES:
            root = example_scripts_archive()
        else:
            root = Path(head).expanduser()
        if not head:
            raise NepError("scripts: pass a Python file, a folder of them or a .zip of them: scripts:PATH")
        if not root.exists():
            raise NepError(f"scripts: {root}: no such file or folder (pass a Python file, a folder of them or a .zip of them)")
        with _scripts_in(root) as scripts:
            folders = [relative.split("/")[0] for relative, _, _ in scripts]
            if not group:
                group = "folder" if len(set(folders)) >= MIN_FOLDER_GROUPS else "file"
            for (relative, path, read), folder in zip(scripts, folders):
                yield from self._sessions_of(path, relative, read, folder if group == "folder" else relative, report)

    def _sessions_of(self, path: Path, relative: str, read: Callable[[], str], source_id: str, report: CollectReport) -> Iterable[Session]:
        try:
            text = read()
        except UnreadableScript as error:
            report.count("files that cannot be read (skipped)")
            report.warn(f"{path}: cannot be read: {error}; skipped")
            return
        try:
            tree = ast.parse(text, filename=str(path))
        except SyntaxError as error:
            report.count("files that do not parse")
            report.warn(f"{path}:{error.lineno or 0}: does not parse: {capped(error.msg)}")
            return
        except (RecursionError, MemoryError):  # Python's parser gives up on a deeply nested expression
            report.count("files that do not parse")
            report.warn(f"{path}: nested too deeply to parse; skipped")
            return
        except ValueError as error:  # a null byte in the source
            report.count("files that do not parse")
            report.warn(f"{path}: does not parse: {capped(str(error))}")
            return
        del text
        report.count("files")
        aliases = _ops_aliases(tree)
        for function, line, body in _bodies(tree):
            actions = [action for action in (self._action(path, call, report) for call in _calls_in(body, aliases)) if action]
            if len(actions) < MIN_CALLS:
                continue
            report.count("sessions")
            report.count("actions", len(actions))
            yield Session(  # the line tells apart same-named functions (two classes' execute methods)
                id=(f"script-{relative}-{function}" + (f"-L{line}" if line else "")).replace("/", "_"),
                domain="blender",
                events=[Event(t=round(index * SECONDS_BETWEEN_CALLS, 2), action=action) for index, action in enumerate(actions)],
                meta={"source": "scripts", "source_id": source_id, "file": relative, "function": function, "line": line},
            )

    def _action(self, path: Path, call: tuple[int, str, dict, list[str]], report: CollectReport) -> Action | None:
        line, kind, args, unknown = call
        spec = self.registry.get(kind)
        if spec is None:
            report.count("calls of operators this Blender does not have")
            report.warn(f"{path}:{line}: skipped bpy.ops.{capped(kind)}: this Blender ({self.registry.blender}) has no such operator")
            return None
        flat = flatten_args(args)
        missing = [name for name in flat if spec.property(name) is None]
        if missing:  # an older or newer Blender's property: the call stays, the property goes
            report.count("properties this Blender does not know (dropped)", len(missing))
            report.warn(f"{path}:{line}: bpy.ops.{kind}: {self._why_unknown(spec, missing[0], flat[missing[0]])}; dropped")
            dropped = set(missing)
            args = nest_args({name: value for name, value in flat.items() if name not in dropped})
            unknown = [*unknown, *missing]
        context = {"unknown_args": unknown} if unknown else {}
        action = Action(kind=kind, args=args, context=context, edit=spec.is_edit)
        try:
            self.action_space.encode(action)
        except InvalidAction as error:
            report.count("calls with ill-typed literal arguments")
            report.warn(f"{path}:{line}: skipped bpy.ops.{kind}: {capped(str(error))}")
            return None
        action = with_int_values(action, spec)
        if len(unknown) > len(missing):
            report.count("arguments that are not literals (dropped)", len(unknown) - len(missing))
        return action

    def _why_unknown(self, spec, name: str, value) -> str:
        """Why this Blender has no property ``name``: a macro's sub-operator given a non-object, or none such."""
        if "_OT_" in name and any(prop.name.startswith(name + ".") for prop in spec.properties):
            return f"'{name}' must be an object of the macro's properties, got {shown(value)}"
        return f"no property '{capped(name)}' in this Blender ({self.registry.blender})"
