"""``PATH?key=value&key=value``: a collector argument with options, parsed and checked against defaults."""

from __future__ import annotations

from typing import Any, Mapping

from nep_core.errors import NepError


def parse_argument(collector: str, argument: str, defaults: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The path before ``?`` and the options after it, typed like their defaults; a bad one is a NepError naming it."""
    path, _, query = argument.partition("?")
    options = dict(defaults)
    for item in filter(None, query.split("&")):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if key not in defaults:
            known = ", ".join(sorted(defaults))
            raise NepError(f"{collector}: unknown option '{key}' (options: {known})")
        options[key] = _typed(collector, key, raw.strip() if sep else "1", defaults[key])
    return path.strip(), options


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
            return float(raw)
        except ValueError:
            raise NepError(f"{collector}: option '{key}' is a number, not '{raw}'") from None
    if isinstance(default, tuple):
        return tuple(part.strip().lstrip(".") for part in raw.split(",") if part.strip())
    return raw


def has_plain_line_breaks(text: str) -> bool:
    """True when ``str.splitlines`` would split ``text`` only at ``\\n`` (no form feeds, lone ``\\r``, ``\\u2028``...)."""
    return len(text.splitlines()) == text.count("\n") + (0 if not text or text.endswith("\n") else 1)
