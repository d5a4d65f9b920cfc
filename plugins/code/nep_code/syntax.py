"""Syntax helpers: does a file parse, and where do its statements start (for editable regions).

Python is checked with ``ast`` (the ground truth for Python); other languages with tree-sitter through
``tree-sitter-language-pack`` when it is installed. Statement starts come from tree-sitter, which
tolerates the half-typed code found mid-edit, with ``ast`` and then indentation as fallbacks.
"""

from __future__ import annotations

import ast
import functools
import os
import textwrap
import threading
import warnings
from typing import Sequence

from nep_core.memo import lru_cache_for_short_text

LANGUAGES = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "tsx", ".rs": "rust", ".go": "go", ".c": "c",
    ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".java": "java",
    ".rb": "ruby", ".lua": "lua", ".sh": "bash", ".bash": "bash", ".json": "json", ".toml": "toml",
    ".yaml": "yaml", ".yml": "yaml", ".css": "css", ".html": "html", ".php": "php", ".cs": "csharp",
    ".kt": "kotlin", ".swift": "swift", ".scala": "scala", ".zig": "zig",
}


def language_of(path: str) -> str | None:
    """The language name of ``path`` by its extension, or None when NEP does not know it."""
    return LANGUAGES.get(os.path.splitext(path)[1].lower())


@functools.lru_cache(maxsize=None)
def _parser(language: str):
    """A tree-sitter parser for ``language``, or None when tree-sitter or the grammar is missing."""
    try:
        from tree_sitter_language_pack import get_parser

        return get_parser(language)
    except Exception:  # not installed, or no grammar shipped for this language
        return None


def tree_sitter_available(language: str = "python") -> bool:
    return _parser(language) is not None


