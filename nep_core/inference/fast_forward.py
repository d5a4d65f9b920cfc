"""A Llama forward pass in plain torch calls, for the decoder's small batches on a CPU.

A `transformers` forward runs dozens of Python modules, hooks and checks per layer; for NEP's
models (a few layers, a few hundred hidden units) that overhead, not the arithmetic, is most of a
decode step. ``FastForward`` computes the same thing from the same weights with a handful of tensor
calls per layer: RMS norm, the q/k/v projections (as one), rotary embedding (queries and keys at
once), attention over the cache (grouped-query, causal), the output projection and the SiLU-gated MLP
(gate and up as one), then the last position's logits, for the whole vocabulary or only the token ids
asked for (the decoder asks for those its grammar allows). It reads and extends the model's own ``DynamicCache`` (``DynamicLayer.update``), so the
decoder's prefix reuse, forks, crops and beam re-selection work unchanged; on a ``SharedPrefixCache`` (the
search's rows over one prompt) it attends over the prompt's copy and each row's own tokens. It falls back to
nothing: ``FastForward.supports(model)`` says whether a model is one it computes exactly (a
``LlamaForCausalLM`` with default rotary embedding and no biases); otherwise the decoder calls the
model itself. tests/test_fast_forward.py checks the logits and the cache against the model's own.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F

from nep_core.inference.beam_cache import SharedPrefixCache

if TYPE_CHECKING:
    from transformers import DynamicCache


OUTPUT_ROWS_BUDGET = 4.0
"""The output layer's gathered rows ``FastForward`` keeps (for the most recently used column sets), in
bytes at most this many times the output layer's own: kept by count instead, 256 sets of blender's held
150 MB for a 13 MB model; four times its output layer is 23 MB."""


def _rope_theta(config) -> float | None:
    parameters = getattr(config, "rope_parameters", None) or {}
    if parameters.get("rope_type", "default") != "default":
        return None
    theta = parameters.get("rope_theta", getattr(config, "rope_theta", None))
    return float(theta) if theta is not None else None


def _bytes(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _transposed(*weights: torch.Tensor) -> torch.Tensor:
    """The (out, in) weights stacked along out, as one contiguous (in, out) matrix."""
    return torch.cat(weights).t().contiguous().detach()


class FastForward:
    """``FastForward(model)(input_ids, cache)``: the last position's logits, float32, shape (batch, vocab);
    with ``columns`` (token ids, or several tensors of them, whose logits are concatenated: a grammar
    ``Columns``'s parts), only those logits, shape (batch, number of ids); with ``last=n``, the last ``n``
    positions' logits, shape (batch, n, vocab or number of ids)."""

    def __init__(self, model, share_weights: bool = False):
        if not self.supports(model):
            raise ValueError(f"FastForward does not compute {type(model).__name__} models of this configuration")
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = config.num_key_value_heads or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.eps = config.rms_norm_eps
        self.embed = model.get_input_embeddings().weight
        self.lm_head = model.get_output_embeddings().weight
        inner = model.model
        self.final_norm = inner.norm.weight
        self.float32 = self.embed.dtype == torch.float32
        # The parameters themselves: a model being trained (RL) is read as it is now. The fused
        # projections below are copies, rebuilt whenever a parameter changed (its in-place version).
        self.sources = [
            (
                layer.input_layernorm.weight,
                layer.self_attn.q_proj.weight,
                layer.self_attn.k_proj.weight,
                layer.self_attn.v_proj.weight,
                layer.self_attn.o_proj.weight,
                layer.post_attention_layernorm.weight,
                layer.mlp.gate_proj.weight,
                layer.mlp.up_proj.weight,
                layer.mlp.down_proj.weight,
            )
            for layer in inner.layers
        ]
        self._versions: tuple[int, ...] | None = None
        self._output_cache: OrderedDict[int, tuple[torch.Tensor, int, torch.Tensor]] = OrderedDict()
        self._output_bytes = 0
        self.layers: list[tuple[torch.Tensor, ...]] = []
        theta = _rope_theta(config)
        self.inverse_frequencies = 1.0 / (theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim))
        self._rotary_tables(config.max_position_embeddings)
        if share_weights:
            self._share_weights()

    def _share_weights(self) -> None:
        """Make the model's projection weights (out, in) views of the fused (in, out) copies, so that the
        process holds the layers' weights once: half the memory, and the model's own forward (``generate``)
        reads the same bytes as this one. Only for a model that is never trained or saved afterwards."""
        with torch.no_grad():
            for sources, (_, qkv, out, _, gate_up, down) in zip(self.sources, self._fused_layers()):
                _, query, key, value, out_weight, _, gate, up, down_weight = sources
                for weight, view in zip((query, key, value), qkv.split([query.shape[0], key.shape[0], value.shape[0]], dim=1)):
                    weight.data = view.t()
                for weight, view in zip((gate, up), gate_up.split([gate.shape[0], up.shape[0]], dim=1)):
                    weight.data = view.t()
                out_weight.data, down_weight.data = out.t(), down.t()
        self._versions = tuple(weight._version for weights in self.sources for weight in weights)

    def _rotary_tables(self, positions: int) -> None:
        """cos and sin per position; sin signed so that rotating is ``x * cos + swap_halves(x) * sin``."""
        angles = torch.outer(torch.arange(positions, dtype=torch.float32), self.inverse_frequencies)
        device, dtype = self.embed.device, self.embed.dtype
        self.cos = torch.cat([angles, angles], dim=-1).cos().to(device=device, dtype=dtype)
        self.sin = torch.cat([-angles.sin(), angles.sin()], dim=-1).to(device=device, dtype=dtype)

    def _fused_layers(self) -> list[tuple[torch.Tensor, ...]]:
        """Per layer: norm, q/k/v as one projection, output, norm, gate/up as one projection, down; each
        projection transposed, (in, out) and contiguous: ``x @ w`` on that layout runs 1.4 to 1.9× faster
        on a CPU than ``F.linear`` on (out, in) for the few rows a decoding step has."""
        versions = tuple(weight._version for weights in self.sources for weight in weights)
        if versions != self._versions:
            with torch.no_grad():
                self.layers = [
                    (norm_in, _transposed(q, k, v), _transposed(out), norm_post, _transposed(gate, up), _transposed(down))
                    for norm_in, q, k, v, out, norm_post, gate, up, down in self.sources
                ]
            self._versions = versions
        return self.layers

    @staticmethod
    def supports(model) -> bool:
        """True for a Llama causal LM this class computes exactly as `transformers` does."""
        config = getattr(model, "config", None)
        if config is None or getattr(config, "model_type", "") != "llama":
            return False
        if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
            return False
        if getattr(config, "hidden_act", "silu") != "silu" or _rope_theta(config) is None:
            return False
        if getattr(config, "pretraining_tp", 1) not in (1, None):
            return False
        return getattr(model, "training", False) is False

    def _norm(self, hidden: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Llama's RMS norm, computed in float32 like `transformers`."""
        if self.float32:
            return F.rms_norm(hidden, weight.shape, weight, self.eps)
        return weight * F.rms_norm(hidden.float(), weight.shape, eps=self.eps).to(hidden.dtype)

    def __call__(
        self,
        input_ids: torch.Tensor,
        cache: DynamicCache | SharedPrefixCache,
        columns: torch.Tensor | Sequence[torch.Tensor] | None = None,
        last: int = 1,
    ) -> torch.Tensor:
        batch, length = input_ids.shape
        past = cache.get_seq_length()
        if past + length > self.cos.shape[0]:
            self._rotary_tables(2 * (past + length))
        cos = self.cos[past : past + length][None, :, None]
        sin = self.sin[past : past + length][None, :, None]
        shared = isinstance(cache, SharedPrefixCache)
        mask = None
        if length > 1 and past and not shared:
            rows = torch.arange(past, past + length, device=input_ids.device)[:, None]
            mask = torch.arange(past + length, device=input_ids.device)[None, :] <= rows
        heads, kv_heads, half = self.heads, self.kv_heads, self.head_dim // 2
        rotated_heads = heads + kv_heads
        hidden = F.embedding(input_ids, self.embed)
        for index, (norm_in, qkv_proj, out, norm_post, gate_up, down) in enumerate(self._fused_layers()):
            qkv = torch.matmul(self._norm(hidden, norm_in), qkv_proj).view(batch, length, rotated_heads + kv_heads, self.head_dim)
            query_key = qkv[:, :, :rotated_heads]
            swapped = torch.cat((query_key[..., half:], query_key[..., :half]), dim=-1)
            query_key = torch.addcmul(query_key * cos, swapped, sin).transpose(1, 2)
            if shared:
                attended = cache.attend(index, query_key[:, :heads], query_key[:, heads:], qkv[:, :, rotated_heads:].transpose(1, 2))
            else:
                keys, values = cache.layers[index].update(query_key[:, heads:], qkv[:, :, rotated_heads:].transpose(1, 2))
                attended = F.scaled_dot_product_attention(
                    query_key[:, :heads],
                    keys,
                    values,
                    attn_mask=mask,
                    is_causal=mask is None and length > 1,
                    enable_gqa=kv_heads != heads,
                )
            hidden = hidden + torch.matmul(attended.transpose(1, 2).reshape(batch, length, heads * self.head_dim), out)
            gate, up = torch.matmul(self._norm(hidden, norm_post), gate_up).chunk(2, dim=-1)
            hidden = hidden + torch.matmul(F.silu(gate) * up, down)
        final = self._norm(hidden[:, -1, :] if last == 1 else hidden[:, -last:, :], self.final_norm)
        # The output layer reads a (vocab x hidden) matrix, often the largest of the model: a few hundred
        # allowed rows cost a fraction of the whole.
        if columns is None:
            return F.linear(final, self.lm_head).float()
        parts = [F.linear(final, self._output_rows(part)) for part in ((columns,) if isinstance(columns, torch.Tensor) else columns)]
        return (parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)).float()

    def _output_rows(self, columns: torch.Tensor) -> torch.Tensor:
        """The output layer's rows for ``columns`` (len(columns), hidden), kept for the most recently used
        ``columns`` tensors (a grammar step's ids come back request after request) until the weights change
        in place. Kept as gathered, not transposed: transposing a new set costs three times what gathering
        it does, more than the transposed layout saves on reuse."""
        version = self.lm_head._version
        entry = self._output_cache.get(id(columns))
        if entry is not None and entry[0] is columns and entry[1] == version:
            self._output_cache.move_to_end(id(columns))
            return entry[2]
        rows = self.lm_head.index_select(0, columns)
        if entry is not None:
            self._output_bytes -= _bytes(self._output_cache.pop(id(columns))[2])
        self._output_cache[id(columns)] = (columns, version, rows)
        self._output_bytes += _bytes(rows)
        budget = OUTPUT_ROWS_BUDGET * _bytes(self.lm_head)
        while self._output_bytes > budget and len(self._output_cache) > 1:
            self._output_bytes -= _bytes(self._output_cache.popitem(last=False)[1][2])
        return rows
