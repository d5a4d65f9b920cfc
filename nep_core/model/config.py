"""Model presets as typed dataclasses. Import-light: no torch here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from nep_core.errors import NepError


@dataclass(frozen=True)
class ModelConfig:
    """A Llama-style decoder. ``tiny`` is for tests, ``small`` trains on 2 CPU cores in minutes, ``base`` wants a GPU."""

    name: str
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    max_positions: int = 1024
    rope_theta: float = 10000.0
    dropout: float = 0.0
    init_std: float = 0.02
    """Std of the initial weights. Narrow models learn much faster from a larger one: tiny and small use
    about 0.8/sqrt(hidden_size) (measured on `tags`), base and large keep the usual 0.02."""

    def as_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig("tiny", hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2, intermediate_size=192, max_positions=512, init_std=0.1),
    "small": ModelConfig("small", hidden_size=192, num_layers=4, num_heads=6, num_kv_heads=2, intermediate_size=576, init_std=0.05),
    "base": ModelConfig("base", hidden_size=512, num_layers=8, num_heads=8, num_kv_heads=4, intermediate_size=1536, max_positions=2048),
    "large": ModelConfig("large", hidden_size=1024, num_layers=16, num_heads=16, num_kv_heads=4, intermediate_size=3072, max_positions=4096),
}


def get_preset(name: str, **overrides) -> ModelConfig:
    if name not in PRESETS:
        raise NepError(f"unknown preset '{name}' (choose from: {', '.join(PRESETS)})")
    return replace(PRESETS[name], **{key: value for key, value in overrides.items() if value is not None})


def build_model(config: ModelConfig, tokenizer):
    """A freshly initialised Llama-architecture causal LM sized for ``tokenizer``.

    Llama rather than Qwen2: ``AutoTokenizer`` forces Qwen2's own BPE tokenizer class on any
    ``qwen2`` checkpoint, which cannot read a WordLevel ``tokenizer.json``.
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    hf_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        intermediate_size=config.intermediate_size,
        max_position_embeddings=config.max_positions,
        rope_theta=config.rope_theta,
        attention_dropout=config.dropout,
        tie_word_embeddings=True,
        initializer_range=config.init_std,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(hf_config)
