"""The group-relative policy objective and its tricks, as plain tensor functions (docs/rl.md has the formulas).

Shapes: ``rewards`` is (groups, G); token tensors are (completions, T) with ``mask`` 1 on completion
tokens that count; ``advantages`` is (completions,), or (completions, T) per token. Names and defaults
follow TRL's GRPOTrainer.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
SCALE_REWARDS = ("group", "batch", "none")
BASELINES = ("group", "served")
ROLLOUTS = ("sample", "beam")
NEGATIVE_CREDITS = ("sequence", "divergence")
STD_EPSILON = 1e-4
"""Added to the standard deviation before dividing by it (TRL's value)."""


def group_advantages(rewards: torch.Tensor, scale_rewards: str = "group", baseline: torch.Tensor | None = None) -> torch.Tensor:
    """``A_i = r_i - b``, divided by the group's standard deviation (``group``), the whole batch's
    (``batch``), or not at all (``none``, Dr. GRPO). ``b`` is the group's mean reward, or, when
    ``baseline`` (groups,) is given, that reward (the served decision's, in self-critical training);
    the standard deviations then count it as one more member. Returns the shape of ``rewards``."""
    if scale_rewards not in SCALE_REWARDS:
        raise ValueError(f"scale_rewards must be one of {', '.join(SCALE_REWARDS)}, not {scale_rewards!r}")
    if baseline is None:
        centred, spread = rewards - rewards.mean(dim=1, keepdim=True), rewards
    else:
        centred, spread = rewards - baseline.unsqueeze(1), torch.cat([rewards, baseline.unsqueeze(1)], dim=1)
    if scale_rewards == "group":
        return centred / (spread.std(dim=1, keepdim=True) + STD_EPSILON)
    if scale_rewards == "batch":
        return centred / (spread.std() + STD_EPSILON)
    return centred


def weighted_advantages(advantages: torch.Tensor, negative_weight: float = 1.0) -> torch.Tensor:
    """Negative advantages times ``negative_weight``: 1 is the plain policy gradient, 0 reinforces only
    samples better than the baseline (positive sample reinforcement, PSR), above 1 weighs the push
    away from worse samples more (W-REINFORCE's emphasis on NSR)."""
    return torch.where(advantages < 0, advantages * negative_weight, advantages)


def shared_prefix_length(tokens: list[int], reference: list[int] | None) -> int:
    """How many first tokens of ``tokens`` equal the reference's (0 without a reference)."""
    if reference is None:
        return 0
    length = 0
    for token, expected in zip(tokens, reference):
        if token != expected:
            break
        length += 1
    return length


def divergence_advantages(advantages: torch.Tensor, shared: torch.Tensor, width: int) -> torch.Tensor:
    """(completions, ``width``) per-token advantages where a completion's negative advantage applies only
    from its first token that departs from the user's real next action: its first ``shared`` tokens
    (those it has in common with that action) keep 0. Positive advantages apply to every token."""
    positions = torch.arange(width, device=advantages.device).unsqueeze(0)
    before = positions < shared.to(advantages.device).unsqueeze(1)
    expanded = advantages.unsqueeze(1).expand(-1, width)
    return torch.where(before & (expanded < 0), torch.zeros_like(expanded), expanded)


def zero_signal_groups(rewards: torch.Tensor) -> torch.Tensor:
    """A (groups,) bool mask of groups whose rewards are all equal: their advantages are all zero."""
    return (rewards.max(dim=1).values - rewards.min(dim=1).values).abs() <= 1e-9


def overlong_penalty(lengths: torch.Tensor, max_length: int, buffer: int, penalty: float = 1.0) -> torch.Tensor:
    """DAPO's soft overlong punishment, added to the reward: 0 up to ``max_length - buffer`` tokens,
    then falling linearly to ``-penalty`` at ``max_length``, and ``-penalty`` beyond. ``max_length`` is
    the rollouts' token limit (DAPO's ``L_max``), which ``nep rl`` sets to the checkpoint's longest target
    plus ``buffer`` (``run.completion_limit``), so no completion as long as a trained action is penalized."""
    start = max_length - buffer
    ramp = (start - lengths.float()) / max(buffer, 1) * penalty
    return torch.where(lengths <= start, torch.zeros_like(ramp), torch.clamp(ramp, min=-penalty))


def truncated_importance_weights(trainer_logps: torch.Tensor, rollout_logps: torch.Tensor, cap: float) -> torch.Tensor:
    """Per-token ``min(pi_trainer / pi_rollout, cap)``: corrects for the rollout engine's numerics
    differing from the trainer's (truncated importance sampling)."""
    return torch.clamp(torch.exp(trainer_logps - rollout_logps), max=cap)


@dataclass
class PolicyLoss:
    """The loss and what to log about it."""

    loss: torch.Tensor
    clip_low: float
    """Share of completion tokens clipped at ``1 - epsilon`` (ratio below it, negative advantage)."""
    clip_high: float
    """Share clipped at ``1 + epsilon_high`` (ratio above it, positive advantage)."""
    kl: float | None
    ratio_mean: float
    ratio_max: float


def policy_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str = "dapo",
    epsilon: float = 0.2,
    epsilon_high: float = 0.28,
    beta: float = 0.0,
    ref_logps: torch.Tensor | None = None,
    importance_weights: torch.Tensor | None = None,
    max_completion_length: int | None = None,
    active_tokens: float | None = None,
) -> PolicyLoss:
    """The clipped surrogate ``-min(r A, clip(r, 1 - epsilon, 1 + epsilon_high) A)`` per token, plus
    ``beta`` times the k3 KL estimate to the reference, weighted by ``importance_weights``, then
    aggregated by ``loss_type``:

    - ``grpo``: mean over each sequence's tokens, then over sequences;
    - ``bnpo``: sum over the batch's tokens divided by the batch's token count;
    - ``dr_grpo``: sum divided by ``completions * max_completion_length`` (a constant);
    - ``dapo``: sum divided by ``active_tokens``, the token count of the whole generation batch (all
      processes and accumulated steps; the local count when not given).
    """
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {', '.join(LOSS_TYPES)}, not {loss_type!r}")
    mask = mask.to(logps.dtype)
    ratio = torch.exp(logps - old_logps)
    clipped = torch.clamp(ratio, 1.0 - epsilon, 1.0 + epsilon_high)
    advantage = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
    per_token = -torch.min(ratio * advantage, clipped * advantage)
    kl = None
    if beta != 0.0:
        if ref_logps is None:
            raise ValueError("beta > 0 needs the reference model's log-probabilities")
        delta = ref_logps - logps
        per_token_kl = torch.exp(delta) - delta - 1.0
        per_token = per_token + beta * per_token_kl
        kl = float((per_token_kl.detach() * mask).sum() / mask.sum().clamp(min=1.0))
    if importance_weights is not None:
        per_token = per_token * importance_weights
    masked = per_token * mask
    if loss_type == "grpo":
        loss = (masked.sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)).mean()
    elif loss_type == "bnpo":
        loss = masked.sum() / mask.sum().clamp(min=1.0)
    elif loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("dr_grpo needs max_completion_length")
        loss = masked.sum() / (logps.shape[0] * max_completion_length)
    else:
        loss = masked.sum() / max(active_tokens if active_tokens is not None else float(mask.sum()), 1.0)
    tokens = mask.sum().clamp(min=1.0)
    low = ((ratio < 1.0 - epsilon) & (advantage < 0)).to(mask.dtype)
    high = ((ratio > 1.0 + epsilon_high) & (advantage > 0)).to(mask.dtype)
    kept = ratio.detach()[mask > 0]
    return PolicyLoss(
        loss=loss,
        clip_low=float((low * mask).sum() / tokens),
        clip_high=float((high * mask).sum() / tokens),
        kl=kl,
        ratio_mean=float(kept.mean()) if kept.numel() else 1.0,
        ratio_max=float(kept.max()) if kept.numel() else 1.0,
    )


