"""``PATH?key=value&key=value``: a collector argument with options, parsed and checked against defaults."""

from __future__ import annotations

from typing import Any, Mapping

from nep_core.errors import NepError


def parse_argument(collector: str, argument: str, defaults: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The part before ``?`` and the options after it, typed like their defaults; a bad one is a NepError naming it."""
    head, _, query = argument.partition("?")
    options = dict(defaults)
    for item in filter(None, query.split("&")):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if key not in defaults:
            raise NepError(f"{collector}: unknown option '{key}' (options: {', '.join(sorted(defaults))})")
        options[key] = _typed(collector, key, raw.strip() if sep else "1", defaults[key])
    return head.strip(), options


def _typed(collector: str, key: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise NepError(f"{collector}: option '{key}' is on or off (1/0), not '{raw}'")
    if isinstance(default, int):
        if not raw.isdigit():
            raise NepError(f"{collector}: option '{key}' is a whole number >= 0, not '{raw}'")
        return int(raw)
    if isinstance(default, float):
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if value != value or value < 0:
            raise NepError(f"{collector}: option '{key}' is a number >= 0, not '{raw}'")
        return value
    if isinstance(default, tuple):
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw
