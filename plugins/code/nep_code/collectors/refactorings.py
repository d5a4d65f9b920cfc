"""The refactorings of the ``refactor`` collector: where each one applies in a window of Python, and its steps.

A ``Refactoring`` is a list of steps ``(line index, new text of that line)``, one per line it
touches, in the order a user would make them. Every step replaces one whole line, so line numbers
stay as they are. ``find(kind, tree, lines, rng)`` yields candidates in a random (seeded) order; the
collector checks that the window parses after every step.
"""

from __future__ import annotations

import ast
import builtins
import io
import keyword
import random
import re
import tokenize
from dataclasses import dataclass
from typing import Iterator

KINDS = ("rename", "attribute", "parameter", "keywords", "quotes")

ABBREVIATIONS = {
    "i": ["index", "idx"], "j": ["index2", "col"], "n": ["count", "num"], "k": ["key"], "v": ["value", "val"],
    "f": ["file", "fp"], "fp": ["file", "stream"], "fn": ["func", "function"], "func": ["function", "callback"],
    "cb": ["callback"], "buf": ["buffer"], "msg": ["message"], "ctx": ["context"], "cfg": ["config"],
    "conf": ["config"], "arg": ["argument"], "obj": ["instance", "item"], "res": ["result"], "ret": ["result"],
    "rv": ["result"], "val": ["value"], "idx": ["index"], "num": ["number", "count"], "cnt": ["count"],
    "tmp": ["temp"], "err": ["error"], "e": ["exc", "error"], "exc": ["error"], "req": ["request"],
    "resp": ["response"], "lst": ["items"], "l": ["items", "lst"], "d": ["mapping", "data"], "dct": ["mapping"],
    "src": ["source"], "dst": ["destination", "dest"], "fname": ["filename", "file_name"], "pos": ["position"],
    "attr": ["attribute", "attr_name"], "elt": ["element"], "el": ["element"], "ch": ["char"], "c": ["char"],
    "x": ["value"], "s": ["text", "string"], "prev": ["previous"], "cur": ["current"], "curr": ["current"],
    "lineno": ["line_number"], "sep": ["separator"], "mod": ["module"], "p": ["path"], "dir": ["directory"],
    "dirname": ["directory"], "t": ["value", "token"], "tok": ["token"], "q": ["queue"], "sz": ["size"],
    "ln": ["line"], "nm": ["name"], "addr": ["address"], "info": ["details"], "params": ["parameters"],
    "opts": ["options"], "kw": ["kwargs"], "w": ["width", "writer"], "h": ["height"], "m": ["match"],
    "mo": ["match"], "r": ["result"], "a": ["first"], "b": ["second"], "ns": ["namespace"], "db": ["database"],
    "data": ["payload"], "result": ["res", "output"], "value": ["val"], "index": ["idx"], "name": ["label"],
    "text": ["txt", "content"], "line": ["ln", "current_line"], "path": ["filepath", "file_path"], "items": ["entries"],
    "count": ["total"], "key": ["name"], "node": ["current"], "size": ["length"], "start": ["begin"], "end": ["stop"],
    "message": ["msg"], "filename": ["file_name", "path"], "args": ["arguments"], "kwargs": ["options"],
}
PREFIXES = ("new_", "raw_", "current_", "local_", "the_")
SUFFIXES = ("_value", "_list", "_name", "_obj", "_")
PARAMETERS = (
    ("verbose", "False", "True"), ("strict", "False", "True"), ("timeout", "None", "10"),
    ("encoding", "None", "'utf-8'"), ("limit", "None", "100"), ("prefix", "''", "'_'"), ("debug", "False", "True"),
    ("force", "False", "True"), ("quiet", "False", "True"), ("depth", "0", "1"), ("callback", "None", "None"),
    ("cache", "None", "None"), ("check", "True", "False"), ("copy", "False", "True"), ("sort", "False", "True"),
)
RESERVED = set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist) | {"self", "cls"}
WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


@dataclass(frozen=True)
class Refactoring:
    """``steps``: (0-based line index, the line's new text) in the order they are made; ``typed``: characters typed at a site."""

    kind: str
    steps: tuple[tuple[int, str], ...]
    typed: int
    detail: str = ""


