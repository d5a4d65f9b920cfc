"""``PATH?key=value&key=value``: the code collectors' arguments (``nep_core.source_options``), and a text check they share."""

from __future__ import annotations

from typing import Any, Mapping

from nep_core import source_options


def parse_argument(collector: str, argument: str, defaults: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path before ``?`` and the options after it, as ``nep_core.source_options`` parses them.

    For the code collectors a number option may be negative, and the items of a list option (file
    suffixes: ``ext=.py,pyi``) lose their leading dots.
    """
    return source_options.parse_argument(collector, argument, defaults, negative_numbers=True, strip_dots=True)


def check_chances(collector: str, options: Mapping[str, Any], names: tuple[str, ...]) -> None:
    """Refuse an option of ``names`` that is not a chance from 0 to 1 (NaN and infinity included)."""
    from nep_core.errors import NepError

    for name in names:
        if not 0 <= options[name] <= 1:
            raise NepError(f"{collector}: option {name} is a chance, between 0 and 1 (got {options[name]})")


def has_plain_line_breaks(text: str) -> bool:
    """True when ``str.splitlines`` would split ``text`` only at ``\\n`` (no form feeds, lone ``\\r``, ``\\u2028``...)."""
    return len(text.splitlines()) == text.count("\n") + (0 if not text or text.endswith("\n") else 1)
