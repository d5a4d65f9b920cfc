"""The code domain's memos keyed by source text keep short texts only: a line of minified code can be megabytes, and
an entry count alone bounds no memory in a server that runs for days."""

from nep_code.substitution import MAX_SUBSTITUTION_CHARS, find_substitution
from nep_code.syntax import _fragment_parses
from nep_code.tokenizer import TextCodec


def test_long_lines_and_windows_are_computed_not_kept():
    codec = TextCodec()
    line, changed = "a = 1; " + "b" * 5000 + "\n", "a = 2; " + "b" * 5000 + "\n"
    substitutions, fragments = find_substitution.cache_info().currsize, _fragment_parses.cache_info().currsize
    assert find_substitution(line, changed, codec) is None  # too long to search (below)
    assert _fragment_parses("x = 1\n" * 4000, "f.py") is True
    assert find_substitution.cache_info().currsize == substitutions and _fragment_parses.cache_info().currsize == fragments
    assert codec.tokens(line) == codec.tokens(line) and len(codec._memo) == 0
    assert find_substitution("a = 1\n", "a = 2\n", codec) == ("1", "2") and len(codec._memo) == 2  # short: kept


def test_a_long_line_is_never_diffed_for_a_substitution(monkeypatch):
    """One edit to a 200 KB minified line made every later prompt diff its tokens for minutes (uncached, as it is long)."""
    codec = TextCodec()
    tokenized = []
    tokenize = codec._tokenize
    monkeypatch.setattr(codec, "_tokenize", lambda text: tokenized.append(text) or tokenize(text))
    line = ";".join(f"var a{n}=function(b){{return b+{n}}}" for n in range(6000)) + "\n"
    assert find_substitution(line, line.replace("b+7}", "b+8}"), codec) is None
    assert tokenized == []
    short = "x" * (MAX_SUBSTITUTION_CHARS // 2 - 5) + " = 1\n"  # the longest pair searched
    assert find_substitution(short, short.replace("1", "2"), codec) == ("1", "2") and tokenized
