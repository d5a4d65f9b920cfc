"""The code domain's memos keyed by source text keep short texts only: a line of minified code can be megabytes, and
an entry count alone bounds no memory in a server that runs for days."""

from nep_code.substitution import find_substitution
from nep_code.syntax import _fragment_parses
from nep_code.tokenizer import TextCodec


def test_long_lines_and_windows_are_computed_not_kept():
    codec = TextCodec()
    line, changed = "a = 1; " + "b" * 5000 + "\n", "a = 2; " + "b" * 5000 + "\n"
    substitutions, fragments = find_substitution.cache_info().currsize, _fragment_parses.cache_info().currsize
    assert find_substitution(line, changed, codec) == ("1", "2")
    assert _fragment_parses("x = 1\n" * 4000, "f.py") is True
    assert find_substitution.cache_info().currsize == substitutions and _fragment_parses.cache_info().currsize == fragments
    assert codec.tokens(line) == codec.tokens(line) and len(codec._memo) == 0
    assert find_substitution("a = 1\n", "a = 2\n", codec) == ("1", "2") and len(codec._memo) == 2  # short: kept
