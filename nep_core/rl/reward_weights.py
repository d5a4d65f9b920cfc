"""How much each part of the RL reward counts. Import-light, so a domain can declare its own."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from nep_core.errors import NepError

MATCH_MODES = ("verifier", "exact")


@dataclass(frozen=True)
class RewardWeights:
    valid: float = 0.25
    match: float = 1.0
    no_edit: float = 0.25
    match_mode: str = "verifier"
    """``verifier``: the verifiers' mean reward; ``exact``: 1 for exactly the reference, else 0."""

    def __post_init__(self) -> None:
        if self.match_mode not in MATCH_MODES:
            raise NepError(f"--match-mode must be one of {', '.join(MATCH_MODES)} (got {self.match_mode!r})")
        for name in ("valid", "match", "no_edit"):
            weight = getattr(self, name)
            if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight >= 0):
                raise NepError(f"--reward-{name.replace('_', '-')} must be a finite number >= 0 (got {weight})")
        if not (self.valid or self.match or self.no_edit):
            raise NepError("--reward-valid, --reward-match and --reward-no-edit are all 0, so no rollout would be rewarded; set one above 0")

    @property
    def needs_verifiers(self) -> bool:
        """Whether the reward depends on a verifier's verdict: validity is weighted, or the match is the verifiers'."""
        return bool(self.valid) or self.match_mode == "verifier"

    def overridden(self, **given: float | str | None) -> RewardWeights:
        """A copy with the given fields replaced; a ``None`` keeps this one's value."""
        return replace(self, **{name: value for name, value in given.items() if value is not None})