def find(kind: str, tree: ast.Module, lines: list[str], rng: random.Random) -> Iterator[Refactoring]:
    """Candidate refactorings of ``kind`` in the window ``lines`` (``tree`` its parse), in a seeded random order."""
    words = set(WORD.findall("".join(lines)))
    return FINDERS[kind](tree, lines, rng, words)


# -- positions and steps -------------------------------------------------------------------------------


def _char_col(line: str, byte_col: int) -> int:
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


def _span(lines: list[str], lineno: int, byte_start: int, byte_end: int) -> tuple[int, int, int]:
    line = lines[lineno - 1]
    return lineno - 1, _char_col(line, byte_start), _char_col(line, byte_end)


def _steps(lines: list[str], changes: list[tuple[int, int, int, str]], first: int | None = None) -> tuple[tuple[int, str], ...]:
    """Changes ``(line index, start, end, replacement)`` grouped per line, top to bottom (line ``first`` first)."""
    per_line: dict[int, list[tuple[int, int, str]]] = {}
    for index, start, end, text in changes:
        per_line.setdefault(index, []).append((start, end, text))
    steps = []
    for index in sorted(per_line, key=lambda index: (index != first, index)):
        line = lines[index]
        for start, end, text in sorted(set(per_line[index]), reverse=True):
            line = line[:start] + text + line[end:]
        steps.append((index, line))
    return tuple(steps)


def new_name(old: str, rng: random.Random, taken: set[str]) -> str | None:
    """A plausible new name for ``old``: an abbreviation expanded or made, a prefix or suffix, a snake_case variant."""
    preferred = list(ABBREVIATIONS.get(old, []))
    parts = [part for part in old.split("_") if part]
    if len(parts) == 2:
        preferred.append("".join(parts))
    elif len(parts) == 1 and old.lower() != old:
        preferred.append(re.sub(r"(?<!^)(?=[A-Z])", "_", old).lower())
    others = [prefix + old.lstrip("_") for prefix in PREFIXES] + [old + suffix for suffix in SUFFIXES if not old.endswith("_")]
    options = preferred if preferred and rng.random() < 0.8 else others
    rng.shuffle(options)
    for name in options + others:
        if name.isidentifier() and name not in RESERVED and name not in taken and name != old:
            return name
    return None


def _shuffled(items, rng: random.Random) -> list:
    items = list(items)
    rng.shuffle(items)
    return items


# -- rename a local variable or parameter ----------------------------------------------------------------

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _all_args(arguments: ast.arguments) -> list[ast.arg]:
    found = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    found += [arg for arg in (arguments.vararg, arguments.kwarg) if arg is not None]
    return found


def _blocked_names(function: ast.AST) -> set[str]:
    """Names bound in ways the renamer does not rewrite (except ... as, import, global, match, f-strings, nested defs)."""
    blocked: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.ExceptHandler) and node.name:
            blocked.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            blocked.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            blocked.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            blocked.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            blocked.add(node.rest)
        elif isinstance(node, ast.JoinedStr):
            blocked.update(inner.id for inner in ast.walk(node) if isinstance(inner, ast.Name))
        elif isinstance(node, (*FUNCTIONS, ast.ClassDef)) and node is not function:
            blocked.add(node.name)
    return blocked


