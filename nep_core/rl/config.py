"""The typed settings of one ``nep rl`` run. Import-light: no torch here.

The run settings (steps, learning rate, devices, resume...) are those of ``nep train``; the policy
optimization knobs keep TRL's GRPOTrainer names and defaults where TRL has them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nep_core.errors import NepError
from nep_core.rl.objective import BASELINES, LOSS_TYPES, NEGATIVE_CREDITS, ROLLOUTS, SCALE_REWARDS
from nep_core.rl.rewards import RewardWeights
from nep_core.training.config import PRECISIONS, TrainConfig

RL_LEARNING_RATE = 5e-5
"""Peak learning rate of ``nep rl``: an RL update should move a trained model a little."""

RL_MAX_STEPS = 100


@dataclass
class PolicySettings:
    """How rollouts are drawn and turned into a loss (docs/rl.md gives each formula)."""

    num_generations: int = 8
    """Completions per prompt (the group size G); with beam rollouts, the beam's edits per prompt."""
    rollouts: str = "sample"
    """``sample``: G completions sampled per prompt, GRPO's loss; ``beam``: NO_EDIT and the serving
    beam search's top-G edits, minimum risk training's loss (the clip, loss type, reward scaling, TIS
    and overlong options do not apply; a KL term, ``beta`` above 0, is refused)."""
    risk_sharpness: float = 1.0
    """With beam rollouts: alpha of the renormalized candidate distribution ``softmax(alpha * log p)``."""
    temperature: float = 1.0
    loss_type: str = "dapo"
    epsilon: float = 0.2
    epsilon_high: float = 0.28
    beta: float = 0.0
    """KL coefficient; 0 keeps no reference model in memory."""
    scale_rewards: str = "group"
    baseline: str = "group"
    """What a sample's reward is compared with: the group's mean (GRPO) or the reward of the decision
    the predictor serves for that prompt (``served``: self-critical sequence training)."""
    num_iterations: int = 1
    """Optimizer steps per batch of rollouts (TRL's mu); the ratio moves away from 1 only when above 1."""
    dynamic_sampling: bool = True
    """Drop groups whose rewards are all equal and refill the batch with more prompts."""
    max_resample_rounds: int = 4
    guidance: bool = False
    """Add the user's real next action to each group as one more member (off-policy guidance)."""
    negative_weight: float = 1.0
    """Weight of negative advantages: 1 the plain policy gradient, 0 positive samples only (PSR)."""
    negative_credit: str = "sequence"
    """Which tokens of a worse-than-baseline sample are pushed down: all (``sequence``), or only those
    from where it departs from the user's real next action (``divergence``)."""
    sft_weight: float = 0.0
    """Weight of a supervised term, the users' real next actions' negative log-likelihood per token; 0: off."""
    tis_cap: float | None = 2.0
    """Cap C of truncated importance sampling between the sampler's and the trainer's log-probabilities; None: off."""
    mask_truncated_completions: bool = False
    overlong_buffer: int | None = None
    """Soft overlong shaping (DAPO): the last this many tokens before the rollouts' token limit are penalized
    linearly; None: off. Without ``max_completion_length`` the limit is then the checkpoint's longest target
    plus this buffer, so no completion as long as an action the model was trained on is penalized."""
    overlong_penalty: float = 1.0
    max_completion_length: int | None = None
    """Token limit of a completion (Python API only; ``nep rl`` has no option for it); None: the checkpoint's
    longest target, plus ``overlong_buffer`` when that is set."""
    rewards: RewardWeights = field(default_factory=RewardWeights)
    val_examples: int = 64
    """Validation examples decoded with the serving predictor at each validation."""

    def validate(self) -> None:
        checks = [
            (self.num_generations >= 2, f"--num-generations must be at least 2 to compare rollouts (got {self.num_generations})"),
            (0 < self.temperature < math.inf, f"--temperature must be a positive finite number (got {self.temperature})"),
            (self.rollouts in ROLLOUTS, f"--rollouts must be one of {', '.join(ROLLOUTS)} (got {self.rollouts!r})"),
            (0 < self.risk_sharpness < math.inf, f"--risk-sharpness must be a positive finite number (got {self.risk_sharpness})"),
            (self.rollouts == "sample" or self.temperature == 1.0, "--temperature applies to sampled rollouts; with --rollouts beam use --risk-sharpness"),
            (self.rollouts == "sample" or self.baseline == "group", "--baseline served applies to sampled rollouts; with --rollouts beam the served decision is among the candidates"),
            (self.loss_type in LOSS_TYPES, f"--loss-type must be one of {', '.join(LOSS_TYPES)} (got {self.loss_type!r})"),
            (self.scale_rewards in SCALE_REWARDS, f"--scale-rewards must be one of {', '.join(SCALE_REWARDS)} (got {self.scale_rewards!r})"),
            (self.baseline in BASELINES, f"--baseline must be one of {', '.join(BASELINES)} (got {self.baseline!r})"),
            (0 <= self.epsilon < 1, f"--epsilon must be in [0, 1) (got {self.epsilon})"),
            (0 <= self.epsilon_high < math.inf, f"--epsilon-high must be a finite number >= 0 (got {self.epsilon_high})"),
            (self.epsilon_high >= self.epsilon, f"--epsilon-high {self.epsilon_high} is below --epsilon {self.epsilon}: the upper clip "
             "would be tighter than the lower one; pass --epsilon-high at least --epsilon (equal: PPO's symmetric clip)"),
            (0 <= self.beta < math.inf, f"--beta must be a finite number >= 0 (got {self.beta})"),
            (self.rollouts == "sample" or self.beta == 0, "--beta applies to sampled rollouts (a KL term on their ratio); with --rollouts beam "
             "the loss is minimum risk training's, which has none: leave --beta out"),
            (self.num_iterations >= 1, f"--num-iterations must be at least 1 (got {self.num_iterations})"),
            (self.max_resample_rounds >= 0, f"--max-resample-rounds must be >= 0 (got {self.max_resample_rounds})"),
            (0 <= self.negative_weight < math.inf, f"--negative-weight must be a finite number >= 0 (got {self.negative_weight})"),
            (self.rollouts == "sample" or self.negative_weight == 1.0, "--negative-weight applies to sampled rollouts; with --rollouts beam the loss is minimum risk training's"),
            (self.negative_credit in NEGATIVE_CREDITS, f"--negative-credit must be one of {', '.join(NEGATIVE_CREDITS)} (got {self.negative_credit!r})"),
            (self.rollouts == "sample" or self.negative_credit == "sequence", "--negative-credit applies to sampled rollouts; with --rollouts beam the loss is minimum risk training's"),
            (0 <= self.sft_weight < math.inf, f"--sft-weight must be a finite number >= 0 (got {self.sft_weight})"),
            (self.tis_cap is None or 1 <= self.tis_cap < math.inf, f"--tis-cap must be at least 1, or 0 for off (got {self.tis_cap})"),
            (self.overlong_buffer is None or self.overlong_buffer >= 1, f"--overlong-buffer must be at least 1 (got {self.overlong_buffer})"),
            (0 <= self.overlong_penalty < math.inf, f"--overlong-penalty must be a finite number >= 0 (got {self.overlong_penalty})"),
            (self.max_completion_length is None or self.max_completion_length >= 2,
             f"max_completion_length must be at least 2 tokens (got {self.max_completion_length})"),
            (self.val_examples >= 1, f"--val-examples must be at least 1 (got {self.val_examples})"),
        ]
        for ok, message in checks:
            if not ok:
                raise NepError(message)


