"""In-line substitutions: a one-line change written as ``OLD -> NEW`` (every ``OLD`` in the line becomes ``NEW``).

Propagating a change (a rename continued at the next use, a keyword added at the next call) mostly
replaces one piece of a line by another, the same piece as in the edit before. Written as the pair
of pieces rather than the whole new line, such an edit is a few tokens, which a small model copies
from the previous edit's pair (the encoder writes that pair into each event it can) instead of
rewriting a line token by token.
"""

from __future__ import annotations

import difflib
import keyword
import re

from nep_core.memo import lru_cache_for_short_text
from nep_code.tokenizer import TOKENS_MEMO_CHARS, TextCodec

MAX_SUBSTITUTION_CHARS = TOKENS_MEMO_CHARS
"""The longest pair of lines (old and new together) searched for a substitution, and so also the longest kept in the
memo: the search diffs the lines' tokens, quadratic in their length, and a line of minified code can be megabytes."""

MAX_WIDENING = 8
"""Characters a substitution may take on around the changed piece (after whole words) to read uniquely."""


@lru_cache_for_short_text(maxsize=65536, max_chars=MAX_SUBSTITUTION_CHARS)  # the same edits are read again in every later prompt
def find_substitution(old_line: str, new_line: str, codec: TextCodec) -> tuple[str, str] | None:
    """``(old, new)`` with ``substitute(old_line, old, new) == new_line``: the changed piece, found on the
    lines' tokens, without the space a word token starts with, and widened to whole words; None when
    the change is not one piece replaced everywhere, the lines are equal, or longer than ``MAX_SUBSTITUTION_CHARS``."""
    if len(old_line) + len(new_line) > MAX_SUBSTITUTION_CHARS:
        return None
    old_body, new_body = old_line.rstrip("\n"), new_line.rstrip("\n")
    if old_line == new_line or "\n" in old_body or "\n" in new_body or old_line[len(old_body):] != new_line[len(new_body):]:
        return None
    before, after = codec.tokens(old_body), codec.tokens(new_body)
    changes = [
        (i1, i2, j1, j2)
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
        if tag != "equal"
    ]
    if not changes:
        return None
    i1, i2, j1, j2 = changes[0]
    spanned = len({(tuple(before[i1:i2]), tuple(after[j1:j2])) for i1, i2, j1, j2 in changes}) != 1
    if spanned:  # different changes: one piece only when they all lie inside one word
        i2, j2 = changes[-1][1], changes[-1][3]
    a, b = len(codec.text(before[:i1])), len(codec.text(after[:j1]))
    a_end, b_end = len(codec.text(before[:i2])), len(codec.text(after[:j2]))
    if spanned and not _one_word(old_body, new_body, a, a_end, b, b_end):
        return None
    while (a < a_end - 1 and b < b_end - 1 and old_body[a] == new_body[b] and old_body[a] in " \t"
           and is_word_char(old_body[a + 1]) and is_word_char(new_body[b + 1])):  # a word-level token's leading space
        a, b = a + 1, b + 1
    while a > 0 and b > 0 and old_body[a - 1] == new_body[b - 1] and is_word_char(old_body[a - 1]):
        a, b = a - 1, b - 1
    while a_end < len(old_body) and b_end < len(new_body) and old_body[a_end] == new_body[b_end] and is_word_char(old_body[a_end]):
        a_end, b_end = a_end + 1, b_end + 1
    for step in range(MAX_WIDENING + 1):
        old, new = old_body[a:a_end], new_body[b:b_end]
        if old and substitute(old_line, old, new) == new_line:
            return old, new
        if a > 0 and b > 0 and (step % 2 == 0 or a_end >= len(old_body)):
            a, b = a - 1, b - 1
        elif a_end < len(old_body) and b_end < len(new_body):
            a_end, b_end = a_end + 1, b_end + 1
        else:
            break
    return None


def _one_word(old_body: str, new_body: str, a: int, a_end: int, b: int, b_end: int) -> bool:
    """Whether ``old_body[a:a_end]`` and ``new_body[b:b_end]`` both lie inside a single word (a rename such
    as ``SimpleReader`` to ``simple_reader``, which changes several pieces of one identifier)."""
    return all(map(is_word_char, old_body[a:a_end] + new_body[b:b_end]))


def is_word_char(char: str) -> bool:
    """Letters, digits and the underscore: what identifiers are made of."""
    return char.isalnum() or char == "_"


UBIQUITOUS_WORDS = frozenset(keyword.kwlist) | {"true", "false", "null", "nil", "undefined"}
"""Python's keywords (``return``, ``None``, ``import``... most of them statement words in other languages
too) and the other languages' literal constants: words that name nothing of the user's."""


def names_something(old: str) -> bool:
    """Whether ``old`` holds a word that is not a keyword (a name or a phrase), so that the first line
    elsewhere that holds it is likely its next use. A number or punctuation (a version bumped from ``1``
    to ``2``, a ``))`` given a comment) or keywords alone (``None`` becoming ``0``, ``return`` given a
    condition) occur in too many unrelated places to be carried there."""
    return any(word not in UBIQUITOUS_WORDS for word in re.findall(r"[^\W\d]\w*", old))


def substitute(line: str, old: str, new: str) -> str:
    """``line`` with every ``old`` replaced by ``new``; where ``old`` starts or ends with a word
    character, only occurrences that start or end a word there (``s`` is not replaced in ``sum``)."""
    return re.sub(_pattern(old), lambda _: new, line)


def still_has(line: str, old: str, new: str) -> bool:
    """Whether ``line`` still holds ``old`` as ``substitute`` finds it, outside any ``new``: a site
    the change has not reached."""
    if old in new:
        line = line.replace(new, "\0")
    return re.search(_pattern(old), line) is not None


def can_start(line: str, position: int) -> bool:
    """Whether a piece ``substitute`` finds may start at ``position`` (not inside a word)."""
    if position >= len(line):
        return False
    return position == 0 or not (is_word_char(line[position - 1]) and is_word_char(line[position]))


def _pattern(old: str) -> str:
    return ("(?<!\\w)" if is_word_char(old[0]) else "") + re.escape(old) + ("(?!\\w)" if is_word_char(old[-1]) else "")