def find_renames(tree: ast.Module, lines: list[str], rng: random.Random, words: set[str]) -> Iterator[Refactoring]:
    functions = [node for node in ast.walk(tree) if isinstance(node, FUNCTIONS)]
    for function in _shuffled(functions, rng):
        blocked = _blocked_names(function)
        bound = {arg.arg for arg in _all_args(function.args)}
        bound |= {node.id for node in ast.walk(function) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
        for old in _shuffled(sorted(bound - blocked - {"self", "cls", "_"}), rng):
            changes, ok = [], True
            for node in ast.walk(function):
                if isinstance(node, ast.Name) and node.id == old:
                    start, end = node.col_offset, node.end_col_offset
                elif isinstance(node, ast.arg) and node.arg == old:
                    start, end = node.col_offset, node.col_offset + len(old.encode("utf-8"))
                else:
                    continue
                if node.end_lineno != node.lineno and isinstance(node, ast.Name):
                    ok = False
                    break
                index, first, last = _span(lines, node.lineno, start, end)
                if lines[index][first:last] != old:
                    ok = False
                    break
                changes.append((index, first, last))
            if not ok or len({change[0] for change in changes}) < 2:
                continue
            new = new_name(old, rng, words)
            if new is None:
                continue
            definition = min(index for index, _, _ in changes)
            yield Refactoring("rename", _steps(lines, [(index, a, b, new) for index, a, b in changes], definition), len(new), f"{old} -> {new}")


# -- rename an attribute across a class ------------------------------------------------------------------


def find_attributes(tree: ast.Module, lines: list[str], rng: random.Random, words: set[str]) -> Iterator[Refactoring]:
    classes = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    for klass in _shuffled(classes, rng):
        members = {node.name for node in klass.body if isinstance(node, (*FUNCTIONS, ast.ClassDef))}
        members |= {target.id for node in klass.body if isinstance(node, (ast.Assign, ast.AnnAssign))
                    for target in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(target, ast.Name)}
        uses = [node for node in ast.walk(klass)
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"]
        stored = {node.attr for node in uses if isinstance(node.ctx, ast.Store)}
        text = "".join(lines[klass.lineno - 1 : klass.end_lineno])
        for old in _shuffled(sorted(stored - members), rng):
            if old.startswith("__") or f"'{old}'" in text or f'"{old}"' in text:
                continue
            changes, ok = [], True
            for node in uses:
                if node.attr != old:
                    continue
                end = node.end_col_offset
                index, first, last = _span(lines, node.end_lineno, end - len(old.encode("utf-8")), end)
                if lines[index][first:last] != old:
                    ok = False
                    break
                changes.append((index, first, last))
            if not ok or len({change[0] for change in changes}) < 2:
                continue
            if old.startswith("_") and len(old) > 1 and not old[1].isdigit() and rng.random() < 0.7:
                new = old[1:] if old[1:] not in words and old[1:] not in RESERVED else new_name(old, rng, words)
            elif not old.startswith("_") and rng.random() < 0.6 and "_" + old not in words:
                new = "_" + old
            else:
                new = new_name(old, rng, words)
            if new is None or new in words or new.startswith("__"):
                continue
            yield Refactoring("attribute", _steps(lines, [(index, a, b, new) for index, a, b in changes]), len(new), f"self.{old} -> self.{new}")


# -- functions and their calls ---------------------------------------------------------------------------


def _simple_functions(tree: ast.Module) -> list[tuple[ast.AST, bool]]:
    """Undecorated functions with plain positional parameters, and whether each is a method."""
    found = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        for statement in body:
            if not isinstance(statement, FUNCTIONS) or statement.decorator_list or statement.name.startswith("__"):
                continue
            arguments = statement.args
            if arguments.posonlyargs or arguments.kwonlyargs or arguments.vararg or arguments.kwarg:
                continue
            method = isinstance(node, ast.ClassDef)
            if method and not (arguments.args and arguments.args[0].arg in ("self", "cls")):
                continue
            found.append((statement, method))
    return found


def _calls(tree: ast.Module, function: ast.AST, method: bool, lines: list[str]) -> list[ast.Call]:
    """Single-line calls of ``function`` (``name(...)``, or ``self.name(...)`` for a method) without ``*``/``**``, whose last character is ``)``."""
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or node.lineno != node.end_lineno:
            continue
        callee = node.func
        if method:
            matches = isinstance(callee, ast.Attribute) and callee.attr == function.name and isinstance(callee.value, ast.Name) and callee.value.id in ("self", "cls")
        else:
            matches = isinstance(callee, ast.Name) and callee.id == function.name
        if not matches or any(isinstance(arg, ast.Starred) for arg in node.args) or any(kw.arg is None for kw in node.keywords):
            continue
        index, _, end = _span(lines, node.lineno, 0, node.end_col_offset)
        if lines[index][end - 1 : end] != ")":
            continue
        calls.append(node)
    return calls


def find_parameters(tree: ast.Module, lines: list[str], rng: random.Random, words: set[str]) -> Iterator[Refactoring]:
    for function, method in _shuffled(_simple_functions(tree), rng):
        arguments = function.args
        positional = len(arguments.args) - method
        calls = [call for call in _calls(tree, function, method, lines) if len(call.args) <= positional]
        if not calls:
            continue
        options = [option for option in PARAMETERS if option[0] not in words]
        if not options:
            continue
        name, default, passed = rng.choice(options)
        if arguments.args:
            last = arguments.args[-1]
            anchor = arguments.defaults[-1] if arguments.defaults else last
            index, _, column = _span(lines, anchor.end_lineno, 0, anchor.end_col_offset)
            insert = f", {name}={default}"
        else:
            index = function.lineno - 1
            match = re.search(rf"\bdef\s+{re.escape(function.name)}\s*\(", lines[index])
            if match is None:
                continue
            column, insert = match.end(), f"{name}={default}"
        changes = [(index, column, column, insert)]
        for call in calls:
            row, _, end = _span(lines, call.lineno, 0, call.end_col_offset)
            before = lines[row][: end - 1].rstrip()
            if call.args or call.keywords:
                text = f" {name}={passed}" if before.endswith(",") else f", {name}={passed}"
            else:
                text = f"{name}={passed}"
            changes.append((row, end - 1, end - 1, text))
        if len({change[0] for change in changes}) != len(changes):
            continue
        yield Refactoring("parameter", _steps(lines, changes, index), len(name) + len(passed) + 3, f"{function.name}(..., {name}={default})")


def find_keywords(tree: ast.Module, lines: list[str], rng: random.Random, words: set[str]) -> Iterator[Refactoring]:
    for function, method in _shuffled(_simple_functions(tree), rng):
        names = [arg.arg for arg in function.args.args[int(method):]]
        calls = [call for call in _calls(tree, function, method, lines) if 0 < len(call.args) <= len(names)]
        changes = []
        for call in calls:
            for position, arg in enumerate(call.args):
                if arg.lineno != call.lineno:
                    break
                row, column, _ = _span(lines, arg.lineno, arg.col_offset, arg.col_offset)
                changes.append((row, column, column, f"{names[position]}="))
        if len({change[0] for change in changes}) < 2:
            continue
        yield Refactoring("keywords", _steps(lines, changes), 8, f"{function.name}(...) with keywords")


# -- quote style -----------------------------------------------------------------------------------------

STRING = re.compile(r"([A-Za-z]{0,2})(['\"])(.*)\2\Z", re.DOTALL)


def find_quotes(tree: ast.Module, lines: list[str], rng: random.Random, words: set[str]) -> Iterator[Refactoring]:
    try:
        tokens = [token for token in tokenize.generate_tokens(io.StringIO("".join(lines)).readline) if token.type == tokenize.STRING]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return
    literals = []
    for token in tokens:
        match = STRING.match(token.string)
        if token.start[0] != token.end[0] or match is None or token.string[len(match.group(1)) :].startswith(("'''", '"""')):
            continue
        prefix, quote, body = match.groups()
        if "\\" in body or "'" in body or '"' in body or "{" in body and "f" in prefix.lower():
            continue
        literals.append((token.start[0] - 1, token.start[1], token.end[1], prefix, quote, body))
    scopes = [node for node in ast.walk(tree) if isinstance(node, (*FUNCTIONS, ast.ClassDef))]
    for scope in _shuffled(scopes, rng):
        inside = [literal for literal in literals if scope.lineno - 1 <= literal[0] < scope.end_lineno]
        singles = [literal for literal in inside if literal[4] == "'"]
        doubles = [literal for literal in inside if literal[4] == '"']
        source, target = ("'", '"') if len(singles) >= len(doubles) else ('"', "'")
        chosen = [literal for literal in inside if literal[4] == source]
        if len({literal[0] for literal in chosen}) < 2:
            continue
        changes = [(row, start, end, f"{prefix}{target}{body}{target}") for row, start, end, prefix, _, body in chosen]
        yield Refactoring("quotes", _steps(lines, changes), 2, f"{source} -> {target}")


FINDERS = {
    "rename": find_renames, "attribute": find_attributes, "parameter": find_parameters,
    "keywords": find_keywords, "quotes": find_quotes,
}
