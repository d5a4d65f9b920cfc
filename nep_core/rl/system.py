"""The RL system: group-relative policy optimization in the same Lightning system as supervised training.

``RLSystem`` extends ``NextEditSystem`` (same optimizer, schedule, checkpointing and resume); only
the training and validation steps differ. A training step:

1. draws ``num_generations`` completions per prompt with ``ConstrainedSampler`` (the serving
   predictor's model, featurizer and grammar masks), scores them with ``VerifierRewards``;
2. with dynamic sampling, drops groups whose rewards are all equal and refills the batch with more
   prompts (at most ``max_resample_rounds`` times), so the batch keeps its size;
3. recomputes the completions' log-probabilities with gradients under the same grammar masks and
   temperature, and minimizes ``policy_loss`` (docs/rl.md).

With ``rollouts="beam"`` a group is instead NO_EDIT and the top-``num_generations`` edits of the serving
predictor's beam search, and the loss is ``minimum_risk_loss`` over them (minimum risk training).

Validation decodes held-out examples with the serving predictor (beam search) and logs the mean
reward, exact match and NO_EDIT precision/recall.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from nep_core.actions import NO_EDIT
from nep_core.domain import Domain
from nep_core.examples import Example
from nep_core.errors import NepError, PluginFault, WeightsNotFinite
from nep_core.inference.baselines import canonical_action
from nep_core.inference.decoder import ModelPredictor
from nep_core.inference.sampling import Completion, ConstrainedSampler
from nep_core.rl.config import PolicySettings
from nep_core.rl.objective import (
    RiskLoss, divergence_advantages, group_advantages, minimum_risk_loss, overlong_penalty, policy_loss, shared_prefix_length,
    truncated_importance_weights, weighted_advantages, zero_signal_groups,
)
from nep_core.rl.rewards import VerifierRewards
from nep_core.training.system import NextEditSystem


def disable_dropout(model: nn.Module) -> None:
    """Sampling and the loss must see the same model, so RL runs without dropout (as TRL does by default)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "attention_dropout", None), float):
            module.attention_dropout = 0.0


@dataclass
class RolloutBatch:
    """The groups kept for one optimization step, flattened to completions."""

    prompts: list[list[int]]
    completions: list[Completion]
    advantages: torch.Tensor
    mask: torch.Tensor
    rollout_logps: torch.Tensor
    old_logps: torch.Tensor | None
    ref_logps: torch.Tensor | None
    active_tokens: float
    stats: dict[str, float]
    references: list[tuple[list[int], Completion]] = field(default_factory=list)
    """The user's real next action for each of the batch's prompts, for the supervised term."""


@dataclass
class CandidateBatch:
    """The candidate sets kept for one minimum-risk step: ``completions`` flattened group by group,
    ``rewards`` and ``present`` (groups, K) padded to the largest set."""

    prompts: list[list[int]]
    completions: list[Completion]
    rewards: torch.Tensor
    present: torch.Tensor
    stats: dict[str, float]
    references: list[tuple[list[int], Completion]] = field(default_factory=list)


def weights_are_finite(model: nn.Module) -> bool:
    """Whether every parameter of ``model`` is finite (one device sync)."""
    checks = [torch.isfinite(parameter).all() for parameter in model.parameters()]
    return bool(torch.stack(checks).all()) if checks else True


