"""Python source as deletable chunks: whole-line statements (with their decorators and leading comments)."""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass

BODY_FIELDS = ("body", "orelse", "finalbody")


@dataclass(frozen=True)
class Chunk:
    """Lines ``first..last`` (0-based, inclusive) of one statement, in the body ``body``; ``simple``: one line, no block."""

    first: int
    last: int
    body: int
    simple: bool


def _bodies(node: ast.AST):
    for name in BODY_FIELDS:
        value = getattr(node, name, None)
        if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
            yield value
    for handler in getattr(node, "handlers", []) or []:
        yield handler.body
    for case in getattr(node, "cases", []) or []:
        yield case.body


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _ends_cleanly(line: str, end_col: int) -> bool:
    rest = line.encode("utf-8")[end_col:].decode("utf-8", "ignore").strip()
    return not rest or rest.startswith("#")


def chunks(tree: ast.Module, lines: list[str]) -> list[Chunk]:
    """Every statement that owns its lines outright (no ``a; b``, no ``if x: y``), in source order."""
    found: list[Chunk] = []
    stack = [tree.body]
    body_id = 0
    while stack:
        body = stack.pop()
        body_id += 1
        previous_end = 0
        for statement in body:
            start = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
            end = statement.end_lineno or statement.lineno
            first_ok = _indent(lines[start - 1]) == statement.col_offset
            if first_ok and _ends_cleanly(lines[end - 1], statement.end_col_offset or 0):
                while start - 1 > previous_end + 1 and lines[start - 2].lstrip().startswith("#"):
                    start -= 1
                simple = start == end == statement.lineno and not any(True for _ in _bodies(statement))
                found.append(Chunk(start - 1, end - 1, body_id, simple))
            previous_end = end
            stack.extend(_bodies(statement))
    return sorted(found, key=lambda chunk: (chunk.first, -chunk.last))


def _span(statement: ast.stmt, lines: list[str], previous_end: int) -> tuple[int, int]:
    start = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
    while start - 1 > previous_end + 1 and lines[start - 2].lstrip().startswith("#"):
        start -= 1
    return start - 1, (statement.end_lineno or statement.lineno) - 1


def window(tree: ast.Module, lines: list[str], rng: random.Random, max_lines: int) -> list[str] | None:
    """A run of whole top-level statements of at most ``max_lines`` lines; a long class gives its header and a run of its body."""
    spans, previous_end = [], 0
    for statement in tree.body:
        spans.append((statement, *_span(statement, lines, previous_end)))
        previous_end = statement.end_lineno or statement.lineno
    if not spans:
        return None
    for _ in range(4):
        index = rng.randrange(len(spans))
        statement, first, last = spans[index]
        if last - first + 1 <= max_lines:
            stop = index
            while stop + 1 < len(spans) and spans[stop + 1][2] - first + 1 <= max_lines:
                stop += 1
            return lines[first : spans[stop][2] + 1]
        if isinstance(statement, ast.ClassDef) and statement.body:
            header = lines[first : _span(statement.body[0], lines, statement.lineno)[0]]
            inner = ast.Module(body=statement.body, type_ignores=[])
            body = window(inner, lines, rng, max_lines - len(header))
            if body and len(header) < max_lines // 2:
                return header + body
    return None
