"""The RL objective's maths against values worked out by hand from the published formulas."""

from __future__ import annotations

import math

import pytest
import torch

from nep_core.rl.objective import (
    divergence_advantages, minimum_risk_loss, shared_prefix_length,
    group_advantages, overlong_penalty, policy_loss, truncated_importance_weights, weighted_advantages, zero_signal_groups,
)

REWARDS = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5], [2.0, 0.0, 1.0, 1.0]])


def test_group_scaling_divides_by_each_groups_sample_standard_deviation():
    advantages = group_advantages(REWARDS, "group")
    std_first = math.sqrt((4 * 0.25) / 3)  # Bessel-corrected, as torch.std and TRL
    assert advantages[0, 0].item() == pytest.approx(0.5 / (std_first + 1e-4))
    assert advantages[0, 1].item() == pytest.approx(-0.5 / (std_first + 1e-4))
    assert torch.all(advantages[1] == 0)  # a group with one reward carries no signal
    std_third = math.sqrt((1 + 1 + 0 + 0) / 3)
    assert advantages[2, 0].item() == pytest.approx(1.0 / (std_third + 1e-4))


def test_batch_scaling_divides_by_the_whole_batchs_deviation_and_none_only_centres():
    values = REWARDS.flatten().tolist()
    mean = sum(values) / len(values)
    std = math.sqrt(sum((value - mean) ** 2 for value in values) / (len(values) - 1))
    batch = group_advantages(REWARDS, "batch")
    assert batch[2, 0].item() == pytest.approx(1.0 / (std + 1e-4))
    assert batch[0, 1].item() == pytest.approx(-0.5 / (std + 1e-4))
    plain = group_advantages(REWARDS, "none")
    assert plain[2].tolist() == pytest.approx([1.0, -1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="scale_rewards"):
        group_advantages(REWARDS, "token")


def test_a_served_baseline_replaces_the_group_mean_and_counts_in_the_deviation():
    served = torch.tensor([1.0, 0.5, 0.0])  # the reward of each prompt's served decision (SCST)
    plain = group_advantages(REWARDS, "none", baseline=served)
    assert plain[0].tolist() == pytest.approx([0.0, -1.0, -1.0, 0.0])  # only worse-than-served moves
    assert torch.all(plain[1] == 0)
    assert plain[2].tolist() == pytest.approx([2.0, 0.0, 1.0, 1.0])
    scaled = group_advantages(REWARDS, "group", baseline=served)
    members = [2.0, 0.0, 1.0, 1.0, 0.0]  # the samples and the served decision
    mean = sum(members) / 5
    std = math.sqrt(sum((value - mean) ** 2 for value in members) / 4)
    assert scaled[2, 0].item() == pytest.approx(2.0 / (std + 1e-4))
    # all samples equal but the served decision better: the deviation is not zero, the push is bounded
    equal = group_advantages(torch.zeros(1, 4), "group", baseline=torch.ones(1))
    assert equal[0, 0].item() == pytest.approx(-1.0 / (math.sqrt(0.2) + 1e-4))


def test_negative_weight_scales_only_the_advantages_below_the_baseline():
    plain = group_advantages(REWARDS, "none")  # [[.5, -.5, -.5, .5], [0]*4, [1, -1, 0, 0]]
    assert weighted_advantages(plain, 0.0).flatten().tolist() == pytest.approx([0.5, 0.0, 0.0, 0.5] + [0.0] * 4 + [1.0, 0.0, 0.0, 0.0])
    assert weighted_advantages(plain, 2.0)[2].tolist() == pytest.approx([1.0, -2.0, 0.0, 0.0])
    assert torch.equal(weighted_advantages(plain, 1.0), plain)


def test_shared_prefix_length_counts_the_first_tokens_equal_to_the_reference():
    assert shared_prefix_length([5, 7, 9, 2], [5, 7, 8, 2]) == 2  # departs at its third token
    assert shared_prefix_length([5, 7], [5, 7, 8]) == 2
    assert shared_prefix_length([4, 7], [5, 7]) == 0
    assert shared_prefix_length([5, 7, 2], [5, 7, 2]) == 3
    assert shared_prefix_length([5, 7], None) == 0  # no reference: the whole sample is credited


def test_divergence_credit_spares_a_negative_samples_tokens_before_it_departs():
    advantages = torch.tensor([-1.0, 0.5, -2.0, -0.5])
    shared = torch.tensor([2, 3, 0, 4])
    per_token = divergence_advantages(advantages, shared, width=4)
    assert per_token.tolist() == [
        [0.0, 0.0, -1.0, -1.0],  # the right operator written first is not pushed down
        [0.5, 0.5, 0.5, 0.5],  # a positive advantage applies to every token
        [-2.0, -2.0, -2.0, -2.0],  # wrong from the first token
        [0.0, 0.0, 0.0, 0.0],  # all of it shared with the user's action
    ]
    # the loss takes per-token advantages: on the first sample only its tokens 3 and 4 move
    logps = torch.zeros(4, 4, requires_grad=True)
    loss = policy_loss(logps, logps.detach(), per_token, torch.ones(4, 4), loss_type="bnpo").loss
    loss.backward()
    assert logps.grad[0].tolist() == pytest.approx([0.0, 0.0, 1.0 / 16, 1.0 / 16])  # -A / tokens, pushing those down
    assert logps.grad[1].tolist() == pytest.approx([-0.5 / 16] * 4)


def test_zero_signal_groups_are_those_with_equal_rewards():
    assert zero_signal_groups(REWARDS).tolist() == [False, True, False]


def test_soft_overlong_penalty_ramps_in_the_buffer():
    lengths = torch.tensor([10, 16, 18, 20, 25])
    # max 20, buffer 4: no penalty up to 16; (16 - L) / 4 in the buffer; -1 past 20
    assert overlong_penalty(lengths, 20, 4).tolist() == pytest.approx([0.0, 0.0, -0.5, -1.0, -1.0])
    assert overlong_penalty(lengths, 20, 4, penalty=2.0).tolist() == pytest.approx([0.0, 0.0, -1.0, -2.0, -2.0])


def test_truncated_importance_weights_cap_the_trainer_to_rollout_ratio():
    trainer = torch.log(torch.tensor([[0.5, 0.9, 0.2]]))
    rollout = torch.log(torch.tensor([[0.5, 0.3, 0.4]]))
    assert truncated_importance_weights(trainer, rollout, cap=2.0).tolist()[0] == pytest.approx([1.0, 2.0, 0.5])


# Two completions of 3 and 2 tokens; ratios e^(new - old) chosen so clipping bites.
NEW = torch.log(torch.tensor([[1.5, 1.0, 0.7], [0.5, 1.1, 1.0]]))
OLD = torch.zeros(2, 3)
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
ADVANTAGES = torch.tensor([1.0, -2.0])


def _per_token(epsilon=0.2, epsilon_high=0.28):
    """-min(r A, clip(r) A), written out: first row A = 1, second A = -2."""
    first = [-min(r * 1.0, min(max(r, 1 - epsilon), 1 + epsilon_high) * 1.0) for r in (1.5, 1.0, 0.7)]
    second = [-min(r * -2.0, min(max(r, 1 - epsilon), 1 + epsilon_high) * -2.0) for r in (0.5, 1.1)]
    return first, second


def test_clip_higher_clips_positive_advantages_at_one_plus_epsilon_high():
    first, second = _per_token()
    assert first == pytest.approx([-1.28, -1.0, -0.7])  # 1.5 clipped to 1.28; 0.7 not clipped (A > 0 takes the min)
    assert second == pytest.approx([1.6, 2.2])  # 0.5 clipped to 0.8 with A < 0
    result = policy_loss(NEW, OLD, ADVANTAGES, MASK, loss_type="bnpo")
    assert result.loss.item() == pytest.approx((sum(first) + sum(second)) / 5)
    assert result.clip_high == pytest.approx(1 / 5) and result.clip_low == pytest.approx(1 / 5)


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
def test_each_loss_type_aggregates_as_published(loss_type):
    first, second = _per_token()
    expected = {
        "grpo": (sum(first) / 3 + sum(second) / 2) / 2,
        "bnpo": (sum(first) + sum(second)) / 5,
        "dr_grpo": (sum(first) + sum(second)) / (2 * 8),
        "dapo": (sum(first) + sum(second)) / 20,  # the whole generation batch had 20 tokens
    }[loss_type]
    result = policy_loss(NEW, OLD, ADVANTAGES, MASK, loss_type=loss_type, max_completion_length=8, active_tokens=20)
    assert result.loss.item() == pytest.approx(expected)


def test_symmetric_epsilon_clips_both_sides_alike():
    first, _ = _per_token(epsilon_high=0.2)
    assert first[0] == pytest.approx(-1.2)
    result = policy_loss(NEW, OLD, ADVANTAGES, MASK, loss_type="bnpo", epsilon_high=0.2)
    assert result.loss.item() == pytest.approx((sum(first) + sum(_per_token(epsilon_high=0.2)[1])) / 5)


def test_kl_term_is_the_k3_estimator_times_beta_and_needs_a_reference():
    logps = torch.log(torch.tensor([[0.5, 0.25]]))
    ref = torch.log(torch.tensor([[0.25, 0.25]]))
    mask = torch.ones(1, 2)
    k3 = [math.exp(math.log(0.25 / 0.5)) - math.log(0.25 / 0.5) - 1, 0.0]  # e^d - d - 1, d = ref - new
    result = policy_loss(logps, logps.detach(), torch.tensor([0.0]), mask, loss_type="bnpo", beta=0.1, ref_logps=ref)
    assert result.kl == pytest.approx(sum(k3) / 2)
    assert result.loss.item() == pytest.approx(0.1 * sum(k3) / 2)
    with pytest.raises(ValueError, match="reference"):
        policy_loss(logps, logps, torch.tensor([0.0]), mask, beta=0.1)


def test_importance_weights_scale_each_tokens_loss_and_gradients_flow():
    logps = NEW.clone().requires_grad_(True)
    weights = torch.tensor([[2.0, 1.0, 1.0], [0.5, 1.0, 1.0]])
    first, second = _per_token()
    result = policy_loss(logps, OLD, ADVANTAGES, MASK, loss_type="bnpo", importance_weights=weights)
    assert result.loss.item() == pytest.approx((2 * first[0] + first[1] + first[2] + 0.5 * second[0] + second[1]) / 5)
    result.loss.backward()
    assert logps.grad[0, 1].item() == pytest.approx(-1.0 / 5)  # d(-r A)/d logp = -r A at r = 1, A = 1
    assert logps.grad[0, 0].item() == 0.0  # clipped: no gradient
    assert logps.grad[1, 2].item() == 0.0  # masked out


def test_minimum_risk_is_the_expected_reward_under_the_renormalized_candidates_and_its_gradient_is_shen_et_als():
    # two groups: three candidates with log-probabilities log 0.5, log 0.3, log 0.1; and two, one padded slot
    logps = torch.tensor([[math.log(0.5), math.log(0.3), math.log(0.1)], [math.log(0.2), math.log(0.2), 0.0]], requires_grad=True)
    rewards = torch.tensor([[0.0, 1.0, 0.5], [1.0, 0.0, 7.0]])
    present = torch.tensor([[True, True, True], [True, True, False]])
    result = minimum_risk_loss(logps, rewards, present, sharpness=1.0)
    # q = (0.5, 0.3, 0.1) / 0.9 and (0.5, 0.5): expected rewards 0.35 / 0.9 and 0.5; the padded 7 never counts
    first, second = (0.3 * 1.0 + 0.1 * 0.5) / 0.9, 0.5
    assert result.loss.item() == pytest.approx(-(first + second) / 2)
    assert result.expected_reward == pytest.approx((first + second) / 2)
    assert result.top_probability == pytest.approx((0.5 / 0.9 + 0.5) / 2)
    result.loss.backward()
    # d(-mean E_q[r]) / d log p_k = -q_k (r_k - E_q[r]) / groups
    q = [0.5 / 0.9, 0.3 / 0.9, 0.1 / 0.9]
    expected = [-qk * (rk - first) / 2 for qk, rk in zip(q, [0.0, 1.0, 0.5])]
    assert logps.grad[0].tolist() == pytest.approx(expected)
    assert logps.grad[1].tolist() == pytest.approx([-0.5 * (1.0 - 0.5) / 2, -0.5 * (0.0 - 0.5) / 2, 0.0])


def test_risk_sharpness_scales_the_log_probabilities_before_renormalizing():
    logps = torch.tensor([[math.log(0.6), math.log(0.2)]])
    rewards = torch.tensor([[0.0, 1.0]])
    present = torch.ones(1, 2, dtype=torch.bool)
    # alpha 2: q proportional to 0.36 and 0.04, so E_q[r] = 0.1; alpha 0.5: sqrt(0.2) / (sqrt(0.6) + sqrt(0.2))
    assert minimum_risk_loss(logps, rewards, present, sharpness=2.0).expected_reward == pytest.approx(0.04 / 0.40)
    assert minimum_risk_loss(logps, rewards, present, sharpness=0.5).expected_reward == pytest.approx(
        math.sqrt(0.2) / (math.sqrt(0.6) + math.sqrt(0.2))
    )


def test_an_action_as_long_as_the_longest_target_is_not_penalized_the_buffer_lies_past_it():
    """`--overlong-buffer` penalized ordinary actions: the rollouts' limit was the checkpoint's longest target,
    so an action of exactly that length got the full penalty. DAPO's L_max is the generation limit, and the
    penalty starts at L_max - L_cache, the length expected: here the longest target."""
    from nep_core.rl.ablate import ablation_arms
    from nep_core.rl.config import PolicySettings
    from nep_core.rl.run import completion_limit

    meta = {"max_target_tokens": 8}
    assert completion_limit(PolicySettings(), meta) == 8  # no shaping: the limit is the longest target, as before
    limit = completion_limit(PolicySettings(overlong_buffer=4), meta)
    assert limit == 12
    assert overlong_penalty(torch.tensor([3, 8, 10, 12]), limit, 4).tolist() == pytest.approx([0.0, 0.0, -0.5, -1.0])

    # the ablation's overlong-on arm: a quarter of the longest target, past it
    bundle = PolicySettings()
    arm = next(arm for arm in ablation_arms(bundle, completion_limit(bundle, meta)) if arm.name == "overlong-on")
    buffer = arm.policy.overlong_buffer
    arm_limit = completion_limit(arm.policy, meta)
    assert (buffer, arm_limit) == (2, 10)
    assert overlong_penalty(torch.tensor([8, 9, 10]), arm_limit, buffer).tolist() == pytest.approx([0.0, -0.5, -1.0])
