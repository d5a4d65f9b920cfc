"""``ARGUMENT?key=value&key=value``: a collector argument with options, parsed and checked against defaults.

The part before ``?`` is the collector's own argument (a path, a count); each ``key=value`` after it
is an option, typed like its default: on/off (``1``/``0``, ``true``/``false``, ``yes``/``no``,
``on``/``off``; a bare ``key`` means on), a whole number, a number, a comma-separated list, or text.
An unknown key or a value of the wrong type is a ``NepError`` that names the collector and the option.
"""

from __future__ import annotations

from typing import Any, Mapping

from nep_core.errors import NepError


def parse_argument(
    collector: str, argument: str, defaults: Mapping[str, Any], *, negative_numbers: bool = False, strip_dots: bool = False
) -> tuple[str, dict[str, Any]]:
    """The part before ``?`` and the options after it, typed like their defaults; a bad one is a NepError naming it.

    A number option (a float default) must be ``>= 0`` unless ``negative_numbers``; with
    ``strip_dots`` the items of a list option lose their leading dots (``ext=.py,.pyi`` is ``("py", "pyi")``).
    """
    head, _, query = argument.partition("?")
    options = dict(defaults)
    for item in filter(None, query.split("&")):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if key not in defaults:
            raise NepError(f"{collector}: unknown option '{key}' (options: {', '.join(sorted(defaults))})")
        options[key] = _typed(collector, key, raw.strip() if sep else "1", defaults[key], negative_numbers, strip_dots)
    return head.strip(), options


def _typed(collector: str, key: str, raw: str, default: Any, negative_numbers: bool, strip_dots: bool) -> Any:
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
        if negative_numbers:
            try:
                return float(raw)
            except ValueError:
                raise NepError(f"{collector}: option '{key}' is a number, not '{raw}'") from None
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if value != value or value < 0:
            raise NepError(f"{collector}: option '{key}' is a number >= 0, not '{raw}'")
        return value
    if isinstance(default, tuple):
        parts = (part.strip() for part in raw.split(","))
        return tuple(part.lstrip(".") if strip_dots else part for part in parts if part)
    return raw
