"""``BoundedMemo`` and ``lru_cache_for_short_text``: values a hot path computes again and again, remembered up to a limit."""

from __future__ import annotations

import functools
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


def lru_cache_for_short_text(maxsize: int, max_chars: int) -> Callable[[Callable], Callable]:
    """``functools.lru_cache(maxsize)`` for calls whose string arguments hold at most ``max_chars`` characters in all;
    a longer call is computed each time. An entry count alone bounds no memory when the keys are source text (one
    line of minified code can be megabytes): this keeps the cache under ``maxsize * max_chars`` characters."""

    def decorate(function: Callable) -> Callable:
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def call(*args, **kwargs):
            if sum(len(arg) for arg in (*args, *kwargs.values()) if isinstance(arg, str)) > max_chars:
                return function(*args, **kwargs)
            return cached(*args, **kwargs)

        call.cache_info = cached.cache_info  # type: ignore[attr-defined]
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return call

    return decorate
