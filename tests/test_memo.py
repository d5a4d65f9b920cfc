"""BoundedMemo remembers values (None included) and starts again empty at its limit."""

from nep_core.memo import BoundedMemo


def test_values_none_included_are_made_once_and_the_table_empties_at_its_limit():
    made = []
    memo = BoundedMemo(3)

    def make(key):
        made.append(key)
        return None if key == "none" else key.upper()

    assert [memo.get(key, lambda key=key: make(key)) for key in ("a", "none", "a", "none")] == ["A", None, "A", None]
    assert made == ["a", "none"]
    memo.get("b", lambda: make("b"))
    assert len(memo) == 3
    assert memo.get("c", lambda: make("c")) == "C" and len(memo) == 1  # full: emptied, then "c"
    memo.get("a", lambda: make("a"))
    assert made == ["a", "none", "b", "c", "a"]


def test_short_text_calls_are_cached_and_long_ones_computed_each_time():
    from nep_core.memo import lru_cache_for_short_text

    calls = []

    @lru_cache_for_short_text(maxsize=8, max_chars=10)
    def shout(text: str, times: int) -> str:
        calls.append(text)
        return text.upper() * times

    assert [shout("abc", 2), shout("abc", 2)] == ["ABCABC"] * 2 and calls == ["abc"]
    long = "x" * 11
    assert [shout(long, 1), shout(long, 1)] == [long.upper()] * 2 and calls == ["abc", long, long]
    assert shout.cache_info().currsize == 1  # a long text is never kept: the cache holds at most 8 * 10 characters
    assert shout(long, times=2) == long.upper() * 2 and shout.cache_info().currsize == 1  # keywords count too
    assert shout("abc", times=1) == "ABC" and shout.cache_info().currsize == 2
