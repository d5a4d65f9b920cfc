"""``rename[:PATH][?option=value&...]``: a module-level name renamed across the files that import it.

A rename rarely stays in one file: the function or class is renamed where it is defined, then in
every module that imports it, file after file. Each session holds the defining module and up to
``max_importers`` modules that import the name from it (``from pkg.mod import name`` or a relative
import, resolved within PATH), whole; it renames the definition and its uses in its own file, then
the import and the uses in each importer (from the first edited line down, then from the top), the importers mostly in path order (as a
commit lists them). Like an editor's whole-word replace, it renames every occurrence of the word
in those files, in strings and comments too (``__all__`` lists, docstrings). With chance ``no_definition`` the defining module is left out, as when the
renamed thing is a dependency outside the project: the session starts at the first importer.
Every file parses after its last edit; the end of the session is a NO_EDIT target.

The default corpus (no PATH) is the Python standard library of the running interpreter, tests left
out. Files that are not UTF-8, do not parse, or are over ``max_file_bytes`` are skipped and counted.

============== ======= =====================================================================
option         default meaning
============== ======= =====================================================================
sessions       600     sessions to make
max_importers  4       importing files in a session, at most
max_sites      24      edited lines in a session, at most
no_definition  0.3     chance that the defining module is left out
max_file_bytes 60000   larger files are skipped
============== ======= =====================================================================
"""

from __future__ import annotations

import ast
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from nep_core.collector import Collector, CollectReport
from nep_core.errors import NepError
from nep_core.session import Event, Session
from nep_code.action_space import MAX_INSERT_CHARS
from nep_code.collectors.options import parse_argument
from nep_code.collectors.pycorpus import corpus_files, read_python, stdlib_root
from nep_code.collectors.refactorings import RESERVED, WORD, new_name
from nep_code.collectors.timing import edit_gap
from nep_code.edits import LineEdit, byte_length
from nep_code.substitution import still_has, substitute
from nep_code.syntax import python_parses

DEFAULTS = {"sessions": 600, "max_importers": 4, "max_sites": 24, "no_definition": 0.3, "max_file_bytes": 60_000}
IN_PATH_ORDER = 0.75
"""Chance that the importers are edited in path order (as a commit's diff lists them)."""


@dataclass
class Module:
    """One parsed file of the corpus: its relative path, lines, top-level definitions and the names it imports."""

    path: str
    lines: list[str]
    tree: ast.Module
    definitions: dict[str, int]
    """Top-level function and class names -> 0-based line of their ``def``/``class``."""
    imports: dict[tuple[str, str], list[int]]
    """(module, name) -> the 0-based lines of this file's ``from module import name``."""


def module_name(relative: str) -> str:
    parts = relative[: -len(".py")].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolved(relative: str, node: ast.ImportFrom) -> str | None:
    """The absolute module of ``from ... import`` in the file ``relative`` (relative imports resolved)."""
    if not node.level:
        return node.module
    package = module_name(relative).split(".")
    if not relative.endswith("__init__.py"):
        package = package[:-1]
    if node.level - 1 > len(package):
        return None
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])]) or None


