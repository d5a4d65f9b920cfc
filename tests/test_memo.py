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
