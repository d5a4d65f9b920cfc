"""The code tokenizer: byte-level BPE trained on the sessions' text, and the codec that writes text with it.

``build_code_tokenizer`` trains a byte-level BPE (``tokenizers``) on the training sessions' file texts
and inserted lines, with NEP's and the code domain's structural tokens as special tokens. With
``--base-model PATH`` the base model's own tokenizer is used instead (``nep_core.model.base``), and
``TextCodec`` writes text with whichever tokenizer the model has.
"""

from __future__ import annotations

import functools
import sys
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from nep_core.action_space import BOS, EOS, PAD, SEP, SPECIAL_TOKENS, UNK

if TYPE_CHECKING:
    from nep_core.domain import Domain
    from nep_core.session import Session

VOCAB_SIZE = 4096
"""BPE vocabulary size (special tokens included): modest, so the small preset trains fast on a CPU."""

TOKENS_MEMO_SIZE = 100_000
"""Texts whose tokens a codec remembers (lines recur from one prompt to the next; about 15 MB for 50,000
lines, the token strings interned); cleared when full. Only texts of at most ``TOKENS_MEMO_CHARS`` characters are kept:
a line of minified code can be megabytes."""
TOKENS_MEMO_CHARS = 1024

MAX_TRAINING_CHARS = 8_000_000
"""At most this much text trains the BPE (a few seconds on a CPU core)."""


@functools.lru_cache(maxsize=1)
def byte_alphabet() -> tuple[dict[int, str], dict[str, int]]:
    """GPT-2's byte-to-character table (the base alphabet of byte-level BPE) and its inverse."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    encoder = {byte: chr(char) for byte, char in zip(printable, chars)}
    return encoder, {char: byte for byte, char in encoder.items()}


class TextCodec:
    """Text to token strings of one tokenizer and back, bypassing its added tokens (so text that
    happens to spell ``<edit>`` stays text). Without a tokenizer, each UTF-8 byte is one token."""

    def __init__(self, tokenizer=None):
        self.tokenizer = tokenizer
        self._memo: dict[str, tuple[str, ...]] = {}
        if tokenizer is None:
            encoder, _ = byte_alphabet()
            self.text_tokens = frozenset(encoder.values())
            self.newline_tokens = frozenset({encoder[0x0A]})
            return
        added = set(tokenizer.get_added_vocab())
        vocab = [token for token in tokenizer.get_vocab() if token not in added]
        self.text_tokens = frozenset(vocab)
        self.newline_tokens = frozenset(token for token in vocab if self.text([token]).endswith("\n"))
        self._backend = tokenizer.backend_tokenizer

    @functools.cached_property
    def token_texts(self) -> dict[str, str]:
        """Each text token's own text ("" for a token that is only part of a character)."""
        texts = {token: self.text([token]) for token in self.text_tokens}
        return {token: ("" if "\ufffd" in text else text) for token, text in texts.items()}

    @functools.cached_property
    def tokens_by_text(self) -> dict[str, tuple[str, ...]]:
        """Text tokens grouped by their text (tokens that are only part of a character left out)."""
        grouped: dict[str, list[str]] = {}
        for token, text in self.token_texts.items():
            if text:
                grouped.setdefault(text, []).append(token)
        return {text: tuple(tokens) for text, tokens in grouped.items()}

    @functools.cached_property
    def longest_token_text(self) -> int:
        return max(map(len, self.tokens_by_text), default=1)

    @functools.cached_property
    def single_line_tokens(self) -> frozenset[str]:
        """Text tokens without a newline."""
        return frozenset(token for token, text in self.token_texts.items() if "\n" not in text and "\r" not in text)

    def tokens(self, text: str) -> list[str]:
        if not text:
            return []
        known = self._memo.get(text)
        if known is None:
            if len(text) > TOKENS_MEMO_CHARS:
                return self._tokenize(text)
            if len(self._memo) >= TOKENS_MEMO_SIZE:
                self._memo.clear()
            known = self._memo[text] = tuple(map(sys.intern, self._tokenize(text)))
        return list(known)

    def _tokenize(self, text: str) -> list[str]:
        if self.tokenizer is None:
            encoder, _ = byte_alphabet()
            return [encoder[byte] for byte in text.encode("utf-8", "surrogatepass")]
        backend = self._backend
        if backend.normalizer is not None:
            text = backend.normalizer.normalize_str(text)
        pieces = backend.pre_tokenizer.pre_tokenize_str(text) if backend.pre_tokenizer is not None else [(text, None)]
        return [token.value for piece, _ in pieces for token in backend.model.tokenize(piece)]

    def text(self, tokens: Sequence[str]) -> str:
        if not tokens:
            return ""
        if self.tokenizer is None:
            _, decoder = byte_alphabet()
            return bytes(decoder[char] for token in tokens for char in token).decode("utf-8", "replace")
        return self.tokenizer.convert_tokens_to_string(list(tokens))


def _session_texts(sessions: Sequence[Session]) -> Iterator[str]:
    for session in sessions:
        for event in session.events:
            if event.state is not None:
                files = event.state.get("files") if isinstance(event.state, dict) else None
                for text in (files or {}).values():
                    if isinstance(text, str):
                        yield text
            if event.action is not None and isinstance(event.action.args.get("insert"), str):
                yield event.action.args["insert"]


def _capped(texts: Iterable[str], limit: int) -> Iterator[str]:
    used = 0
    for text in texts:
        if used >= limit:
            return
        text = text[: limit - used]
        used += len(text)
        yield text


def train_bpe(texts: Iterable[str], special_tokens: Sequence[str], vocab_size: int = VOCAB_SIZE):
    """A byte-level BPE ``PreTrainedTokenizerFast`` trained on ``texts``, with ``special_tokens`` first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(dict.fromkeys(special_tokens)),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token=UNK, pad_token=PAD, bos_token=BOS, eos_token=EOS, sep_token=SEP
    )


def build_code_tokenizer(domain: Domain, sessions: Sequence[Session]):
    """The domain's tokenizer factory: BPE on the sessions' text (at most ``MAX_TRAINING_CHARS``)."""
    special = [*SPECIAL_TOKENS, *domain.action_space.vocabulary(), *domain.encoder.vocabulary()]
    texts = list(_capped(_session_texts(sessions), MAX_TRAINING_CHARS)) or ["def f(x):\n    return x\n"]
    return train_bpe(texts, special)
