"""``BoundedMemo``: values a hot path computes again and again, remembered up to a limit."""

from __future__ import annotations

from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")
_MISSING = object()


class BoundedMemo(Generic[V]):
    """``memo.get(key, make)``: the value remembered for ``key``, else ``make()``, remembered (None too).

    At ``limit`` entries the table starts again empty: cheaper than keeping entries in order, and what a
    hot path keeps asking for is back after one miss.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._values: dict[Hashable, V] = {}

    def get(self, key: Hashable, make: Callable[[], V]) -> V:
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            value = make()
            if len(self._values) >= self.limit:
                self._values.clear()
            self._values[key] = value
        return value  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._values)