TRUE_PRECISIONS_NOT_IN_RL = ("bf16-true", "64-true")
RL_PRECISIONS = tuple(precision for precision in PRECISIONS if precision not in TRUE_PRECISIONS_NOT_IN_RL)
"""The ``--precision`` values ``nep rl`` takes (``nep train`` also takes bf16-true and 64-true)."""


@dataclass
class RLConfig(TrainConfig):
    """``nep rl``: the run settings of ``nep train`` plus the SFT checkpoint to start from and the policy settings."""

    model: Path | None = None
    policy: PolicySettings = field(default_factory=PolicySettings)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.model is not None:
            self.model = Path(self.model)
        if self.max_steps is None:
            self.max_steps = RL_MAX_STEPS
        if self.learning_rate is None:
            self.learning_rate = RL_LEARNING_RATE

    def validate(self) -> None:
        super().validate()
        if self.model is None:
            raise NepError("nep rl needs --model, a checkpoint folder from `nep train`")
        if self.preset is not None or self.base_model is not None:
            raise NepError("nep rl starts from --model; --preset and --base-model do not apply")
        if self.precision in TRUE_PRECISIONS_NOT_IN_RL:  # Lightning converts a batch's tensors to them; nep rl's batches are prompts
            raise NepError(f"--precision {self.precision} is not one nep rl runs in (its batches are prompts, which Lightning cannot "
                           f"convert); use {', '.join(RL_PRECISIONS)}")
        self.policy.validate()

    @property
    def run_dir(self) -> Path:
        return self.out if self.out is not None else Path("runs") / f"{self.domain}-rl"

    def as_dict(self) -> dict[str, Any]:
        out = super().as_dict()
        out["model"] = None if self.model is None else str(self.model)
        out["policy"] = asdict(self.policy)
        return out
