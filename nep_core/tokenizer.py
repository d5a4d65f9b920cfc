"""Tokenizers for symbolic domains: a WordLevel ``PreTrainedTokenizerFast`` over a fixed vocabulary."""

from __future__ import annotations

from typing import Iterable

from nep_core.action_space import BOS, EOS, PAD, SEP, SPECIAL_TOKENS, UNK


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