def parse_python(text: str, filename: str = "<unknown>") -> ast.Module:
    """``ast.parse``, quiet about the SyntaxWarnings (invalid escapes, ``1if``) that older code raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return ast.parse(text, filename=filename)


def python_parses(text: str) -> bool:
    """Whether ``text`` parses as Python (quietly, as ``parse_python``)."""
    try:
        parse_python(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def parses(text: str, path: str) -> bool | None:
    """True when ``text`` parses as the language of ``path``, False when it does not, None when unknown."""
    language = language_of(path)
    if language == "python":
        return python_parses(text)
    parser = _parser(language) if language else None
    if parser is None:
        return None
    tree = parser.parse(text.encode("utf-8", "surrogatepass"))
    return not tree.root_node.has_error


CLAUSES = ("else", "elif", "except", "finally")
"""Python clauses that continue the block before them."""


def fragment_parses(lines: Sequence[str], path: str) -> bool | None:
    """Whether a run of whole lines cut from a file parses on its own, like ``parses``.

    Python fragments may start inside a block and leave it (deeper lines, then shallower ones, an
    ``else:``, an ``except``), or end on a block header whose body lies below: they are checked
    dedented, after ``if 1:`` (or ``try:``) openers for the blocks they leave or continue, with
    ``pass`` after a trailing header (and a definition after a trailing decorator).
    """
    return _fragment_parses("".join(lines), path)


@lru_cache_for_short_text(maxsize=4096, max_chars=16384)  # a region's windows are checked again at each suggestion
def _fragment_parses(joined: str, path: str) -> bool | None:
    text = textwrap.dedent(joined)
    if language_of(path) != "python":
        return parses(text, path)
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        return True
    indents = [len(row) - len(row.lstrip()) for row in rows]
    first_at = {indent: row.lstrip() for indent, row in reversed(list(zip(indents, rows)))}
    openers = ""
    for level in sorted(first_at):
        header = " " * level + ("try:\n" if first_at[level].startswith(("except", "finally")) else "if 1:\n")
        if level < indents[0]:  # a block the fragment leaves
            openers += header
        elif level == indents[0] and first_at[level].startswith(CLAUSES):  # a block it continues
            openers += header + " " * (level + 4) + "pass\n"
    closer = ""
    if rows[-1].lstrip().startswith("@"):  # a decorator whose definition lies below
        closer = " " * indents[-1] + "def _():\n" + " " * (indents[-1] + 4) + "pass\n"
    elif rows[-1].rstrip().endswith(":"):
        closer = " " * (indents[-1] + 4) + "pass\n"
        if rows[-1].lstrip().startswith("try"):
            closer += " " * indents[-1] + "finally:\n" + " " * (indents[-1] + 4) + "pass\n"
    return parses(openers + text + ("" if text.endswith("\n") else "\n") + closer, path)


PARSED_LINE_CHARS = 4000
"""Rows near a line longer than this (a minified file) are found by indentation, not parsed: walking the
syntax tree of one 880 KB line took most of a second a request."""


def statement_starts(lines: Sequence[str], path: str, near: tuple[int, int] | None = None, reparse: bool = False) -> set[int]:
    """0-based rows where a statement or definition begins, plus ``len(lines)``.

    A region that starts and ends on these rows never cuts a multi-line statement in two. With
    ``near=(first, last)``, tree-sitter's rows are only looked for in ``[first, last]`` (faster on long files);
    with ``reparse``, tree-sitter reparses from the tree of ``path``'s previous text (for a file being edited).
    """
    text = "".join(lines)
    language = language_of(path)
    first, last = near if near is not None else (0, len(lines))
    if any(len(line) > PARSED_LINE_CHARS for line in lines[max(first, 0) : max(last + 1, 0)]):
        language = None  # minified code or data: the indentation rule serves
    rows = _tree_sitter_starts(text, language, near, path if reparse else None) if language else None
    if rows is None and language == "python":
        rows = _ast_starts(text)
    if rows is None:
        rows = _indentation_starts(lines)
    rows.add(len(lines))
    return rows


BLOCK_TYPES = ("module", "program", "source_file", "translation_unit", "block", "body", "statement_block",
               "compound_statement", "declaration_list", "class_body", "field_declaration_list", "chunk")
STATEMENT_SUFFIXES = ("statement", "definition", "declaration", "comment", "clause", "decorator", "item")


def _tree_sitter_starts(text: str, language: str, near: tuple[int, int] | None = None, path: str | None = None) -> set[int] | None:
    parser = _parser(language)
    if parser is None:
        return None
    source = text.encode("utf-8", "surrogatepass")
    tree = parser.parse(source) if path is None else _parse_again(parser, (language, path), source)
    first, last = near if near is not None else (0, tree.root_node.end_point[0])
    rows: set[int] = set()
    stack = [(tree.root_node, False)]
    while stack:
        node, in_block = stack.pop()
        row, column = node.start_point
        end_row = node.end_point[0]
        if end_row < first or row > last:
            continue
        kind = node.type
        if (in_block or kind.endswith(STATEMENT_SUFFIXES)) and row >= first and not source[node.start_byte - column : node.start_byte].strip():
            rows.add(row)
        if end_row > row:  # only multi-line nodes hold statements on later rows; unnamed nodes are tokens
            is_block = kind.endswith(BLOCK_TYPES)
            stack.extend((child, is_block) for child in node.named_children)
    return rows


_LAST_TREES: dict[tuple[str, str], tuple[bytes, object]] = {}
_LAST_TREES_LOCK = threading.Lock()
LAST_TREES_KEPT = 64
"""Files whose last tree is kept for reparsing."""


def _parse_again(parser, key: tuple[str, str], source: bytes):
    """``parser.parse(source)``, reparsing incrementally from the previous tree of ``key`` (language, path), as
    editors do: a file's next text is mostly the one before with an edit. Trees handed out are never edited afterwards."""
    with _LAST_TREES_LOCK:
        previous = _LAST_TREES.get(key)
    if previous is not None and previous[0] == source:
        return previous[1]
    if previous is None:
        tree = parser.parse(source)
    else:
        old_source, old_tree = previous
        start, old_end, new_end = changed_span(old_source, source)
        edited = old_tree.copy()
        edited.edit(start, old_end, new_end, _point(old_source, start), _point(old_source, old_end), _point(source, new_end))
        tree = parser.parse(source, edited)
    with _LAST_TREES_LOCK:
        _LAST_TREES.pop(key, None)
        _LAST_TREES[key] = (source, tree)
        while len(_LAST_TREES) > LAST_TREES_KEPT:
            del _LAST_TREES[next(iter(_LAST_TREES))]
    return tree