def read_module(file: Path, relative: str, report: CollectReport, max_bytes: int) -> Module | None:
    parsed = read_python(file, report, max_bytes)
    if parsed is None:
        return None
    tree, lines = parsed
    definitions = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("__"):
            row = next((index for index in range(node.lineno - 1, min(node.end_lineno or node.lineno, len(lines)))
                        if re.search(rf"\b(def|class)\s+{node.name}\b", lines[index])), None)
            if row is not None:
                definitions[node.name] = row
    imports: dict[tuple[str, str], list[int]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = _resolved(relative, node)
        if source is None:
            continue
        for alias in node.names:
            if alias.name != "*" and 0 < alias.lineno <= len(lines) and alias.name in lines[alias.lineno - 1]:
                imports.setdefault((source, alias.name), []).append(alias.lineno - 1)
    return Module(relative, lines, tree, definitions, imports)


def renames_cleanly(module: Module, name: str) -> bool:
    """False when ``name`` is also a parameter, a keyword, a global, an attribute or a nested definition
    in ``module``: a whole-word rename there would rename those too."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.arg) and node.arg == name or isinstance(node, ast.keyword) and node.arg == name:
            return False
        if isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return False
        if isinstance(node, ast.Attribute) and node.attr == name:
            return False
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name and node not in module.tree.body:
            return False
    return True


class RenameCollector(Collector):
    name = "rename"
    description = "synthetic cross-file renames: a module-level name renamed where it is defined, then in each file that imports it (default corpus: the standard library)"
    version = "1"

    def __init__(self, action_space=None):
        self.action_space = action_space

    def collect(self, argument: str, report: CollectReport, seed: int = 0) -> Iterable[Session]:
        path, options = parse_argument("rename", argument, DEFAULTS)
        if options["max_importers"] < 1 or options["max_sites"] < 2:
            raise NepError("rename: options need max_importers >= 1 and max_sites >= 2")
        root = Path(path).expanduser().resolve() if path else stdlib_root()
        if not root.exists():
            raise NepError(f"rename: '{path}' is not a Python file or a folder of them")
        modules = self._modules(root, report, options["max_file_bytes"])
        candidates = self._candidates(modules)
        report.count("renameable names", len(candidates))
        if not candidates:
            report.warn(f"rename: no module under {root} imports a name defined in another")
            return
        rng = random.Random(f"rename:{seed}")
        order = list(candidates)
        rng.shuffle(order)
        made, tries = 0, 0
        while made < options["sessions"] and tries < 4 * options["sessions"] + len(order):
            key = order[tries % len(order)]
            tries += 1
            built = make_session(modules, key, candidates[key], rng, options)
            if built is None:
                continue
            events, renamed = built
            made += 1
            report.count("sessions")
            report.count("edits", len(events) - 1)
            report.count("files", len(events[0].state["files"]))
            yield Session(
                id=f"rename-{seed}-{made:05d}", domain="code", events=events,
                meta={"source": "rename", "source_id": f"{root.name if path else 'stdlib'}/{key[0]}:{key[1]}",
                      "file": key[0], "seed": seed, "refactorings": [f"rename {renamed}"]},
            )

    @staticmethod
    def _modules(root: Path, report: CollectReport, max_bytes: int) -> dict[str, Module]:
        modules = {}
        for file in corpus_files(root):
            relative = file.name if root.is_file() else file.relative_to(root).as_posix()
            module = read_module(file, relative, report, max_bytes)
            if module is not None:
                modules[module_name(relative)] = module
                report.count("files read")
        return modules

    @staticmethod
    def _candidates(modules: dict[str, Module]) -> dict[tuple[str, str], list[str]]:
        """(defining module, name) -> the modules that import that name from it, by path."""
        found: dict[tuple[str, str], list[str]] = {}
        for importer_name, importer in modules.items():
            for source, name in importer.imports:
                if source in modules and name in modules[source].definitions and source != importer_name:
                    found.setdefault((source, name), []).append(importer_name)
        return {key: sorted(value, key=lambda name: modules[name].path) for key, value in sorted(found.items())}


CLASS_NAMES = ("Base{}", "{}Base", "Simple{}", "Default{}", "{}Impl", "Abstract{}", "{}2", "Py{}")
FUNCTION_NAMES = ("{}2", "_{}", "{}_impl", "do_{}", "{}_v2", "make_{}")


def renamed(old: str, rng: random.Random, taken: set[str]) -> str | None:
    """A new name for a module-level ``old``: a class keeps CapWords (``BaseParser``, ``ParserImpl``), a
    function gets a variant (``parse2``, ``_parse``) or, half the time, one of the local renames."""
    if old[:1].isupper():
        options = [pattern.format(old) for pattern in CLASS_NAMES]
    elif rng.random() < 0.5:
        options = [pattern.format(old.lstrip("_")) for pattern in FUNCTION_NAMES]
    else:
        found = new_name(old, rng, taken)
        options = [found] if found else []
    rng.shuffle(options)
    return next((name for name in options if name.isidentifier() and name not in taken and name not in RESERVED and name != old), None)


def make_session(modules: dict[str, Module], key: tuple[str, str], importers: list[str], rng: random.Random,
                 options: dict) -> tuple[list[Event], str] | None:
    """The events of renaming ``key``'s name in its module and some of its importers, or None when it cannot be done cleanly."""
    source, old = key
    chosen = sorted(rng.sample(importers, min(len(importers), rng.randint(1, options["max_importers"]))),
                    key=lambda name: modules[name].path)
    if rng.random() >= IN_PATH_ORDER:
        rng.shuffle(chosen)
    with_definition = rng.random() >= options["no_definition"] or len(chosen) < 2
    files = ([source] if with_definition else []) + chosen
    taken = set()
    for name in files:
        taken |= set(WORD.findall("".join(modules[name].lines)))
    new = renamed(old, rng, taken)
    if new is None:
        return None
    plans = []
    for name in files:
        module = modules[name]
        if not renames_cleanly(module, old):
            return None
        first = module.definitions[old] if name == source else min(module.imports[(source, old)])
        rows = [row for row, line in enumerate(module.lines) if old in line and still_has(line, old, new)]
        steps = [(row, substitute(module.lines[row], old, new)) for row in sorted(rows, key=lambda row: (row != first, row < first, row))]
        if any(len(text) > MAX_INSERT_CHARS for _, text in steps):
            return None
        after = list(module.lines)
        for index, text in steps:
            after[index] = text
        if not python_parses("".join(after)):
            return None
        plans.append((module.path, steps))
    if sum(len(steps) for _, steps in plans) > options["max_sites"] or sum(len(steps) for _, steps in plans) < 2:
        return None
    first_path, first_steps = plans[0]
    start = first_steps[0][0]
    line = modules[files[0]].lines[start]
    cursor = {"file": first_path, "line": start + 1, "column": byte_length(line) - byte_length(line.lstrip())}
    events = [Event(t=0.0, state={"files": {modules[name].path: "".join(modules[name].lines) for name in files}, "cursor": cursor})]
    t, previous = 0.0, (first_path, start)
    for path, steps in plans:
        for index, text in steps:
            jumped = path != previous[0] or abs(index - previous[1]) > 3
            t = round(t + edit_gap(rng, len(new), jumped), 2)
            events.append(Event(t=t, action=LineEdit(path, index + 1, 1, text).to_action()))
            previous = (path, index)
    return events, f"{old} -> {new}"
