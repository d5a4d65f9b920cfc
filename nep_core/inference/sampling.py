"""Grammar-constrained sampling: ``n`` completions of one context, drawn from the model's masked
distribution with the same featurizer, grammar masks and KV cache code as the serving predictor.

Reinforcement fine-tuning draws its rollouts here. Each completion keeps the log-probability the
sampler gave each of its tokens (under the grammar-normalized distribution at the temperature) and
the grammar's mask at each position, so the trainer can recompute the same distribution with
gradients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_core.inference.decoder import ModelPredictor, _torch_threads
from nep_core.session import Context


@dataclass
class Completion:
    """One sampled action: its token ids (ending with EOS unless truncated), each token's sampling
    log-probability, the grammar bias in force at each token, and what it decodes to."""

    token_ids: list[int] = field(default_factory=list)
    logps: list[float] = field(default_factory=list)
    biases: list[torch.Tensor] = field(default_factory=list)
    action: Action | None = None
    truncated: bool = False
    error: str | None = None
    """Why ``action`` is None: truncated at the token limit, a grammar dead end, or refused by the action space."""


class ConstrainedSampler:
    """Draws completions from a ``ModelPredictor``'s model (whatever its weights are at call time)."""

    def __init__(self, predictor: ModelPredictor):
        self.predictor = predictor

    def sample(
        self,
        context: Context,
        n: int,
        temperature: float = 1.0,
        max_tokens: int = 64,
        generator: torch.Generator | None = None,
    ) -> tuple[list[int], list[Completion]]:
        """The prompt's token ids and ``n`` completions sampled independently for ``context``."""
        if n < 1 or temperature <= 0:
            raise ValueError(f"need n >= 1 and temperature > 0 (got n={n}, temperature={temperature})")
        from transformers import DynamicCache

        predictor = self.predictor
        masks, featurizer = predictor.masks, predictor.featurizer
        space = predictor.domain.action_space.for_context(context)
        prompt = featurizer.prompt_ids(context)
        completions = [Completion() for _ in range(n)]
        prefixes: list[tuple[str, ...]] = [()] * n
        live = list(range(n))
        with torch.no_grad(), _torch_threads(predictor.settings.threads):
            cache = DynamicCache(config=predictor.model.config)
            logits = predictor._forward(prompt, cache)
            cache = predictor.rows_cache(cache, n)
            logits = logits.expand(n, -1)
            steps = [masks.step((), space)] * n
            for _ in range(max_tokens):
                bias = torch.stack([step.bias for step in steps])
                scores = torch.log_softmax(logits / temperature + bias, dim=-1)
                probabilities = scores.exp()
                if generator is not None and generator.device != probabilities.device:  # a CPU generator, a GPU model:
                    probabilities = probabilities.cpu()  # drawn on the CPU (CUDA refuses a CPU generator), the same draws
                chosen = torch.multinomial(probabilities, 1, generator=generator).squeeze(1).to(scores.device)
                still: list[int] = []
                next_steps = []
                for index, row in enumerate(live):
                    token_id = int(chosen[index])
                    completion = completions[row]
                    completion.token_ids.append(token_id)
                    completion.logps.append(float(scores[index, token_id]))
                    completion.biases.append(steps[index].bias)
                    if token_id == predictor.eos_id:
                        self._decode(space, prefixes[row], completion)
                        continue
                    prefixes[row] = (*prefixes[row], featurizer.id_to_token[token_id])
                    step = masks.step(prefixes[row], space)
                    if step.is_dead_end:
                        completion.error = "the grammar allows nothing after this prefix"
                        continue
                    still.append(index)
                    next_steps.append(step)
                if not still:
                    break
                keep = torch.tensor(still, device=predictor.device)
                cache.batch_select_indices(keep)
                live = [live[index] for index in still]
                steps = next_steps
                logits = predictor._step(chosen[keep].unsqueeze(1), cache)
            else:
                for row in live:
                    completions[row].truncated = True
                    completions[row].error = f"no end of action within {max_tokens} tokens"
        return prompt, completions

    @staticmethod
    def _decode(space, prefix: tuple[str, ...], completion: Completion) -> None:
        try:
            completion.action = space.decode(prefix)
        except InvalidAction as error:
            completion.error = str(error)

    def forced(self, context: Context, action: Action) -> Completion | None:
        """``action`` written as a completion of ``context`` (tokens and the grammar bias at each), as if
        sampled; None when the grammar cannot write it here. Its ``logps`` are left for the trainer."""
        predictor = self.predictor
        space = predictor.domain.action_space.for_context(context)
        try:
            tokens = tuple(space.encode(action))
        except InvalidAction:
            return None
        completion = Completion(action=action)
        for position in range(len(tokens) + 1):
            step = predictor.masks.step(tokens[:position], space)
            token_id = predictor.eos_id if position == len(tokens) else predictor.featurizer.ids([tokens[position]])[0]
            if not bool(step.bias[token_id] == 0):
                return None
            completion.token_ids.append(token_id)
            completion.biases.append(step.bias)
        return completion
