"""Tokenizers for symbolic domains: a WordLevel ``PreTrainedTokenizerFast`` over a fixed vocabulary."""

from __future__ import annotations

from typing import Iterable

from nep_core.action_space import BOS, EOS, PAD, SEP, SPECIAL_TOKENS, UNK
from nep_core.errors import a_value_of


def build_wordlevel_tokenizer(tokens: Iterable[str]):
    """A tokenizer whose vocabulary is the special tokens followed by ``tokens`` (duplicates dropped)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab: dict[str, int] = {}
    for token in [*SPECIAL_TOKENS, *tokens]:
        vocab.setdefault(token, len(vocab))
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token=UNK,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        sep_token=SEP,
    )


def tokenizer_problem(tokenizer) -> str | None:
    """What makes ``tokenizer`` (a domain's ``tokenizer_factory``'s) unusable for NEP, or None: it must be a
    ``PreTrainedTokenizerFast`` holding NEP's special tokens, with ``<unk>`` as its unknown token."""
    from transformers import PreTrainedTokenizerFast

    if not isinstance(tokenizer, PreTrainedTokenizerFast):
        shown = a_value_of(tokenizer)
        return f"returned {shown}, not a transformers.PreTrainedTokenizerFast"
    vocab = tokenizer.get_vocab()
    missing = [token for token in SPECIAL_TOKENS if token not in vocab]
    if missing:
        return (f"returned a tokenizer without {', '.join(missing)}: NEP's tokenizers hold {' '.join(SPECIAL_TOKENS)} "
                f"(nep_core.tokenizer.build_wordlevel_tokenizer makes one over a list of tokens)")
    if tokenizer.unk_token != UNK:
        return f"returned a tokenizer whose unk_token is {tokenizer.unk_token!r}, not {UNK!r}"
    return None
