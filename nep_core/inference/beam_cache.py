"""A KV cache for many continuations of one prompt: the prompt's keys and values once, per row only its own tokens.

A beam search (or a group of sampled completions) continues one prompt in several rows. Re-batching a
``DynamicCache`` for them copies the prompt's keys and values into every row, and every decoding step
then copies all of them again (``DynamicLayer.update`` concatenates); with a prompt of a few hundred
tokens that copying, not the arithmetic, is most of a step on a CPU. ``SharedPrefixCache`` keeps the
prompt's tensors as they are (batch 1, never written) and per row only the tokens decoded after it.
``FastForward`` attends over both at once (``attend``): one softmax over the prompt's and the row's
positions, the same maths as attention over the concatenated cache. Only ``FastForward`` reads it; a
model run through its own forward keeps the ``DynamicCache``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from transformers import DynamicCache


COPIED_PREFIX_TOKENS = 192
"""Up to this prompt length a decoding step (one new token per row) attends over a per-row copy of the
prompt in one ``scaled_dot_product_attention`` call: on a CPU that is faster than the split maths below
it for prompts of a few dozen tokens (25 against 47 µs a layer at 40 tokens and 4 rows), and slower for
long ones (88 against 62 µs at 400)."""


class SharedPrefixCache:
    """``rows`` continuations of the prompt held by ``prefix`` (a batch-1 ``DynamicCache``, read only)."""

    def __init__(self, prefix: DynamicCache, rows: int = 1):
        self.prefix = [(layer.keys, layer.values) for layer in prefix.layers]
        self.prefix_length = prefix.get_seq_length()
        self.rows = rows
        self.suffix: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(self.prefix)

    def get_seq_length(self) -> int:
        suffix = self.suffix[0]
        return self.prefix_length + (0 if suffix is None else suffix[0].shape[-2])

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep the rows ``indices`` (repeats allowed), as ``DynamicCache.batch_select_indices``."""
        self.rows = len(indices)
        self.suffix = [None if part is None else (part[0][indices], part[1][indices]) for part in self.suffix]

    def continue_row(self, keys_values: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """One row, continuing the prompt with tokens whose keys and values (per layer) were computed elsewhere."""
        self.rows = 1
        self.suffix = list(keys_values)

    def attend(self, layer: int, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Causal attention of ``queries`` (rows, heads, new, head_dim) over the prompt and the row's tokens,
        after appending ``keys`` and ``values`` (rows, kv_heads, new, head_dim) to the row's tokens.
        Grouped-query: query head ``h`` reads kv head ``h // (heads // kv_heads)``, as `transformers` does."""
        suffix = self.suffix[layer]
        rows, heads, new, head_dim = queries.shape
        prefix_keys, prefix_values = self.prefix[layer]
        if new == 1 and 0 < self.prefix_length <= COPIED_PREFIX_TOKENS and prefix_keys is not None:
            # A short prompt: one copy of it per row and one attention call cost less than the split maths.
            keys = torch.cat([prefix_keys.expand(rows, -1, -1, -1), *([suffix[0]] if suffix is not None else []), keys], dim=-2)
            values = torch.cat([prefix_values.expand(rows, -1, -1, -1), *([suffix[1]] if suffix is not None else []), values], dim=-2)
            self.suffix[layer] = (keys[..., self.prefix_length :, :], values[..., self.prefix_length :, :])
            return F.scaled_dot_product_attention(queries, keys, values, enable_gqa=keys.shape[1] != heads)
        if suffix is not None:
            keys, values = torch.cat([suffix[0], keys], dim=-2), torch.cat([suffix[1], values], dim=-2)
        self.suffix[layer] = (keys, values)
        kv_heads = keys.shape[1]
        grouped = queries.reshape(rows, kv_heads, heads // kv_heads * new, head_dim)  # (row, kv head, group x new)
        scale = 1.0 / math.sqrt(head_dim)
        own = torch.matmul(grouped, keys.transpose(-1, -2)) * scale
        if new > 1:  # a new token sees the row's tokens up to itself
            before = keys.shape[-2] - new
            visible = torch.arange(keys.shape[-2], device=keys.device)[None, :] <= before + torch.arange(new, device=keys.device)[:, None]
            own = own.masked_fill(~visible.repeat(heads // kv_heads, 1), float("-inf"))
        if prefix_keys is None or self.prefix_length == 0:
            return torch.matmul(torch.softmax(own.float(), dim=-1).to(values.dtype), values).reshape(rows, heads, new, head_dim)
        # All rows' queries against the one prompt copy: (kv head, row x group x new, prompt) without expanding it.
        stacked = grouped.transpose(0, 1).reshape(kv_heads, -1, head_dim)
        shared = torch.matmul(stacked, prefix_keys[0].transpose(-1, -2)) * scale
        shared = shared.view(kv_heads, rows, -1, self.prefix_length).transpose(0, 1)
        weights = torch.softmax(torch.cat([shared, own], dim=-1).float(), dim=-1).to(values.dtype)
        from_prefix = torch.matmul(
            weights[..., : self.prefix_length].transpose(0, 1).reshape(kv_heads, -1, self.prefix_length), prefix_values[0]
        ).view(kv_heads, rows, -1, head_dim).transpose(0, 1)
        attended = from_prefix + torch.matmul(weights[..., self.prefix_length :], values)
        return attended.reshape(rows, heads, new, head_dim)
