"""nep_core.source_options: `ARGUMENT?key=value&...` collector arguments, typed like their defaults."""

from __future__ import annotations

import pytest

from nep_core.errors import NepError
from nep_core.source_options import parse_argument

DEFAULTS = {"count": 3, "on": False, "share": 0.5, "names": ("a",), "mode": "time"}


def test_options_are_typed_like_their_defaults() -> None:
    head, options = parse_argument("demo", " ~/x ?count=7&on&share=0.25&names=b, c,&mode=repo", DEFAULTS)
    assert head == "~/x"
    assert options == {"count": 7, "on": True, "share": 0.25, "names": ("b", "c"), "mode": "repo"}
    assert parse_argument("demo", "12", DEFAULTS) == ("12", DEFAULTS)
    assert parse_argument("demo", "?on=off", {**DEFAULTS, "on": True})[1]["on"] is False


@pytest.mark.parametrize(
    "argument, message",
    [
        ("x?colour=red", r"demo: unknown option 'colour' \(options: count, mode, names, on, share\)"),
        ("x?count=-1", "demo: option 'count' is a whole number >= 0, not '-1'"),
        ("x?on=maybe", r"demo: option 'on' is on or off \(1/0\), not 'maybe'"),
        ("x?share=-0.5", "demo: option 'share' is a number >= 0, not '-0.5'"),
        ("x?share=nan", "demo: option 'share' is a number >= 0, not 'nan'"),
        ("x?share=lots", "demo: option 'share' is a number >= 0, not 'lots'"),
    ],
)
def test_a_bad_option_is_an_error_naming_the_collector_and_the_option(argument: str, message: str) -> None:
    with pytest.raises(NepError, match=message):
        parse_argument("demo", argument, DEFAULTS)


def test_negative_numbers_and_stripped_dots_when_asked() -> None:
    _, options = parse_argument("demo", "?share=-0.5&names=.py,.pyi,txt", DEFAULTS, negative_numbers=True, strip_dots=True)
    assert options["share"] == -0.5 and options["names"] == ("py", "pyi", "txt")
    assert parse_argument("demo", "?names=.py", DEFAULTS)[1]["names"] == (".py",)
    with pytest.raises(NepError, match="demo: option 'share' is a number, not 'lots'"):
        parse_argument("demo", "?share=lots", DEFAULTS, negative_numbers=True)
