"""Numbers as tokens: two significant digits for floats, exact small integers.

Floats: 0 when ``|x| < 0.0005``; otherwise ``x`` rounded to two significant digits with a decimal
exponent from -3 to 5 (so 0.001 to 990000; larger magnitudes clamp to 990000). The round-trip error
is at most half a unit in the second significant digit: ``|x - q| <= 0.05 * |x|`` (``<= 0.0005``
near zero). Angles are written in degrees (``90`` rather than ``1.5708``), so the usual angles are
exact. Integers: exact from -100 to 100, two significant digits beyond (``1234`` is ``1200``),
clamped to ``±990000``.
"""

from __future__ import annotations

import math

FLOAT_ZERO = 0.0005
EXPONENTS = range(-3, 6)
INT_EXACT = 100
LARGEST = 990000


def _two_digits(magnitude: float) -> tuple[int, int]:
    """(mantissa 10..99, exponent) with mantissa * 10**(exponent-1) nearest to ``magnitude``."""
    exponent = math.floor(math.log10(magnitude))
    mantissa = round(magnitude / 10.0 ** (exponent - 1))
    if mantissa >= 100:
        mantissa, exponent = 10, exponent + 1
    return mantissa, exponent


def _from_digits(mantissa: int, exponent: int) -> float:
    return float(f"{mantissa}e{exponent - 1}")


def quantize_float(value: float) -> float:
    """``value`` on the float grid (see the module docstring)."""
    if not math.isfinite(value):
        return LARGEST if value > 0 else -LARGEST
    magnitude = abs(value)
    if magnitude < FLOAT_ZERO:
        return 0.0
    if magnitude >= LARGEST:
        return math.copysign(float(LARGEST), value)
    mantissa, exponent = _two_digits(magnitude)
    if exponent < EXPONENTS.start:
        mantissa, exponent = 10, EXPONENTS.start
    return math.copysign(_from_digits(mantissa, exponent), value)


def float_grid(low: float = -math.inf, high: float = math.inf) -> list[float]:
    """Every grid float in ``[low, high]`` (after quantizing the bounds), ascending."""
    positives = [_from_digits(mantissa, exponent) for exponent in EXPONENTS for mantissa in range(10, 100)]
    grid = sorted({0.0, *positives, *(-value for value in positives)})
    low_q = -LARGEST if low <= -LARGEST else quantize_float(low)
    high_q = LARGEST if high >= LARGEST else quantize_float(high)
    return [value for value in grid if low_q <= value <= high_q]


def quantize_int(value: int) -> int:
    """``value`` on the integer grid."""
    if abs(value) <= INT_EXACT:
        return int(value)
    if abs(value) >= LARGEST:
        return int(math.copysign(LARGEST, value))
    mantissa, exponent = _two_digits(abs(value))
    return int(math.copysign(int(_from_digits(mantissa, exponent)), value))


def int_grid(low: int = -LARGEST, high: int = LARGEST) -> list[int]:
    """Every grid integer in ``[low, high]``, ascending."""
    larger = {int(_from_digits(mantissa, exponent)) for exponent in range(3, 6) for mantissa in range(10, 100)}
    larger = {value for value in larger if value > INT_EXACT}
    grid = sorted({*range(-INT_EXACT, INT_EXACT + 1), *larger, *(-value for value in larger)})
    return [value for value in grid if max(low, -LARGEST) <= value <= min(high, LARGEST)]


def float_token(value: float) -> str:
    """The token of a grid float: ``f:0``, ``f:0.25``, ``f:-12``, ``f:1.5e+03``."""
    return f"f:{value:.2g}" if value != 0 else "f:0"


def int_token(value: int) -> str:
    return f"i:{value}"