def changed_span(old: bytes, new: bytes) -> tuple[int, int, int]:
    """``(start, old_end, new_end)``: ``old[start:old_end]`` became ``new[start:new_end]``, the rest is shared."""
    old_view, new_view = memoryview(old), memoryview(new)
    low, high = 0, min(len(old), len(new))
    while low < high:  # the longest common prefix, by bisection on memcmp
        middle = (low + high + 1) // 2
        if old_view[:middle] == new_view[:middle]:
            low = middle
        else:
            high = middle - 1
    start = low
    low, high = 0, min(len(old), len(new)) - start
    while low < high:  # the longest common suffix that does not overlap the prefix
        middle = (low + high + 1) // 2
        if old_view[len(old) - middle :] == new_view[len(new) - middle :]:
            low = middle
        else:
            high = middle - 1
    return start, len(old) - low, len(new) - low


def _point(source: bytes, offset: int) -> tuple[int, int]:
    row = source.count(b"\n", 0, offset)
    return row, offset - (source.rfind(b"\n", 0, offset) + 1)


def _ast_starts(text: str) -> set[int] | None:
    try:
        tree = parse_python(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    rows: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.stmt, ast.ExceptHandler, ast.match_case)):
            rows.add(node.lineno - 1)
            for decorator in getattr(node, "decorator_list", ()):
                rows.add(decorator.lineno - 1)
    return rows


def _indentation_starts(lines: Sequence[str]) -> set[int]:
    """Rows that do not continue the previous line (no open bracket or trailing backslash before them)."""
    rows, depth = set(), 0
    for row, line in enumerate(lines):
        if depth <= 0:
            rows.add(row)
        stripped = line.rstrip("\n")
        depth = max(0, depth + sum(stripped.count(c) for c in "([{") - sum(stripped.count(c) for c in ")]}"))
        if stripped.endswith("\\"):
            depth = max(depth, 1) if depth else 1
    return rows


REGION_HARD_LIMIT = 64
"""The most lines an editable region grows to so as not to cut the cursor's statement in two."""


def editable_region(
    lines: Sequence[str], cursor_row: int, boundaries: set[int], max_lines: int, max_chars: int,
    above_share: float = 0.4, hard_limit: int = REGION_HARD_LIMIT,
) -> tuple[int, int]:
    """The rows ``[start, end)`` of the editable region around ``cursor_row``.

    The window grows around the cursor (``above_share`` of it above) while it fits ``max_lines`` and
    ``max_chars``; then both ends move inwards to statement starts, so no statement is cut in two (or
    outwards, to at most ``hard_limit`` lines, when the statement at the cursor is longer than the window).
    """
    count = len(lines)
    if count == 0:
        return 0, 0
    cursor_row = min(max(cursor_row, 0), count - 1)
    start, end, chars = cursor_row, cursor_row + 1, len(lines[cursor_row])
    while end - start < max_lines:
        above_ok = start > 0 and (end - start) * above_share >= (cursor_row - start)
        grow_up = start > 0 and (above_ok or end >= count)
        if not grow_up and end >= count:
            break
        row = start - 1 if grow_up else end
        if chars + len(lines[row]) > max_chars:
            break
        chars += len(lines[row])
        if grow_up:
            start -= 1
        else:
            end += 1
    # inwards to statement starts; outwards (up to ``hard_limit`` lines) when the cursor's statement is longer
    snapped_start = min((row for row in boundaries if start <= row <= cursor_row), default=None)
    if snapped_start is None:
        snapped_start = max((row for row in boundaries if row < start and end - row <= hard_limit), default=start)
    snapped_end = max((row for row in boundaries if cursor_row < row <= end), default=None)
    if snapped_end is None:
        snapped_end = min((row for row in boundaries if row > end and row - snapped_start <= hard_limit), default=end)
    return snapped_start, snapped_end