class RLSystem(NextEditSystem):
    """``NextEditSystem`` whose training step is a GRPO step over verifier rewards."""

    def __init__(
        self,
        model: nn.Module,
        learning_rate: float,
        max_steps: int,
        warmup_steps: int,
        domain: Domain,
        predictor_factory: Callable[[nn.Module], ModelPredictor],
        policy: PolicySettings,
        max_completion_length: int,
        refill: Sequence[Example],
        seed: int = 0,
        reference: nn.Module | None = None,
        weight_decay: float = 0.0,
    ):
        super().__init__(model, learning_rate, max_steps, warmup_steps, weight_decay=weight_decay, min_lr_ratio=1.0)
        disable_dropout(model)
        self.domain = domain
        self.predictor_factory = predictor_factory
        self.predictor: ModelPredictor | None = None
        self.sampler: ConstrainedSampler | None = None
        self.policy = policy
        self.max_completion_length = max_completion_length
        self.rewards = VerifierRewards(domain, policy.rewards)
        self.reference = reference
        self._refill = self._cycle(list(refill), seed)
        self._refilled = 0
        self._generator = torch.Generator().manual_seed(seed)
        self._batch: RolloutBatch | CandidateBatch | None = None
        self._val: list[torch.Tensor] = []
        self.val_examples_counted = 0
        """Held-out examples the last validation decoded, over all processes."""
        self.start_metrics: dict[str, float | None] | None = None
        self.start_examples = 0
        """Held-out examples the start's validation decoded (a resume may validate on another number)."""
        """The validation metrics of the model the run started from (step 0); None when not measured."""
        self.kl_last: float | None = None
        self._kl_sum, self._kl_steps = 0.0, 0
        self.earlier_wall_seconds = 0.0
        """Wall time of the run's earlier segments (before the last resume)."""
        self._segment_started = time.perf_counter()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Besides the training progress: the sampler's random state, the prompts drawn to refill
        batches, the reward report's counts, the wall time, the start's validation and the KL so far, and,
        when the next step reuses the rollouts of this one (``num_iterations`` above 1, saved mid-batch),
        those rollouts, so a resumed run goes on as one run."""
        super().on_save_checkpoint(checkpoint)
        report = self.rewards.report
        own = self._own_state()
        checkpoint["nep_rl"] = {
            **own,
            "ranks": self._every_rank(own),
            "undecodable": report.undecodable,
            "verifier_errors": dict(report.verifier_errors),
            "wall_seconds": self.earlier_wall_seconds + time.perf_counter() - self._segment_started,
            "start_metrics": self.start_metrics,
            "start_examples": self.start_examples,
            "val_examples_counted": self.val_examples_counted,
            "kl": [self.kl_last, self._kl_sum, self._kl_steps],
        }

    def _own_state(self) -> dict[str, Any]:
        """What this process draws from: its sampler's random state, the prompts it refilled batches with,
        and the rollouts the next step reuses (saved mid-batch only)."""
        reused = self._batch is not None and self.global_step % self.policy.num_iterations != 0
        return {"generator": self._generator.get_state(), "refilled": self._refilled, "batch": pack_batch(self._batch) if reused else None}

    def _every_rank(self, own: dict[str, Any]) -> list[dict[str, Any]] | None:
        """Each process's ``_own_state``, by rank, when there are several (only rank 0 writes the checkpoint);
        None with one. Every process saves together (Lightning's ``save_checkpoint`` waits for all of them)."""
        trainer = getattr(self, "_trainer", None)
        if trainer is None or trainer.world_size <= 1 or not torch.distributed.is_available() or not torch.distributed.is_initialized():
            return None
        states: list[Any] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(states, own)
        return states

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        saved = checkpoint.get("nep_rl")
        if saved is None:  # saved before these were kept: the run goes on from fresh counts
            return
        own = saved
        trainer = getattr(self, "_trainer", None)
        ranks = saved.get("ranks")
        if ranks and trainer is not None and len(ranks) == trainer.world_size:  # each process goes on from its own state
            own = ranks[trainer.global_rank]
        self._generator.set_state(own["generator"])
        for _ in range(own["refilled"]):
            self._next_refill()
        if own.get("batch") is not None:
            self._batch = unpack_batch(own["batch"])
        self.rewards.report.undecodable = int(saved["undecodable"])
        self.rewards.report.verifier_errors = dict(saved["verifier_errors"])
        self.earlier_wall_seconds = float(saved["wall_seconds"])
        self.start_metrics = saved.get("start_metrics")
        self.start_examples = int(saved.get("start_examples", 0))
        self.val_examples_counted = int(saved.get("val_examples_counted", 0))
        self.kl_last, self._kl_sum, self._kl_steps = saved.get("kl", [None, 0.0, 0])

    def on_fit_start(self) -> None:
        """The predictor that samples rollouts and decodes validation examples wraps this model, on its device."""
        self.predictor = self.predictor_factory(self.model)
        self.sampler = ConstrainedSampler(self.predictor)

    # -- training ------------------------------------------------------------------------------

    def training_step(self, batch: list[Example], batch_idx: int) -> torch.Tensor:
        loss = self._step_loss(batch)
        finite = bool(torch.isfinite(loss.detach()))
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:  # every rank stops together, or the others would wait in the gradient all-reduce
            finite = trainer.strategy.reduce_boolean_decision(finite, all=True)
        if not finite:
            raise NepError(
                f"step {self.global_step}: the loss is not finite ({float(loss.detach())} in this process), which would make the weights NaN; "
                "stopped before updating them. Lower --lr, or check the verifiers' rewards"
            )
        return loss

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        """The update; then its weights are checked: a finite loss can still take them to NaN or infinity (too high an
        --lr), and the next rollouts would sample from NaN probabilities. Every rank stops together, saving nothing."""
        super().optimizer_step(*args, **kwargs)
        finite = weights_are_finite(self.model)
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:
            finite = trainer.strategy.reduce_boolean_decision(finite, all=True)
        if not finite:
            raise WeightsNotFinite(
                f"step {self.global_step}: the update made the model's weights NaN or infinite, so the run stopped and saved "
                f"nothing of it; start again with a lower --lr (this run: {self.learning_rate:g})")

    def _step_loss(self, batch: list[Example]) -> torch.Tensor:
        policy = self.policy
        if self._batch is None or self.global_step % policy.num_iterations == 0:
            self._batch = self._rollouts(batch)
            self._check_some_rollout_was_judged(self._batch.stats)
        rollouts = self._batch = on_device(self._batch, self.device)
        for name, value in rollouts.stats.items():
            self.log(f"rl/{name}", value, on_step=True, on_epoch=False)
        supervised = self._supervised_loss(rollouts.references) if policy.sft_weight and rollouts.references else None
        if supervised is not None:
            self.log("rl/sft_loss", float(supervised.detach()), on_step=True, on_epoch=False)
        if not rollouts.completions:  # every group had equal rewards, even after refilling
            self.log("rl/skipped", 1.0, on_step=True, on_epoch=False)
            zero = sum(parameter.sum() for parameter in self.model.parameters()) * 0.0
            return zero if supervised is None else zero + policy.sft_weight * supervised
        if isinstance(rollouts, CandidateBatch):
            risk = self._risk_loss(rollouts)
            logged = {"loss": float(risk.loss.detach()), "expected_reward": risk.expected_reward, "top_probability": risk.top_probability}
            for name, value in logged.items():
                self.log(f"rl/{name}", value, on_step=True, on_epoch=False, prog_bar=name == "loss")
            self.train_loss = logged["loss"]
            return risk.loss if supervised is None else risk.loss + policy.sft_weight * supervised
        logps, entropy = self.completion_logps(rollouts.prompts, rollouts.completions, with_entropy=True)
        old = rollouts.old_logps if rollouts.old_logps is not None else logps.detach()
        weights = truncated_importance_weights(old, rollouts.rollout_logps, policy.tis_cap) if policy.tis_cap else None
        result = policy_loss(
            logps, old, rollouts.advantages, rollouts.mask, loss_type=policy.loss_type, epsilon=policy.epsilon,
            epsilon_high=policy.epsilon_high, beta=policy.beta, ref_logps=rollouts.ref_logps, importance_weights=weights,
            max_completion_length=self.max_completion_length, active_tokens=rollouts.active_tokens,
        )
        tokens = rollouts.mask.sum().clamp(min=1.0)
        logged = {
            "loss": float(result.loss.detach()),
            "clip_low": result.clip_low,
            "clip_high": result.clip_high,
            "entropy": float((entropy * rollouts.mask).sum() / tokens),
            "ratio_mean": result.ratio_mean,
            "ratio_max": result.ratio_max,
        }
        if weights is not None:
            kept = weights[rollouts.mask > 0]
            logged.update(is_weight_mean=float(kept.mean()), is_weight_min=float(kept.min()), is_weight_max=float(kept.max()))
        if result.kl is not None:
            logged["kl"] = result.kl
            self.kl_last = result.kl
            self._kl_sum += result.kl
            self._kl_steps += 1
        for name, value in logged.items():
            self.log(f"rl/{name}", value, on_step=True, on_epoch=False, prog_bar=name in ("loss", "kl"))
        self.train_loss = logged["loss"]
        return result.loss if supervised is None else result.loss + policy.sft_weight * supervised

    def _check_some_rollout_was_judged(self, stats: dict[str, float]) -> None:
        """A step whose every edit rollout failed in a verifier has no reward to learn from: the verifier
        is broken, and training on its zeros would teach silence. Stop and say which verifier, and why."""
        broken = stats.get("edit_invalid_share", 0.0) >= 1.0  # NO_EDIT asks no verifier
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:  # every rank stops together, or the others would wait in the gradient all-reduce
            broken = trainer.strategy.reduce_boolean_decision(broken, all=False)
        if not broken:
            return
        errors = self.rewards.report.verifier_errors
        message, count = max(errors.items(), key=lambda item: item[1]) if errors else ("no reason given", 0)
        raise PluginFault(  # a plugin's code failing: status 1
            f"step {self.global_step}: every edit sampled failed in a verifier, so there is no reward to learn from "
            f"(most often, {count} times: {message}); fix the verifier, or leave it out of the domain"
        )

    def _risk_loss(self, batch: CandidateBatch) -> RiskLoss:
        """Minimum risk training's loss over the batch's candidate sets, with each candidate's sequence
        log-probability recomputed with gradients."""
        token_logps = self.completion_logps(batch.prompts, batch.completions)[0]
        flat = token_logps.sum(dim=1)  # 0 past each completion's end
        present = batch.present.to(flat.device)
        sequence_logps = torch.zeros(present.shape, device=flat.device, dtype=flat.dtype).masked_scatter(present, flat)
        return minimum_risk_loss(sequence_logps, batch.rewards.to(flat.device), present, self.policy.risk_sharpness)

    def _supervised_loss(self, references: Sequence[tuple[list[int], Completion]]) -> torch.Tensor:
        """Mean negative log-likelihood per token of the users' real next actions, under the same
        grammar-masked distribution the sampler draws from."""
        logps = self.completion_logps([prompt for prompt, _ in references], [completion for _, completion in references])[0]
        tokens = sum(len(completion.token_ids) for _, completion in references)  # logps are 0 past each end
        return -logps.sum() / max(tokens, 1)

    def batch_tokens(self, batch: list[Example]) -> torch.Tensor:
        rollouts = self._batch
        count = 0 if rollouts is None else sum(len(p) + len(c.token_ids) for p, c in zip(rollouts.prompts, rollouts.completions))
        return torch.tensor(count, device=self.device)

    def completion_logps(
        self, prompts: Sequence[list[int]], completions: Sequence[Completion], model: nn.Module | None = None, with_entropy: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(completions, T) log-probabilities of each completion token under the grammar-masked,
        tempered distribution the sampler drew it from (0 past a completion's end), and the
        distributions' entropies when asked."""
        model = model or self.model
        device = next(model.parameters()).device
        sequences = [prompt + completion.token_ids for prompt, completion in zip(prompts, completions)]
        width = max(len(sequence) for sequence in sequences)
        input_ids = torch.zeros(len(sequences), width, dtype=torch.long, device=device)
        attention = torch.zeros_like(input_ids)
        rows, columns, steps = [], [], []
        for row, (prompt, completion) in enumerate(zip(prompts, completions)):
            input_ids[row, : len(sequences[row])] = torch.tensor(sequences[row], device=device)
            attention[row, : len(sequences[row])] = 1
            for step in range(len(completion.token_ids)):
                rows.append(row)
                columns.append(len(prompt) - 1 + step)
                steps.append(step)
        hidden = model.base_model(input_ids=input_ids, attention_mask=attention).last_hidden_state
        logits = model.get_output_embeddings()(hidden[rows, columns]).float() / self.policy.temperature
        bias = torch.stack([bias for completion in completions for bias in completion.biases]).to(device)
        log_probs = torch.log_softmax(logits + bias, dim=-1)
        targets = torch.tensor([token for completion in completions for token in completion.token_ids], device=device)
        picked = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
        length = max(len(completion.token_ids) for completion in completions)
        out = torch.zeros(len(completions), length, device=device)
        out = out.index_put((torch.tensor(rows, device=device), torch.tensor(steps, device=device)), picked)
        entropy = None
        if with_entropy:
            probs = log_probs.exp()
            per_row = -(probs * torch.where(probs > 0, log_probs, torch.zeros_like(log_probs))).sum(dim=-1)
            entropy = torch.zeros(len(completions), length, device=device)
            entropy = entropy.index_put((torch.tensor(rows, device=device), torch.tensor(steps, device=device)), per_row.detach())
        return out, entropy

    def _rollouts(self, batch: list[Example]) -> RolloutBatch | CandidateBatch:
        policy = self.policy
        if policy.rollouts == "beam":
            return self._candidates(batch)
        group = policy.num_generations
        served = policy.baseline == "served"
        divergence = policy.negative_credit == "divergence"
        stats: dict[str, float] = {}
        references: list[tuple[list[int], Completion]] = []

        def draw(pending: list[Example], first: bool) -> list[tuple[tuple, bool]]:
            sampled = []
            for example in pending:
                prompt, completions = self.sampler.sample(
                    example.context, group, policy.temperature, self.max_completion_length, self._generator
                )
                reference = self._reference(example) if policy.guidance or divergence or (policy.sft_weight and first) else None
                if policy.guidance:
                    completions.append(self._guide(example, prompt, reference))
                if policy.sft_weight and first and reference is not None:
                    references.append((prompt, reference))
                sampled.append((example, prompt, completions, None if reference is None else reference.token_ids))
            items = [(example.context, completion.action, example.target) for example, _, completions, _ in sampled for completion in completions]
            if served:  # the decision the predictor serves now, scored like a sample: the baseline
                items += [(example.context, self.predictor.predict(example.context, k=1).best, example.target) for example, _, _, _ in sampled]
            parts = self.rewards.score(items)
            width = group + int(policy.guidance)
            totals = torch.tensor([part.total for part in parts])
            rewards = totals[: len(sampled) * width].view(len(sampled), width)
            baselines = totals[len(sampled) * width:]  # empty unless served
            if policy.overlong_buffer:
                lengths = torch.tensor([len(completion.token_ids) for _, _, completions, _ in sampled for completion in completions])
                rewards = rewards + overlong_penalty(lengths, self.max_completion_length, policy.overlong_buffer, policy.overlong_penalty).view_as(rewards)
            zero = zero_signal_groups(torch.cat([rewards, baselines.unsqueeze(1)], dim=1) if served else rewards)
            if first:
                own = [index for index in range(len(sampled) * width) if index % width < group]  # the samples only
                stats.update(self._rollout_stats(
                    [parts[index] for index in own],
                    [completion for _, _, completions, _ in sampled for completion in completions[:group]],
                    rewards[:, :group],
                    judged=self.rewards.weights.needs_verifiers,
                ))
                stats["zero_signal_fraction"] = float(zero.float().mean())
                if served:
                    stats["served_reward"] = float(baselines.mean())
            return [
                ((prompt, completions, rewards[index], baselines[index] if served else None, reference_ids), not bool(zero[index]))
                for index, (_, prompt, completions, reference_ids) in enumerate(sampled)
            ]

        kept, rounds = self._dynamic_groups(batch, draw)
        stats["resample_rounds"] = float(rounds)
        stats["groups"] = float(len(kept))
        if not kept:
            empty = torch.zeros(0)
            return RolloutBatch([], [], empty, empty, empty, None, None, 0.0, stats, references)
        reward_matrix = torch.stack([rewards for _, _, rewards, _, _ in kept])
        baseline = torch.stack([baseline for _, _, _, baseline, _ in kept]) if served else None
        advantages = weighted_advantages(group_advantages(reward_matrix, policy.scale_rewards, baseline), policy.negative_weight).flatten()
        prompts = [prompt for prompt, completions, _, _, _ in kept for _ in completions]
        completions = [completion for _, completions, _, _, _ in kept for completion in completions]
        length = max(len(completion.token_ids) for completion in completions)
        if divergence:
            shared = torch.tensor([
                shared_prefix_length(completion.token_ids, reference_ids) for _, group_completions, _, _, reference_ids in kept for completion in group_completions
            ])
            advantages = divergence_advantages(advantages, shared, length)
        mask = torch.zeros(len(completions), length)
        rollout_logps = torch.zeros(len(completions), length)
        for row, completion in enumerate(completions):
            if not (policy.mask_truncated_completions and completion.truncated):
                mask[row, : len(completion.token_ids)] = 1.0
            rollout_logps[row, : len(completion.logps)] = torch.tensor(completion.logps)
        device = self.device
        mask, rollout_logps, advantages = mask.to(device), rollout_logps.to(device), advantages.to(device)
        active = float(mask.sum())
        if self._trainer is not None and self.trainer.world_size > 1:
            active = float(self.trainer.strategy.reduce(torch.tensor(active, device=device), reduce_op="sum")) / self.trainer.world_size
        with torch.no_grad():
            old = self.completion_logps(prompts, completions)[0] if policy.num_iterations > 1 else None
            ref = self.completion_logps(prompts, completions, model=self.reference)[0] if self.reference is not None else None
        return RolloutBatch(prompts, completions, advantages, mask, rollout_logps, old, ref, active, stats, references)

    def _dynamic_groups(self, batch: list[Example], draw: Callable[[list[Example], bool], list[tuple[tuple, bool]]]) -> tuple[list[tuple], int]:
        """Groups for ``batch`` from ``draw(examples, first_round)``, which returns each group with whether
        its rewards differ. With dynamic sampling, groups without signal are dropped and the batch is
        refilled with new prompts, at most ``max_resample_rounds`` times. Returns the kept groups (at
        most one per prompt of ``batch``) and the number of refills."""
        policy = self.policy
        kept: list[tuple] = []
        pending, rounds = list(batch), 0
        while True:
            kept += [group for group, has_signal in draw(pending, rounds == 0) if has_signal or not policy.dynamic_sampling]
            if not policy.dynamic_sampling or len(kept) >= len(batch) or rounds >= policy.max_resample_rounds:
                return kept[: len(batch)], rounds
            rounds += 1
            pending = [self._next_refill() for _ in range(len(batch) - len(kept))]

    def _candidates(self, batch: list[Example]) -> CandidateBatch:
        """Each prompt's candidate set: NO_EDIT and the beam's top-``num_generations`` edits (plus the
        user's action with guidance), scored by the verifiers; sets whose rewards are all equal are
        dropped and the batch refilled, as with sampled groups."""
        policy = self.policy
        references: list[tuple[list[int], Completion]] = []
        stats: dict[str, float] = {}

        def draw(pending: list[Example], first: bool) -> list[tuple[tuple, bool]]:
            sets = []
            for example in pending:
                prediction = self.predictor.predict(example.context, k=policy.num_generations)
                actions = [NO_EDIT] + [suggestion.action for suggestion in prediction.suggestions]
                reference = self._reference(example)
                if policy.guidance and reference is not None and reference.action not in actions:
                    actions.append(reference.action)
                completions = [completion for completion in (self.sampler.forced(example.context, action) for action in actions) if completion is not None]
                prompt = self.predictor.featurizer.prompt_ids(example.context)
                if policy.sft_weight and first and reference is not None:
                    references.append((prompt, reference))
                sets.append((example, prompt, completions, prediction.best))
            parts = self.rewards.score([(example.context, completion.action, example.target) for example, _, completions, _ in sets for completion in completions])
            offset, groups, served = 0, [], []
            for example, prompt, completions, best in sets:
                rewards = [part.total for part in parts[offset: offset + len(completions)]]
                offset += len(completions)
                served.extend(reward for completion, reward in zip(completions, rewards) if completion.action == best)  # the served top-1 is a candidate
                groups.append(((prompt, completions, rewards), not bool(zero_signal_groups(torch.tensor([rewards]))[0])))
            if first:
                stats.update(
                    served_reward=sum(served) / max(len(served), 1),
                    zero_signal_fraction=1.0 - sum(has_signal for _, has_signal in groups) / max(len(groups), 1),
                    candidates=sum(len(completions) for _, _, completions, _ in sets) / max(len(sets), 1),
                    reference_in_beam=sum(
                        any(completion.action == canonical_action(example.target, self.domain.action_space) for completion in completions)
                        for example, _, completions, _ in sets
                    ) / max(len(sets), 1),
                )
            return groups

        kept, rounds = self._dynamic_groups(batch, draw)
        stats.update(resample_rounds=float(rounds), groups=float(len(kept)))
        width = max((len(completions) for _, completions, _ in kept), default=0)
        rewards = torch.zeros(len(kept), width)
        present = torch.zeros(len(kept), width, dtype=torch.bool)
        for row, (_, completions, values) in enumerate(kept):
            rewards[row, : len(values)] = torch.tensor(values)
            present[row, : len(values)] = True
        prompts = [prompt for prompt, completions, _ in kept for _ in completions]
        completions = [completion for _, completions, _ in kept for completion in completions]
        return CandidateBatch(prompts, completions, rewards, present, stats, references)

    def _reference(self, example: Example) -> Completion | None:
        """The user's real next action written as the sampler would write it; None where the grammar cannot."""
        return self.sampler.forced(example.context, canonical_action(example.target, self.domain.action_space))

    def _guide(self, example: Example, prompt: list[int], completion: Completion | None) -> Completion:
        """The user's real next action (``completion``, from ``_reference``) as one more member of the group
        (off-policy guidance, as in LUFFY): its log-probabilities are the policy's own, so its importance
        weight is 1. Where the grammar cannot write it (None), one more sample takes its place."""
        if completion is None:
            return self.sampler.sample(example.context, 1, self.policy.temperature, self.max_completion_length, self._generator)[1][0]
        with torch.no_grad():
            logps = self.completion_logps([prompt], [completion])[0][0]
        completion.logps = [float(value) for value in logps[: len(completion.token_ids)]]
        return completion

    @staticmethod
    def _rollout_stats(parts, completions: Sequence[Completion], rewards: torch.Tensor, judged: bool) -> dict[str, float]:
        """The logged figures of a step's samples; ``judged``: the verifiers were asked (else validity is not logged)."""
        count = max(len(parts), 1)
        edits = [part for part, completion in zip(parts, completions) if completion.action is not None and not completion.action.is_no_edit]
        validity = {"reward_valid": sum(part.valid for part in parts) / count} if judged else {}
        return {
            "reward": float(rewards.mean()),
            "reward_std": float(rewards.std()) if rewards.numel() > 1 else 0.0,
            **validity,
            "reward_match": sum(part.match for part in parts) / count,
            "reward_calibration": sum(part.calibration for part in parts) / count,
            "invalid_share": sum(part.error is not None for part in parts) / count,
            "edit_invalid_share": sum(part.error is not None for part in edits) / len(edits) if edits else 0.0,
            "no_edit_share": sum(completion.action is not None and completion.action.is_no_edit for completion in completions) / count,
            "truncated_share": sum(completion.truncated for completion in completions) / count,
            "completion_length": sum(len(completion.token_ids) for completion in completions) / count,
        }

    def _next_refill(self) -> Example:
        self._refilled += 1
        return next(self._refill)

    @staticmethod
    def _cycle(examples: list[Example], seed: int) -> Iterator[Example]:
        rng = random.Random(f"nep-rl-refill-{seed}")
        while examples:
            order = list(examples)
            rng.shuffle(order)
            yield from order

    # -- validation ----------------------------------------------------------------------------

    @property
    def kl_mean(self) -> float | None:
        """The mean over the run's steps of the KL estimate to the start model (this process's rollouts); None without ``beta``."""
        return self._kl_sum / self._kl_steps if self._kl_steps else None

    def on_train_start(self) -> None:
        """Step 0: the model the run starts from is validated like every later one, so the summary can say
        whether RL helped (``start_metrics``; a resumed run keeps the value its start measured)."""
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.global_step or self.start_metrics is not None or datamodule is None or not datamodule.val_examples:
            return
        counts = torch.zeros(len(VAL_COUNTS), dtype=torch.float64)
        with torch.no_grad(), self.trainer.precision_plugin.val_step_context():  # as Lightning runs every later validation
            for batch in datamodule.val_dataloader():
                self._stop_on_first_interrupt()
                counts += self._served_counts(batch)
        self.start_metrics = self._val_metrics(counts)
        self.start_examples = self.val_examples_counted
        if self.logger is not None and self.trainer.is_global_zero:
            self.logger.log_metrics({VAL_LOGGED[name]: value for name, value in self.start_metrics.items() if value is not None}, step=0)

    def _stop_on_first_interrupt(self) -> None:
        """The first Ctrl-C (SIGTERM to Lightning) stops the step-0 validation at once, before any step is
        trained, instead of after it and one step more. One process only: with several, each would have to
        agree first, as Lightning's own check between steps does."""
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        if self.trainer.world_size == 1 and self.trainer.received_sigterm:
            raise SIGTERMException

    def on_validation_epoch_start(self) -> None:
        self._val = []

    def validation_step(self, batch: list[Example], batch_idx: int) -> None:
        self._val.append(self._served_counts(batch))

    def _served_counts(self, batch: list[Example]) -> torch.Tensor:
        """The sums ``VAL_COUNTS`` over ``batch``, each example decoded by the serving predictor (beam search)."""
        space = self.domain.action_space
        predictions = [self.predictor.predict(example.context, k=1).best for example in batch]  # no prefix kept between requests
        parts = self.rewards.score([(example.context, action, example.target) for example, action in zip(batch, predictions)])
        counts = torch.zeros(len(VAL_COUNTS), dtype=torch.float64)
        for example, action, part in zip(batch, predictions, parts):
            reference = canonical_action(example.target, space)
            predicted, actual = float(action.is_no_edit), float(reference.is_no_edit)
            counts += torch.tensor([1.0, part.total, float(action == reference), predicted * actual, predicted, actual], dtype=torch.float64)
        return counts

    def _val_metrics(self, counts: torch.Tensor) -> dict[str, float | None]:
        """The validation metrics from this process's ``counts``, summed over every process first: each
        validates its own share of the examples. A NO_EDIT precision (recall) with nothing predicted (expected)
        NO_EDIT is None, as ``nep eval`` reports it, not 0."""
        trainer = getattr(self, "_trainer", None)
        datamodule = getattr(trainer, "datamodule", None)
        if trainer is not None and trainer.world_size > 1 and not (datamodule is not None and datamodule.val_shared(trainer.world_size)):
            counts = trainer.strategy.reduce(counts.to(self.device), reduce_op="sum").cpu()
        examples, reward, exact, both, predicted, actual = counts.tolist()
        self.val_examples_counted = int(round(examples))
        return {
            "val_reward": reward / examples if examples else None,
            "val_exact_match": exact / examples if examples else None,
            "val_no_edit_precision": both / predicted if predicted else None,
            "val_no_edit_recall": both / actual if actual else None,
        }

    def on_validation_epoch_end(self) -> None:
        counts = sum(self._val, torch.zeros(len(VAL_COUNTS), dtype=torch.float64))
        self.val_metrics = self._val_metrics(counts)  # every process reaches this, with or without examples: the sum is collective
        if not self.trainer.sanity_checking:
            for name, value in self.val_metrics.items():
                if value is not None:
                    self.log(VAL_LOGGED[name], value, prog_bar=name in ("val_reward", "val_exact_match"))


VAL_COUNTS = ("examples", "reward", "exact", "no_edit_both", "no_edit_predicted", "no_edit_actual")
"""What validation sums per example: an example, its served decision's reward, exact match, and NO_EDIT predicted and expected."""
VAL_LOGGED = {"val_reward": "val/reward", "val_exact_match": "val/exact", "val_no_edit_precision": "val/no_edit_precision",
              "val_no_edit_recall": "val/no_edit_recall"}


def on_device(batch: RolloutBatch | CandidateBatch, device) -> RolloutBatch | CandidateBatch:
    """``batch`` with its token tensors on ``device`` (a batch restored from a checkpoint is on the CPU)."""
    if not isinstance(batch, RolloutBatch) or batch.mask.device == torch.device(device):
        return batch
    move = {name: getattr(batch, name) for name in ("advantages", "mask", "rollout_logps", "old_logps", "ref_logps")}
    return replace(batch, **{name: None if value is None else value.to(device) for name, value in move.items()})


def pack_batch(batch: RolloutBatch | CandidateBatch) -> dict[str, Any]:
    """The rollouts a step reuses, as tensors and plain data (checkpoints are loaded ``weights_only``): each
    completion's tokens, log-probabilities and grammar biases (each distinct bias tensor once), not its action,
    which only the reward used."""
    table: list[torch.Tensor] = []
    seen: dict[int, int] = {}

    def completion(item: Completion) -> dict[str, Any]:
        indexes = []
        for bias in item.biases:
            if id(bias) not in seen:
                seen[id(bias)] = len(table)
                table.append(bias.detach().cpu())
            indexes.append(seen[id(bias)])
        return {"token_ids": list(item.token_ids), "logps": list(item.logps), "biases": indexes, "truncated": item.truncated, "error": item.error}

    tensors = ("rewards", "present") if isinstance(batch, CandidateBatch) else ("advantages", "mask", "rollout_logps", "old_logps", "ref_logps")
    packed = {
        "kind": "candidates" if isinstance(batch, CandidateBatch) else "rollouts",
        "prompts": [list(prompt) for prompt in batch.prompts],
        "completions": [completion(item) for item in batch.completions],
        "references": [[list(prompt), completion(item)] for prompt, item in batch.references],
        "stats": dict(batch.stats),
        "tensors": {name: None if getattr(batch, name) is None else getattr(batch, name).detach().cpu() for name in tensors},
    }
    if isinstance(batch, RolloutBatch):
        packed["active_tokens"] = float(batch.active_tokens)
    packed["biases"] = torch.stack(table) if table else torch.zeros(0)
    return packed


def unpack_batch(packed: dict[str, Any]) -> RolloutBatch | CandidateBatch:
    """``pack_batch``'s inverse (on the CPU; the completions carry no action)."""
    biases = packed["biases"]

    def completion(item: dict[str, Any]) -> Completion:
        return Completion(list(item["token_ids"]), list(item["logps"]), [biases[index] for index in item["biases"]],
                          None, bool(item["truncated"]), item["error"])

    common = dict(
        prompts=[list(prompt) for prompt in packed["prompts"]],
        completions=[completion(item) for item in packed["completions"]],
        stats=dict(packed["stats"]),
        references=[(list(prompt), completion(item)) for prompt, item in packed["references"]],
    )
    if packed["kind"] == "candidates":
        return CandidateBatch(rewards=packed["tensors"]["rewards"], present=packed["tensors"]["present"], **common)
    return RolloutBatch(active_tokens=packed["active_tokens"], **packed["tensors"], **common)