@dataclass
class RiskLoss:
    """Minimum risk training's loss and what to log about it."""

    loss: torch.Tensor
    expected_reward: float
    """Mean over groups of the reward expected under the renormalized candidate distribution."""
    top_probability: float
    """Mean renormalized probability of each group's likeliest candidate."""


def minimum_risk_loss(sequence_logps: torch.Tensor, rewards: torch.Tensor, present: torch.Tensor, sharpness: float = 1.0) -> RiskLoss:
    """Minimum risk training over candidate sets (Shen et al., 2016): ``-mean_g sum_k q_gk r_gk`` with
    ``q_g = softmax_k(sharpness * log p_gk)`` over the group's candidates (the beam's, not samples),
    so the gradient ``sharpness * q_k (r_k - E_q[r]) grad log p_k`` moves probability between the very
    candidates that compete for the served top-1. ``sequence_logps`` and ``rewards`` are (groups, K);
    ``present`` (groups, K) is False on padding."""
    scores = torch.where(present, sharpness * sequence_logps, torch.full_like(sequence_logps, float("-inf")))
    q = torch.softmax(scores, dim=1)
    expected = (q * torch.where(present, rewards, torch.zeros_like(rewards))).sum(dim=1)
    return RiskLoss(
        loss=-expected.mean(),
        expected_reward=float(expected.detach().mean()),
        top_probability=float(q.detach().max(dim=1).values.mean()),
    )
