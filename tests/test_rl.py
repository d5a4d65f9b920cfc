"""`nep rl`: constrained rollouts, verifier rewards, a GRPO run that resumes, and refusals of bad input."""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys

import pytest
import torch

from inference_helpers import random_contexts, save_random_checkpoint
from nep_core.actions import NO_EDIT, Action
from nep_core.checkpoint import load_checkpoint
from nep_core.domain import Domain
from nep_core.errors import NepError
from nep_core.inference import ModelPredictor
from nep_core.inference.baselines import canonical_action
from nep_core.inference.sampling import ConstrainedSampler
from nep_core.rl.rewards import RewardWeights, VerifierRewards
from nep_core.verifier import Verdict, Verifier


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, tags_domain):
    return load_checkpoint(save_random_checkpoint(tmp_path_factory.mktemp("rl-random") / "model", tags_domain, seed=3), "tags")


def test_samples_are_valid_actions_whose_logprobs_are_the_predictors(loaded, tags_domain, tags_sessions):
    predictor = ModelPredictor(loaded, tags_domain)
    sampler = ConstrainedSampler(predictor)
    generator = torch.Generator().manual_seed(0)
    kinds = set()
    for context in random_contexts(12, seed=5, sessions=tags_sessions[:20]):
        prompt, completions = sampler.sample(context, 6, generator=generator)
        assert prompt == predictor.featurizer.prompt_ids(context)
        for completion in completions:
            assert completion.action is not None and not completion.truncated, completion.error
            assert completion.token_ids[-1] == predictor.eos_id
            tags_domain.action_space.validate(completion.action)
            kinds.add(completion.action.kind)
            # the sampler's log-probabilities are the serving predictor's (grammar-normalized, temperature 1)
            assert sum(completion.logps) == pytest.approx(predictor.sequence_logprob(context, completion.action), abs=1e-4)
    assert len(kinds) >= 2  # sampling, not argmax


def test_the_trainer_recomputes_the_samplers_logprobs_with_gradients(loaded, tags_domain, tags_sessions):
    from nep_core.rl.config import PolicySettings

    predictor = ModelPredictor(loaded, tags_domain)
    policy = PolicySettings(num_generations=4, temperature=0.7)
    system = _system(loaded, tags_domain, predictor, policy)
    sampler = ConstrainedSampler(predictor)
    context = random_contexts(1, seed=9, sessions=tags_sessions[:5])[0]
    prompt, completions = sampler.sample(context, 4, temperature=0.7, generator=torch.Generator().manual_seed(1))
    logps, entropy = system.completion_logps([prompt] * 4, completions, with_entropy=True)
    for row, completion in enumerate(completions):
        length = len(completion.token_ids)
        assert logps[row, :length].tolist() == pytest.approx(completion.logps, abs=1e-4)
        assert torch.all(logps[row, length:] == 0)
        assert torch.all(entropy[row, :length] >= 0)
    assert logps.requires_grad


class _Judge(Verifier):
    name = "judge"

    def __init__(self, raise_on: str | None = None):
        self.raise_on = raise_on

    def verify(self, context, predicted, reference=None):
        if predicted.kind == self.raise_on:
            raise RuntimeError("cannot judge this")
        return Verdict(predicted.kind != "bad", float(predicted == reference))


def _domain(tags_domain, verifiers) -> Domain:
    return Domain(name="judged", action_space=tags_domain.action_space, encoder=tags_domain.encoder, verifiers=verifiers)


def test_rewards_weigh_validity_match_and_no_edit_calibration(tags_domain):
    rewards = VerifierRewards(_domain(tags_domain, {"judge": _Judge()}), RewardWeights(valid=0.25, match=1.0, no_edit=0.5))
    edit, other, bad = Action("open", None, {"tag": "a"}), Action("open", None, {"tag": "b"}), Action("bad")
    parts = rewards.score([(None, edit, edit), (None, other, edit), (None, NO_EDIT, NO_EDIT), (None, NO_EDIT, edit),
                           (None, edit, NO_EDIT), (None, bad, edit), (None, None, edit)])
    assert [part.total for part in parts] == pytest.approx([
        0.25 + 1.0 + 0.0,   # right edit: match judges the content
        0.25 + 0.0 + 0.0,   # wrong edit where the user did act
        0.25 + 1.0 + 0.5,   # silent, rightly
        0.25 + 0.0 - 0.5,   # silent while the user acted
        0.25 + 0.0 - 0.5,   # eager: an edit where the user did nothing predictable
        0.0 + 0.0 + 0.0,    # invalid by the verifier
        0.0 + 0.0 - 0.5,    # did not decode
    ])
    assert rewards.report.undecodable == 1 and parts[-1].error


class _PartialJudge(Verifier):
    """Half credit for the right kind with other settings, as chrF gives code edits partial credit."""

    name = "partial"

    def verify(self, context, predicted, reference=None):
        return Verdict(True, 1.0 if predicted == reference else 0.5 if predicted.kind == reference.kind else 0.0)


def test_the_exact_match_mode_scores_only_exactly_the_users_action(tags_domain):
    space = tags_domain.action_space
    right, near = space.validate(Action("open", target="a")), space.validate(Action("open", target="b"))
    items = [(None, right, right), (None, near, right), (None, NO_EDIT, NO_EDIT), (None, NO_EDIT, right)]
    verifier_mode = VerifierRewards(_domain(tags_domain, {"partial": _PartialJudge()}))
    exact_mode = VerifierRewards(_domain(tags_domain, {"partial": _PartialJudge()}), RewardWeights(match_mode="exact"))
    assert [part.match for part in verifier_mode.score(items)] == [1.0, 0.5, 1.0, 0.0]
    assert [part.match for part in exact_mode.score(items)] == [1.0, 0.0, 1.0, 0.0]
    unquantized = Action("open", target="a", args={}, context={"app": "ignored"})
    assert exact_mode.score([(None, right, unquantized)])[0].match == 1.0  # the reference as the space writes it
    with pytest.raises(NepError, match="--match-mode must be one of verifier, exact"):
        RewardWeights(match_mode="chrf")



def test_verifiers_are_not_run_when_no_weighted_part_of_the_reward_needs_them(tags_domain):
    class Counting(_Judge):
        calls = 0

        def verify(self, context, predicted, reference=None):
            Counting.calls += 1
            return super().verify(context, predicted, reference)

    space = tags_domain.action_space
    right, near = space.validate(Action("open", target="a")), space.validate(Action("open", target="b"))
    items = [(None, right, right), (None, near, right), (None, NO_EDIT, right), (None, None, right)]
    unjudged = VerifierRewards(_domain(tags_domain, {"judge": Counting()}), RewardWeights(valid=0.0, match_mode="exact", no_edit=0.5))
    parts = unjudged.score(items)
    assert Counting.calls == 0
    assert [part.total for part in parts] == pytest.approx([1.0, 0.0, -0.5, -0.5])
    assert [part.valid for part in parts] == [None, None, 1.0, 0.0]  # an edit's validity is not measured, not guessed
    judged = VerifierRewards(_domain(tags_domain, {"judge": Counting()}), RewardWeights(valid=0.25, match_mode="exact"))
    assert [part.valid for part in judged.score(items)] == [1.0, 1.0, 1.0, 0.0] and Counting.calls == 2
    assert VerifierRewards(_domain(tags_domain, {"judge": Counting()}), RewardWeights(valid=0.0)).score(items[:1])[0].valid == 1.0
    assert Counting.calls == 3  # the verifiers' match needs them
    calibration_only = VerifierRewards(_domain(tags_domain, {"judge": Counting()}), RewardWeights(valid=0.0, match=0.0, no_edit=1.0))
    assert [part.total for part in calibration_only.score(items)] == [0.0, 0.0, -1.0, -1.0] and Counting.calls == 5


def test_validity_is_logged_only_where_the_verifiers_judged_the_samples(tags_domain):
    from nep_core.inference.sampling import Completion
    from nep_core.rl.system import RLSystem

    silent = [Completion(token_ids=[1], logps=[0.0], action=NO_EDIT, truncated=False)] * 2
    parts = VerifierRewards(_domain(tags_domain, {"judge": _Judge()}), RewardWeights(valid=0.0, match_mode="exact")).score([(None, NO_EDIT, NO_EDIT)] * 2)
    rewards = torch.tensor([[1.0, 1.0]])
    assert "reward_valid" not in RLSystem._rollout_stats(parts, silent, rewards, judged=False)  # silence is valid, but nothing was judged
    assert RLSystem._rollout_stats(parts, silent, rewards, judged=True)["reward_valid"] == 1.0

def test_a_domain_declares_its_rewards_and_each_option_given_replaces_only_its_field():
    from nep_core.cli.rl import domain_rewards

    code = domain_rewards("code")
    assert code == RewardWeights(valid=0.0, match=1.0, no_edit=0.0, match_mode="exact")  # docs/rl.md: exact match alone
    assert code.overridden(no_edit=0.5, valid=None, match_mode=None) == RewardWeights(valid=0.0, match=1.0, no_edit=0.5, match_mode="exact")
    assert domain_rewards("blender") == RewardWeights(valid=0.0, match=1.0, no_edit=0.0, match_mode="exact")  # docs/rl.md
    assert domain_rewards("video") == RewardWeights() == domain_rewards("not-installed")
    with pytest.raises(NepError, match="--match-mode must be one of"):
        code.overridden(match_mode="chrf")
    listed = json.loads(nep("domains", "--json").stdout)
    assert listed["code"]["rl_rewards"] == {"valid": 0.0, "match": 1.0, "no_edit": 0.0, "match_mode": "exact"}


def test_a_verifier_that_raises_counts_the_rollout_invalid_and_says_why(tags_domain):
    rewards = VerifierRewards(_domain(tags_domain, {"judge": _Judge(raise_on="close")}))
    parts = rewards.score([(None, Action("close", None, {}), NO_EDIT), (None, Action("open", None, {"tag": "a"}), NO_EDIT)])
    assert parts[0].valid == 0 and "verifier 'judge' raised RuntimeError: cannot judge this (test_rl.py:" in parts[0].error
    assert parts[1].valid == 1 and parts[1].error is None  # the others in the batch are still judged
    (message, count), = rewards.report.verifier_errors.items()
    assert count == 1 and re.fullmatch(r"verifier 'judge' raised RuntimeError: cannot judge this \(test_rl\.py:\d+\)", message)
    with pytest.raises(NepError, match="no verifiers"):
        VerifierRewards(_domain(tags_domain, {}))


def test_a_verifier_calling_sys_exit_counts_the_rollout_invalid_and_does_not_end_the_run(tags_domain):
    class Exiting(_Judge):
        def verify(self, context, predicted, reference=None):
            if predicted.kind == "close":
                raise SystemExit(0)  # would have ended `nep rl` with status 0 part way
            return super().verify(context, predicted, reference)

    rewards = VerifierRewards(_domain(tags_domain, {"judge": Exiting()}))
    parts = rewards.score([(None, Action("close", None, {}), NO_EDIT), (None, Action("open", None, {"tag": "a"}), NO_EDIT)])
    assert parts[0].valid == 0 and "verifier 'judge' raised SystemExit: 0 (test_rl.py:" in parts[0].error
    assert parts[1].valid == 1 and parts[1].error is None


class _BrokenJudge(Verifier):
    """A plugin's verifier that breaks the contract in one of several ways."""

    name = "broken"

    def __init__(self, answer):
        self.answer = answer

    def verify(self, context, predicted, reference=None):
        return self.answer(predicted)

    def verify_many(self, items):
        return [] if self.answer == "short" else super().verify_many(items)


@pytest.mark.parametrize("answer, error", [
    (lambda action: None, "verifier 'broken' returned NoneType, not a Verdict"),
    (lambda action: {"valid": True, "reward": 1.0}, "verifier 'broken' returned dict, not a Verdict"),
    (lambda action: Verdict(True, float("nan")), "verifier 'broken' gave the reward nan, not a finite number"),
    (lambda action: Verdict(True, "1"), "verifier 'broken' gave the reward '1', not a finite number"),
    ("short", "verifier 'broken' raised TypeError"),  # verify_many came back short, and verify cannot be called on "short"
])
def test_a_verifier_answering_without_a_usable_verdict_counts_the_rollout_invalid(tags_domain, answer, error):
    """Never a silent zero, nor a silent one: as the only verifier, a missing verdict would leave all([]) valid."""
    for mode in ("verifier", "exact"):
        rewards = VerifierRewards(_domain(tags_domain, {"broken": _BrokenJudge(answer)}), RewardWeights(match_mode=mode))
        edit = Action("open", None, {"tag": "a"})
        parts = rewards.score([(None, edit, edit), (None, NO_EDIT, NO_EDIT)])
        assert parts[0].valid == 0 and parts[0].match == 0 and error in parts[0].error
        assert parts[1].valid == 1 and parts[1].error is None  # NO_EDIT asks no verifier
        assert sum(rewards.report.verifier_errors.values()) == 1


def test_a_short_batch_is_judged_again_one_rollout_at_a_time(tags_domain):
    class ShortBatch(_Judge):
        def verify_many(self, items):
            return super().verify_many(items)[:-1]

    rewards = VerifierRewards(_domain(tags_domain, {"judge": ShortBatch()}), RewardWeights(valid=0.25, match=1.0, no_edit=0.5))
    edit, other = Action("open", None, {"tag": "a"}), Action("open", None, {"tag": "b"})
    parts = rewards.score([(None, edit, edit), (None, other, edit), (None, Action("bad"), edit)])
    assert [part.total for part in parts] == pytest.approx([1.25, 0.25, 0.0])  # as a whole batch would score them
    assert [part.error for part in parts] == [None, None, None] and rewards.report.verifier_errors == {}


def test_numpy_and_integer_rewards_are_usable_verdicts():
    import numpy as np

    from nep_core.verifier import scored_verdict

    for reward in (np.float32(0.5), np.float64(1.0), np.int64(1), 0, 1.0):
        scored = scored_verdict(Verdict(True, reward, {"n": 1}))
        assert type(scored.reward) is float and scored.reward == float(reward) and scored.details == {"n": 1}
    for reward, shown in ((np.float32("inf"), "inf"), (True, "True"), (10**400, "1" + "0" * 39), ("1", "'1'")):
        with pytest.raises(ValueError, match=re.escape(f"gave the reward {shown}, not a finite number")):
            scored_verdict(Verdict(True, reward))


def test_a_step_whose_loss_is_not_finite_stops_before_the_weights_change():
    from types import SimpleNamespace

    from nep_core.rl.system import RLSystem

    for value in (float("nan"), float("inf")):
        system = SimpleNamespace(global_step=7, _step_loss=lambda batch: torch.tensor(value, requires_grad=True))
        with pytest.raises(NepError, match=re.escape(f"step 7: the loss is not finite ({value} in this process), which would make the weights NaN")):
            RLSystem.training_step(system, [], 0)
    finite = SimpleNamespace(global_step=0, _step_loss=lambda batch: torch.tensor(0.5))
    assert float(RLSystem.training_step(finite, [], 0)) == 0.5


def _rl_config(out, model, **overrides):
    from nep_core.rl.config import PolicySettings, RLConfig

    policy = PolicySettings(num_generations=4, val_examples=8, **overrides.pop("policy", {}))
    settings = dict(domain="tags", model=model, out=out, max_steps=4, batch_size=4, val_every=2, progress=False, policy=policy)
    settings.update(overrides)
    return RLConfig(**settings)


@pytest.mark.parametrize("buffer", [0, 3])
def test_with_an_overlong_buffer_the_prompts_leave_the_positions_it_needs(trained_tags_model, tmp_path, buffer):
    """Prompts took every position a target does not; rollouts past the longest target by the buffer ran past the
    model's positions (an index error with learned positions)."""
    from nep_core.checkpoint import load_checkpoint
    from nep_core.plugins import get_domain
    from nep_core.rl.run import build_system

    loaded = load_checkpoint(trained_tags_model)
    config = _rl_config(tmp_path / "rl", trained_tags_model, policy={"overlong_buffer": buffer or None})
    system, _ = build_system(config, get_domain("tags"), loaded, {"train": [], "val": []})
    predictor = system.predictor_factory(loaded.model)
    assert predictor.featurizer.max_context_tokens == loaded.max_context_tokens - buffer
    assert predictor.featurizer.max_context_tokens + 2 + system.max_completion_length <= loaded.max_context_tokens + 2 + loaded.meta["max_target_tokens"]


def test_the_run_header_names_the_overlong_shaping(trained_tags_model, tmp_path):
    """The header named every setting of the objective but the overlong buffer."""
    result = nep("rl", "--domain", "tags", "--model", str(trained_tags_model), "--out", str(tmp_path / "run"), "--max-steps", "1",
                 "--val-examples", "4", "--batch-size", "4", "-G", "4", "--overlong-buffer", "2", "--overlong-penalty", "0.5")
    assert result.returncode == 0, result.stderr
    header = " ".join((result.stdout + result.stderr).split())
    assert ", overlong shaping over the last 2 tokens (penalty 0.5), dynamic sampling" in header, header


def _metrics(folder) -> list[dict]:
    rows = []
    for path in sorted((folder / "logs").glob("**/metrics.csv")):
        with open(path, newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def test_rl_runs_logs_resumes_and_exports_a_checkpoint(trained_tags_model, tmp_path):
    from nep_core.rl.run import rl

    out = tmp_path / "rl"
    folder = rl(_rl_config(out, trained_tags_model, policy={"num_iterations": 2, "beta": 0.05, "baseline": "served", "sft_weight": 0.1}))
    meta = json.loads((folder / "nep.json").read_text())
    assert meta["domain"] == "tags" and meta["rl"]["steps"] == 4
    assert meta["rl"]["policy"]["loss_type"] == "dapo" and meta["rl"]["policy"]["epsilon_high"] == 0.28
    assert set(meta["metrics"]) == {"val_reward", "val_exact_match", "val_no_edit_precision", "val_no_edit_recall"}
    assert (folder / "rl.png").stat().st_size > 10_000
    rows = _metrics(folder)
    logged = {key for row in rows for key, value in row.items() if value not in ("", None)}
    for name in ("rl/reward", "rl/reward_match", "rl/zero_signal_fraction", "rl/resample_rounds", "rl/clip_low",
                 "rl/clip_high", "rl/entropy", "rl/is_weight_mean", "rl/kl", "rl/served_reward", "rl/sft_loss", "val/reward", "val/exact"):
        assert name in logged, name
    ratios = [float(row["rl/ratio_max"]) for row in rows if row.get("rl/ratio_max")]
    assert ratios[0] == pytest.approx(1.0, abs=1e-4)  # the first step of a batch is on-policy
    assert any(abs(ratio - 1.0) > 1e-6 for ratio in ratios[1::2])  # the second (num_iterations 2) is not
    tuned = load_checkpoint(folder, "tags").model.state_dict()
    start = load_checkpoint(trained_tags_model, "tags").model.state_dict()
    assert any(not torch.equal(tuned[name], start[name]) for name in start)

    report = tmp_path / "eval.json"
    evaluated = nep("eval", "--domain", "tags", "--model", str(folder), "--compare", str(trained_tags_model), "--limit", "40", "--json", str(report))
    assert evaluated.returncode == 0, evaluated.stderr
    results = json.loads(report.read_text())["results"]
    assert set(results) == {"model", trained_tags_model.name}  # both checkpoints, same examples, one run
    assert results["model"]["examples"] == results[trained_tags_model.name]["examples"] == 40
    assert "verifier.nesting.mean_reward" in results[trained_tags_model.name]
    paired = json.loads(report.read_text())["paired"][trained_tags_model.name]  # example by example, with a sign test
    assert paired["examples"] == 40 and 0 <= paired["p_value"] <= 1
    exact = results["model"]["exact_match_top1"] - results[trained_tags_model.name]["exact_match_top1"]
    assert paired["difference"] == pytest.approx(exact, abs=2e-3)
    assert f"paired with {trained_tags_model.name}: exact match top-1" in evaluated.stdout

    resumed = rl(_rl_config(out, trained_tags_model, max_steps=6, resume=True, policy={"num_iterations": 2, "beta": 0.05, "baseline": "served", "sft_weight": 0.1}))
    assert json.loads((resumed / "nep.json").read_text())["rl"]["steps"] == 6
    with pytest.raises(NepError, match="batch_size"):
        rl(_rl_config(out, trained_tags_model, max_steps=8, resume=True, batch_size=2))
    with pytest.raises(NepError, match=r"other settings \(beta 0.05 -> 0.0\); resume with the options it was started with"):
        rl(_rl_config(out, trained_tags_model, max_steps=8, resume=True, policy={"num_iterations": 2, "baseline": "served", "sft_weight": 0.1}))
    with pytest.raises(NepError, match="holds a `nep train` run, not an `nep rl` run"):
        rl(_rl_config(trained_tags_model, trained_tags_model, max_steps=8, resume=True))


def test_a_resume_with_more_steps_keeps_the_runs_warmup(trained_tags_model, tmp_path):
    """The warmup (max_steps // 20) was sized anew from the resume's --max-steps: the learning rate went back into a
    warmup part way through the run."""
    from nep_core.rl.run import rl

    rl(_rl_config(tmp_path / "run", trained_tags_model, max_steps=2, val_every=100, warmup_steps=4))
    folder = rl(_rl_config(tmp_path / "run", trained_tags_model, max_steps=6, resume=True, val_every=100))  # 6 // 20: 1 step
    rates = {int(row["step"]): float(row["train/lr"]) for row in _metrics(folder) if row.get("train/lr")}
    assert sorted(rates) == [0, 1, 2, 3, 4, 5]
    # the run's 4 steps of warmup, then constant (train/lr is logged after the step: the next step's rate)
    assert rates[0] < rates[1] < rates[2] < rates[3] == rates[4] == rates[5], rates


def test_the_logs_of_a_run_resumed_after_a_validation_go_on_at_the_next_step(trained_tags_model, tmp_path):
    """`nep rl --max-steps 2 --val-every 2`, then `--max-steps 4 --resume`: the resumed steps were logged as 3 and 4."""
    out = tmp_path / "run"
    for steps, resume in (("2", ()), ("4", ("--resume",))):
        result = nep("rl", "--domain", "tags", "--model", str(trained_tags_model), "--out", str(out), "--max-steps", steps,
                     "--val-every", "2", "--val-examples", "4", "--batch-size", "4", "-G", "4", "-q", *resume)
        assert result.returncode == 0, result.stderr
    steps = [int(row["step"]) for row in _metrics(out) if row.get("rl/reward")]
    assert steps == [0, 1, 2, 3], steps


def test_a_resumed_run_goes_on_as_the_run_would_have_and_keeps_its_counts(trained_tags_model, tmp_path):
    from nep_core.rl.run import rl

    whole = rl(_rl_config(tmp_path / "whole", trained_tags_model, val_every=100))
    rl(_rl_config(tmp_path / "parts", trained_tags_model, max_steps=2, val_every=100))
    parts = rl(_rl_config(tmp_path / "parts", trained_tags_model, resume=True, val_every=100))

    def by_step(folder):
        return {int(row["step"]): row["rl/reward"] for row in _metrics(folder) if row.get("rl/reward")}

    assert by_step(parts) == by_step(whole) and len(by_step(whole)) == 4  # the same prompts and samples after the resume
    one, two = (json.loads((folder / "nep.json").read_text())["rl"] for folder in (whole, parts))
    assert two["undecodable_rollouts"] == one["undecodable_rollouts"] and two["verifier_errors"] == one["verifier_errors"]
    assert two["seconds"] > two["train_seconds"] > 0


def nep(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "nep_core.cli.main", *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("args, message", [
    (["--domain", "turtle"], "checkpoint is for domain 'tags', not 'turtle'; pass --domain tags"),
    (["--domain", "tags", "--loss-type", "ppo"], "--loss-type must be one of grpo, bnpo, dr_grpo, dapo (got 'ppo')"),
    (["--domain", "tags", "-G", "1"], "--num-generations must be at least 2 to compare rollouts (got 1)"),
    (["--domain", "tags", "--scale-rewards", "token"], "--scale-rewards must be one of group, batch, none"),
    (["--domain", "tags", "--baseline", "best"], "--baseline must be one of group, served (got 'best')"),
    (["--domain", "tags", "--sft-weight", "-1"], "--sft-weight must be a finite number >= 0 (got -1.0)"),
    (["--domain", "tags", "--negative-weight", "-0.5"], "--negative-weight must be a finite number >= 0 (got -0.5)"),
    (["--domain", "tags", "--rollouts", "beam", "--negative-weight", "0"], "--negative-weight applies to sampled rollouts"),
    (["--domain", "tags", "--negative-credit", "token"], "--negative-credit must be one of sequence, divergence (got 'token')"),
    (["--domain", "tags", "--rollouts", "beam", "--negative-credit", "divergence"], "--negative-credit applies to sampled rollouts"),
    (["--domain", "tags", "--beta", "inf"], "--beta must be a finite number >= 0 (got inf)"),
    (["--domain", "tags", "--reward-match", "nan"], "--reward-match must be a finite number >= 0 (got nan)"),
    (["--domain", "tags", "--reward-valid", "inf"], "--reward-valid must be a finite number >= 0 (got inf)"),
    (["--domain", "tags", "--reward-valid", "0", "--reward-match", "0", "--reward-no-edit", "0"], "are all 0, so no rollout would be rewarded"),
    (["--domain", "tags", "--tis-cap", "-1"], "--tis-cap must be at least 1, or 0 for off (got -1.0)"),
    (["--domain", "tags", "--overlong-buffer", "4", "--overlong-penalty", "-1"], "--overlong-penalty must be a finite number >= 0 (got -1.0)"),
    (["--domain", "tags", "--overlong-buffer", "1000"], "--overlong-buffer 1000 is longer than the longest action the checkpoint was trained on"),
    (["--domain", "tags", "--val-examples", "0"], "--val-examples must be at least 1 (got 0)"),
    (["--domain", "tags", "--rollouts", "greedy"], "--rollouts must be one of sample, beam (got 'greedy')"),
    (["--domain", "tags", "--rollouts", "beam", "--baseline", "served"], "--baseline served applies to sampled rollouts"),
    (["--domain", "tags", "--rollouts", "beam", "--risk-sharpness", "0"], "--risk-sharpness must be a positive finite number (got 0.0)"),
    (["--domain", "tags", "--rollouts", "beam", "--risk-sharpness", "inf"], "--risk-sharpness must be a positive finite number (got inf)"),
    (["--domain", "tags", "--temperature", "inf"], "--temperature must be a positive finite number (got inf)"),
    (["--domain", "tags", "--lr", "inf"], "--lr must be a positive finite number (got inf)"),
    # Lightning converts a true-precision batch's tensors, and nep rl's batches are prompts: a traceback
    (["--domain", "tags", "--precision", "bf16-true"], "--precision bf16-true is not one nep rl runs in (its batches are prompts"),
    (["--domain", "tags", "--precision", "64-true"], "use 32-true, bf16-mixed, 16-mixed"),
    # a KL term has no place in minimum risk training's loss: it was accepted, recorded and never applied
    (["--domain", "tags", "--rollouts", "beam", "--beta", "0.1"], "--beta applies to sampled rollouts"),
    (["--domain", "tags", "--epsilon", "0.3", "--epsilon-high", "0.1"], "--epsilon-high 0.1 is below --epsilon 0.3"),
    # more prompts per batch than there are: it ran with smaller batches while nep.json recorded this size
    (["--domain", "tags", "--batch-size", "1000000"], "--batch-size 1000000 is more than the"),
])
def test_rl_refuses_bad_input_in_one_line(args, message, trained_tags_model, tmp_path):
    result = nep("rl", "--model", str(trained_tags_model), "--out", str(tmp_path / "run"), *args)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_an_update_that_makes_the_weights_nan_stops_the_run_in_one_line_and_saves_nothing(trained_tags_model, tmp_path):
    """`--lr 10000` kept a finite loss, made the weights NaN, and the next rollout was a traceback from torch.multinomial;
    the on-exception checkpoint then held those weights, and --resume failed the same way."""
    out = tmp_path / "run"
    result = nep("rl", "--domain", "tags", "--model", str(trained_tags_model), "--out", str(out), "--max-steps", "10",
                 "--val-every", "100", "--val-examples", "4", "--batch-size", "4", "-G", "4", "--lr", "1e6", "-q")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert re.fullmatch(r"error: step \d+: the update made the model's weights NaN or infinite, so the run stopped and saved nothing "
                        r"of it; start again with a lower --lr \(this run: 1e\+06\)", last), result.stderr
    assert not (out / "lightning" / "on_exception.ckpt").exists()


def test_rl_overwrites_neither_its_start_model_nor_a_folder_that_is_not_a_run(trained_tags_model, tmp_path):
    import shutil

    copy = tmp_path / "exported"  # a checkpoint copied without its lightning/ state
    copy.mkdir()
    for name in ("nep.json", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        if (trained_tags_model / name).exists():
            shutil.copy(trained_tags_model / name, copy / name)
    before = sorted(path.name for path in copy.iterdir())
    result = nep("rl", "--domain", "tags", "--model", str(copy), "--out", str(copy))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--out {copy} is the model this run starts from, which the run would overwrite; pass another --out" in result.stderr
    assert sorted(path.name for path in copy.iterdir()) == before
    project = tmp_path / "project"
    (project / "logs").mkdir(parents=True)
    (project / "logs" / "app.log").write_text("precious\n")
    (project / "nep.json").write_text('{"mine": 1}')
    result = nep("rl", "--domain", "tags", "--model", str(copy), "--out", str(project))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{project} holds a NEP model without its run state (lightning/*.ckpt); a new run would replace it" in result.stderr
    assert (project / "logs" / "app.log").read_text() == "precious\n" and (project / "nep.json").read_text() == '{"mine": 1}'
    (project / "nep.json").unlink()
    result = nep("rl", "--domain", "tags", "--model", str(copy), "--out", str(project))
    assert result.returncode == 2 and f"{project} is not empty (logs) and is not a NEP run; pass a new or empty folder as --out" in result.stderr
    assert (project / "logs" / "app.log").read_text() == "precious\n"


def test_rl_refuses_a_location_model(trained_tags_model, tmp_path):
    """A location checkpoint decodes only where an edit goes: nothing a verifier can judge."""
    import shutil

    location = tmp_path / "location"
    shutil.copytree(trained_tags_model, location)
    meta = json.loads((location / "nep.json").read_text())
    (location / "nep.json").write_text(json.dumps({**meta, "target": "location"}))
    result = nep("rl", "--domain", "tags", "--model", str(location), "--out", str(tmp_path / "run"), "--match-mode", "exact")
    assert result.returncode != 0 and "a location model" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run").exists()


def test_rl_help_teaches_the_options_with_trl_names():
    result = nep("rl", "--help")
    assert result.returncode == 0
    for option in ("--loss-type", "--epsilon-high", "--beta", "--scale-rewards", "--dynamic-sampling", "--tis-cap",
                   "--mask-truncated-completions", "--overlong-buffer", "--num-generations", "--negative-weight", "nep rl --domain code"):
        assert option in result.stdout, option


def test_guidance_adds_the_users_action_to_each_group_scored_like_a_sample(loaded, tags_domain, tags_sessions):
    from nep_core.rl.config import PolicySettings

    predictor = ModelPredictor(loaded, tags_domain)
    sampler = ConstrainedSampler(predictor)
    contexts, targets, examples = _sampled_examples(sampler, tags_sessions, seed=11)
    # the forced completion is the action as the sampler would write it, under the same grammar biases
    forced = sampler.forced(contexts[0], targets[0])
    assert forced.token_ids[-1] == predictor.eos_id and forced.action == targets[0]
    assert all(bias[token] == 0 for bias, token in zip(forced.biases, forced.token_ids))
    policy = PolicySettings(num_generations=3, guidance=True, dynamic_sampling=False, rewards=RewardWeights(match_mode="exact"))
    system = _system(loaded, tags_domain, predictor, policy)
    rollouts = system._rollouts(examples)
    assert len(rollouts.completions) == len(examples) * 4
    for index, target in enumerate(targets):
        group = rollouts.completions[index * 4 : index * 4 + 4]
        assert group[-1].action == target  # the reference closes its group
        # its log-probabilities are the policy's own (importance weight 1) and sum to the serving predictor's
        assert sum(group[-1].logps) == pytest.approx(predictor.sequence_logprob(contexts[index], target), abs=1e-4)
        advantages = rollouts.advantages[index * 4 : index * 4 + 4]
        assert advantages[-1] == advantages.max()  # nothing scores above the user's own action
    assert rollouts.stats["groups"] == len(examples)
    assert sampler.forced(contexts[0], Action(kind="no-such-kind")) is None


def test_positive_only_reinforces_the_samples_above_their_groups_mean_and_leaves_the_rest(loaded, tags_domain, tags_sessions):
    from nep_core.rl.config import PolicySettings

    predictor = ModelPredictor(loaded, tags_domain)
    _, _, examples = _sampled_examples(ConstrainedSampler(predictor), tags_sessions, seed=15)
    policy = PolicySettings(num_generations=4, guidance=True, negative_weight=0.0, scale_rewards="none", dynamic_sampling=False, rewards=RewardWeights(match_mode="exact"))
    system = _system(loaded, tags_domain, predictor, policy)
    rollouts = system._rollouts(examples)
    below = 0
    for index, example in enumerate(examples):
        group = rollouts.completions[index * 5 : index * 5 + 5]  # four samples and the user's action
        rewards = [part.total for part in system.rewards.score([(example.context, completion.action, example.target) for completion in group])]
        mean = sum(rewards) / len(rewards)
        expected = [max(reward - mean, 0.0) for reward in rewards]  # A_i = r_i - mean, negative ones times 0
        assert rollouts.advantages[index * 5 : index * 5 + 5].tolist() == pytest.approx(expected, abs=1e-6)
        below += sum(reward < mean - 1e-9 for reward in rewards)
    assert below > 0  # some samples were worse than their group, and they do not move


def test_divergence_credit_pushes_a_worse_sample_down_only_from_where_it_departs_from_the_users_action(loaded, tags_domain, tags_sessions):
    from nep_core.rl.config import PolicySettings

    predictor = ModelPredictor(loaded, tags_domain)
    sampler = ConstrainedSampler(predictor)
    _, _, examples = _sampled_examples(sampler, tags_sessions, seed=16)
    plain = PolicySettings(num_generations=4, scale_rewards="none", dynamic_sampling=False, rewards=RewardWeights(match_mode="exact"))
    policy = PolicySettings(**{**plain.__dict__, "negative_credit": "divergence"})
    system = _system(loaded, tags_domain, predictor, policy)
    system._generator.manual_seed(3)
    rollouts = system._rollouts(examples)
    assert rollouts.advantages.shape == rollouts.mask.shape  # per token
    spared = 0
    for index, completion in enumerate(rollouts.completions):
        example = examples[index // 4]
        reference = sampler.forced(example.context, canonical_action(example.target, tags_domain.action_space)).token_ids
        rewards = [part.total for part in system.rewards.score([(example.context, member.action, example.target) for member in rollouts.completions[index // 4 * 4 : index // 4 * 4 + 4]])]
        advantage = rewards[index % 4] - sum(rewards) / 4
        shared = 0
        while shared < min(len(reference), len(completion.token_ids)) and completion.token_ids[shared] == reference[shared]:
            shared += 1
        row = rollouts.advantages[index, : len(completion.token_ids)].tolist()
        expected = [0.0 if advantage < 0 and step < shared else advantage for step in range(len(completion.token_ids))]
        assert row == pytest.approx(expected, abs=1e-6)
        spared += advantage < 0 and 0 < shared
    assert spared > 0  # some worse samples began like the user's action, and that beginning is not pushed down


def test_a_step_whose_every_edit_fails_in_a_verifier_stops_the_run_naming_it(loaded, tags_domain, tags_sessions):
    """Every rollout counted invalid used to train on zeros to the end, with exit 0."""
    from nep_core.rl.config import PolicySettings

    class Broken(_Judge):
        def verify(self, context, predicted, reference=None):
            raise KeyError("x")

    predictor = ModelPredictor(loaded, tags_domain)
    _, _, examples = _sampled_examples(ConstrainedSampler(predictor), tags_sessions, seed=17)
    policy = PolicySettings(num_generations=4, dynamic_sampling=False)
    judged = _domain(tags_domain, {"judge": Broken()})
    system = _system(loaded, judged, predictor, policy)
    with pytest.raises(NepError) as raised:
        system._step_loss(examples)
    assert re.fullmatch(r"step 0: every edit sampled failed in a verifier, so there is no reward to learn from \(most often, \d+ times: "
                        r"verifier 'judge' raised KeyError: 'x' \(test_rl\.py:\d+\)\); fix the verifier, or leave it out of the domain",
                        str(raised.value)), str(raised.value)
    working = _system(loaded, _domain(tags_domain, {"judge": _Judge(raise_on="close")}), predictor, policy)
    stats = working._rollouts(examples).stats
    assert 0 < stats["edit_invalid_share"] < 1
    working._check_some_rollout_was_judged(stats)  # some edits judged: the run goes on


def test_a_served_baseline_compares_each_sample_with_the_decision_the_predictor_serves(loaded, tags_domain, tags_sessions):
    from nep_core.examples import Example
    from nep_core.rl.config import PolicySettings

    predictor = ModelPredictor(loaded, tags_domain)
    contexts = random_contexts(3, seed=12, sessions=tags_sessions[:10])
    served = [predictor.predict(context, k=1).best for context in contexts]
    examples = [Example(context, action, f"s{index}", "test", 0) for index, (context, action) in enumerate(zip(contexts, served))]
    policy = PolicySettings(num_generations=4, baseline="served", scale_rewards="none", dynamic_sampling=False, rewards=RewardWeights(match_mode="exact"))
    system = _system(loaded, tags_domain, predictor, policy)
    rollouts = system._rollouts(examples)
    assert len(rollouts.completions) == len(examples) * 4
    best = system.rewards.score([(examples[0].context, served[0], examples[0].target)])[0].total
    assert rollouts.stats["served_reward"] == pytest.approx(best)  # the user did what the model serves
    matches = []
    for index, completion in enumerate(rollouts.completions):
        example = examples[index // 4]
        part = system.rewards.score([(example.context, completion.action, example.target)])[0]
        reward = part.total
        matches.append(part.match)
        assert rollouts.advantages[index].item() == pytest.approx(reward - best)  # r_i - r(served), unscaled
        assert rollouts.advantages[index].item() <= 1e-6  # no sample beats the user's own action
    assert rollouts.stats["reward_match"] == pytest.approx(sum(matches) / len(matches))  # the served decisions are not samples


def test_the_supervised_term_is_the_users_actions_mean_token_nll_under_the_grammar(loaded, tags_domain, tags_sessions):
    from nep_core.rl.config import PolicySettings

    predictor = ModelPredictor(loaded, tags_domain)
    sampler = ConstrainedSampler(predictor)
    contexts, targets, examples = _sampled_examples(sampler, tags_sessions, seed=13)
    policy = PolicySettings(num_generations=2, sft_weight=0.5, dynamic_sampling=False)
    system = _system(loaded, tags_domain, predictor, policy)
    rollouts = system._rollouts(examples)
    assert [completion.action for _, completion in rollouts.references] == targets  # one per prompt of the batch
    tokens = sum(len(completion.token_ids) for _, completion in rollouts.references)
    expected = -sum(predictor.sequence_logprob(context, target) for context, target in zip(contexts, targets)) / tokens
    supervised = system._supervised_loss(rollouts.references)
    assert supervised.item() == pytest.approx(expected, abs=1e-4)
    supervised.backward()  # it trains the model
    assert any(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in loaded.model.parameters())
    loaded.model.zero_grad()
    plain = _system(loaded, tags_domain, predictor, PolicySettings(num_generations=2, dynamic_sampling=False))  # off by default
    assert plain._rollouts(examples[:1]).references == []


def test_beam_rollouts_are_no_edit_and_the_served_beams_edits_with_the_minimum_risk_loss(loaded, tags_domain, tags_sessions):
    from nep_core.examples import Example
    from nep_core.rl.config import PolicySettings
    from nep_core.rl.system import CandidateBatch

    predictor = ModelPredictor(loaded, tags_domain)
    contexts = random_contexts(3, seed=14, sessions=tags_sessions[:10])
    beams = [predictor.predict(context, k=3) for context in contexts]
    targets = [beam.suggestions[1].action for beam in beams]  # the user did the runner-up
    examples = [Example(context, target, f"s{index}", "test", 0) for index, (context, target) in enumerate(zip(contexts, targets))]
    policy = PolicySettings(num_generations=3, rollouts="beam", risk_sharpness=1.0, max_resample_rounds=0, rewards=RewardWeights(match_mode="exact", valid=0.0, no_edit=0.0))
    system = _system(loaded, tags_domain, predictor, policy)
    batch = system._rollouts(examples)
    assert isinstance(batch, CandidateBatch) and batch.stats["groups"] == 3 and batch.stats["reference_in_beam"] == 1.0
    logps = []
    for index, (context, beam) in enumerate(zip(contexts, beams)):
        group = batch.completions[index * 4 : index * 4 + 4]
        assert [completion.action for completion in group] == [NO_EDIT] + [suggestion.action for suggestion in beam.suggestions]
        assert batch.rewards[index].tolist() == [0.0, 0.0, 1.0, 0.0]  # exact match: only the user's action
        logps.append([predictor.sequence_logprob(context, completion.action) for completion in group])
    # the loss is minus the mean expected reward under softmax(log p) over each candidate set
    expected = sum(math.exp(row[2]) / sum(math.exp(value) for value in row) for row in logps) / 3
    loss = system._risk_loss(batch).loss
    assert loss.item() == pytest.approx(-expected, abs=1e-4)
    loss.backward()
    assert any(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in loaded.model.parameters())
    loaded.model.zero_grad()
    # a set whose candidates all score alike carries no signal: dynamic sampling drops it
    silent = [Example(contexts[0], Action(kind="no-such-kind"), "s9", "test", 0)]
    assert system._rollouts(silent).stats["zero_signal_fraction"] == 1.0
    with pytest.raises(NepError, match="--risk-sharpness"):
        PolicySettings(rollouts="beam", temperature=0.7).validate()


def test_rl_with_beam_rollouts_trains_and_logs_the_expected_reward(trained_tags_model, tmp_path):
    from nep_core.rl.run import rl

    folder = rl(_rl_config(tmp_path / "rl", trained_tags_model, max_steps=2, policy={"rollouts": "beam", "sft_weight": 0.1}))
    meta = json.loads((folder / "nep.json").read_text())
    assert meta["rl"]["steps"] == 2 and meta["rl"]["policy"]["rollouts"] == "beam"
    assert (folder / "rl.png").stat().st_size > 10_000  # the panels it logs, without the empty ratio panels
    logged = {key for row in _metrics(folder) for key, value in row.items() if value not in ("", None)}
    for name in ("rl/expected_reward", "rl/top_probability", "rl/served_reward", "rl/reference_in_beam", "rl/zero_signal_fraction", "rl/sft_loss"):
        assert name in logged, name
    tuned = load_checkpoint(folder, "tags").model.state_dict()
    start = load_checkpoint(trained_tags_model, "tags").model.state_dict()
    assert any(not torch.equal(tuned[name], start[name]) for name in start)


def _sampled_examples(sampler, sessions, seed: int):
    """Three random contexts of the tags sessions, each with a sampled action as its target."""
    from nep_core.examples import Example

    contexts = random_contexts(3, seed=seed, sessions=sessions[:10])
    targets = [sampler.sample(context, 1, generator=torch.Generator().manual_seed(index))[1][0].action for index, context in enumerate(contexts)]
    examples = [Example(context, target, f"s{index}", "test", 0) for index, (context, target) in enumerate(zip(contexts, targets))]
    return contexts, targets, examples


def _system(loaded, domain, predictor, policy):
    """An RLSystem around the loaded model, ready to draw rollouts (no trainer)."""
    from nep_core.rl.system import RLSystem

    system = RLSystem(loaded.model, 1e-4, 10, 1, domain, lambda model: predictor, policy, 16, refill=[])
    system.on_fit_start()
    return system


def test_a_resumed_run_may_validate_on_another_number_of_examples_but_not_train_otherwise():
    from nep_core.rl.run import policy_differences

    saved = {"config": {"learning_rate": 5e-5, "policy": {"val_examples": 4, "beta": 0.0, "rewards": {"valid": 0.25}}}}
    assert policy_differences(saved, {"config": {"learning_rate": 5e-5, "policy": {"val_examples": 64, "beta": 0.0, "rewards": {"valid": 0.25}}}}) == []
    assert policy_differences(saved, {"config": {"learning_rate": 1e-4, "policy": {"val_examples": 64, "beta": 0.0, "rewards": {"valid": 0.5}}}}) == [
        "learning_rate 5e-05 -> 0.0001", "rewards.valid 0.25 -> 0.5"]


def test_seeds_out_of_range_and_infinite_clips_are_refused_before_the_run_starts(tmp_path):
    """`nep rl --seed -1` (or 99999999999999) was a ValueError traceback from seed_everything after the run folder was started."""
    from nep_core.rl.config import PolicySettings, RLConfig

    model = tmp_path / "model"
    RLConfig(domain="tags", model=model, seed=2**32 - 1).validate()
    for seed in (-1, 99999999999999):
        with pytest.raises(NepError, match=re.escape(f"--seed must be a whole number from 0 to 4294967295 (got {seed})")):
            RLConfig(domain="tags", model=model, seed=seed).validate()
    with pytest.raises(NepError, match=re.escape("--epsilon-high must be a finite number >= 0 (got inf)")):
        RLConfig(domain="tags", model=model, policy=PolicySettings(epsilon_high=float("inf"))).validate()
    with pytest.raises(NepError, match=re.escape("weight_decay must be a finite number >= 0 (got nan)")):
        RLConfig(domain="tags", model=model, weight_decay=float("nan")).validate()


def test_rl_says_what_the_data_reader_skipped_even_when_quiet(trained_tags_model, tmp_path):
    """`nep rl` read a damaged data folder without a word about the lines it skipped."""
    data = tmp_path / "data"
    assert nep("collect", "--domain", "tags", "--source", "synthetic:30", "--out", str(data)).returncode == 0
    damaged = sorted(data.glob("*.jsonl"))[0]
    lines = damaged.read_text().splitlines(keepends=True)
    damaged.write_text(lines[0] + "{not json\n" + "".join(lines[1:]))
    result = nep("rl", "--domain", "tags", "--model", str(trained_tags_model), "--data", str(data), "--max-steps", "1",
                 "--batch-size", "2", "--match-mode", "exact", "-q", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert f"warning: {damaged}:2: not valid JSON" in result.stderr.replace("\n", "")


def test_rl_errors_name_settings_that_exist():
    """The errors named `--max-completion-length`, which `nep rl` does not have."""
    from nep_core.rl.config import PolicySettings
    from nep_core.rl.run import completion_limit

    with pytest.raises(NepError) as short:
        PolicySettings(max_completion_length=1).validate()
    with pytest.raises(NepError) as longer:
        completion_limit(PolicySettings(overlong_buffer=9), {"max_target_tokens": 8})
    with pytest.raises(NepError) as explicit:
        completion_limit(PolicySettings(overlong_buffer=10, max_completion_length=10), {"max_target_tokens": 8})
    assert str(short.value) == "max_completion_length must be at least 2 tokens (got 1)"
    assert str(longer.value).startswith("--overlong-buffer 9 is longer than the longest action the checkpoint was trained on (8 tokens")
    assert str(explicit.value) == "overlong_buffer 10 must be shorter than max_completion_length 10"


def test_a_baseline_as_model_is_refused_as_a_baseline(tmp_path):
    """`nep rl --model ngram` said 'ngram: no such model folder; train one with nep train --out ngram'."""
    for name in ("ngram", "ngram:4", "repeat-last"):
        result = nep("rl", "--domain", "tags", "--model", name, "--out", str(tmp_path / "run"))
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"--model {name} is a baseline, which has no weights to tune; nep rl needs a checkpoint folder trained by `nep train`" in result.stderr
        assert "no such model folder" not in result.stderr
    from nep_core.checkpoint import read_meta

    with pytest.raises(NepError, match="ngram is a baseline, not a model folder; this needs a checkpoint folder trained by `nep train`"):
        read_meta("ngram")


def test_a_resume_with_other_data_says_the_default_data_not_none(tmp_path):
    from nep_core.training.run_folder import RunFolder

    folder = RunFolder(tmp_path / "run")
    folder.start_fresh({"domain": "tags", "data": None})
    with pytest.raises(NepError, match=re.escape("was started with the default data, not 'synthetic:30'; resume with the same --data")):
        folder.check_resumable({"domain": "tags", "data": "synthetic:30"}, ("domain", "data"))
    folder.start_fresh({"domain": "tags", "data": "synthetic:30"})
    with pytest.raises(NepError, match=re.escape("was started with data='synthetic:30', not the default data; resume with the same --data")):
        folder.check_resumable({"domain": "tags", "data": None}, ("domain", "data"))


def test_nep_json_records_the_data_rl_drew_from_the_validation_at_start_and_end_and_an_earlier_rl_run(trained_tags_model, tmp_path):
    """nep.json of an rl run recorded only its start model's data (`--data d_one` read as the default data);
    the summary could not say whether RL helped; a second rl run replaced the first one's rl block."""
    from nep_core.plugins import get_domain
    from nep_core.rl.run import rl
    from nep_core.training.run import prepare_data

    start = json.loads((trained_tags_model / "nep.json").read_text())
    first = rl(_rl_config(tmp_path / "first", trained_tags_model, data="synthetic:30", max_steps=2, val_every=2))
    meta = json.loads((first / "nep.json").read_text())
    assert meta["data"] == start["data"]  # what the model was trained on
    data = prepare_data(get_domain("tags"), "synthetic:30", lambda message: None)
    recorded = meta["rl"]["data"]
    assert recorded["source"] == "synthetic:30" != start["data"]["source"]
    assert recorded["sessions"] == {split: len(sessions) for split, sessions in data.sessions.items()}
    assert recorded["examples_kept"] == data.report.as_dict()["examples_kept"] and recorded["prompts"] == len(data.examples["train"])
    assert recorded["per_split"] == data.report.as_dict()["per_split"]
    validation = meta["rl"]["validation"]
    assert validation["examples"] == recorded["val_examples"] == 8
    assert set(validation["start"]) == set(validation["end"]) == set(meta["metrics"])
    assert validation["end"] == meta["metrics"]
    rows = _metrics(first)
    start_rows = [row for row in rows if row.get("val/exact") and int(row["step"]) == 0]
    assert len(start_rows) == 1 and float(start_rows[0]["val/exact"]) == pytest.approx(validation["start"]["val_exact_match"], abs=1e-5)

    second = rl(_rl_config(tmp_path / "second", first, max_steps=1, val_every=1))
    again = json.loads((second / "nep.json").read_text())
    assert again["rl"]["previous"] == meta["rl"]  # the earlier run's record is kept
    assert again["rl"]["start_model"] == str(first.resolve()) and again["rl"]["data"]["source"].startswith("default (synthetic:")


def test_the_summary_shows_validation_from_start_to_end_and_the_kl(trained_tags_model, tmp_path):
    result = nep("rl", "--domain", "tags", "--model", str(trained_tags_model), "--out", str(tmp_path / "run"), "--max-steps", "2",
                 "--val-every", "2", "--val-examples", "8", "-b", "4", "-G", "4", "--beta", "0.05", "--lr", "1e-3")
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "run" / "nep.json").read_text())
    start, end = meta["rl"]["validation"]["start"], meta["rl"]["validation"]["end"]
    line = next(line for line in result.stdout.splitlines() if line.startswith("validation"))
    assert line.startswith("validation (8 examples), step 0 -> 2: reward ")
    assert f"exact match {start['val_exact_match']:.3f} -> {end['val_exact_match']:.3f}" in line
    kl = meta["rl"]["kl"]
    assert kl["last"] > 0 and kl["mean"] > 0
    assert f"KL to the start model (beta 0.05): {kl['last']:.3g} at the last step, {kl['mean']:.3g} on average" in result.stdout
    assert re.search(r"^step 0/2 · val reward [0-9.]+ \(exact [0-9.]+\)", result.stderr, re.M), result.stderr
    assert re.search(r"^step 2/2 · .* · KL [0-9.]+", result.stderr, re.M), result.stderr


def test_an_undefined_no_edit_precision_is_shown_as_a_dash_and_stored_as_null():
    """With nothing predicted NO_EDIT, precision was printed and stored as 0.000, as if every NO_EDIT were wrong."""
    from types import SimpleNamespace

    from nep_core.cli.rl import describe_validation
    from nep_core.rl.system import RLSystem

    system = SimpleNamespace(_trainer=None, val_examples_counted=0)
    # 4 examples, reward 3, exact 2; NO_EDIT: never predicted, expected once
    metrics = RLSystem._val_metrics(system, torch.tensor([4.0, 3.0, 2.0, 0.0, 0.0, 1.0], dtype=torch.float64))
    assert metrics == {"val_reward": 0.75, "val_exact_match": 0.5, "val_no_edit_precision": None, "val_no_edit_recall": 0.0}
    assert system.val_examples_counted == 4
    start = {**metrics, "val_no_edit_precision": 0.5, "val_no_edit_recall": 1.0}
    assert describe_validation({"steps": 10, "validation": {"examples": 4, "start": start, "end": metrics}}, metrics) == (
        "validation (4 examples), step 0 -> 10: reward 0.750 -> 0.750 · exact match 0.500 -> 0.500 · "
        "no edit precision 0.500 -> - · no edit recall 1.000 -> 0.000"
    )
    # resumed with another --val-examples: the start and the end were measured on different sets, and say so
    resumed = describe_validation({"steps": 10, "validation": {"examples": 4, "start_examples": 8, "start": start, "end": metrics}}, metrics)
    assert resumed.startswith("validation (8 examples at the start, 4 at the end: not one set), step 0 -> 10: ")


def test_a_run_resumed_between_steps_on_the_same_rollouts_goes_on_as_the_run_would_have(trained_tags_model, tmp_path):
    """With --num-iterations 2, the rollouts of step 2k serve step 2k+1 too; they were not saved, so a run
    resumed at an odd step sampled new ones where the uninterrupted run reused them."""
    from nep_core.rl.run import rl

    policy = {"num_iterations": 2, "beta": 0.05, "sft_weight": 0.1}
    whole = rl(_rl_config(tmp_path / "whole", trained_tags_model, val_every=100, policy=policy))
    rl(_rl_config(tmp_path / "parts", trained_tags_model, max_steps=3, val_every=100, policy=policy))
    state = torch.load(tmp_path / "parts" / "lightning" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["global_step"] == 3 and state["nep_rl"]["batch"] is not None  # plain data: loads with weights_only
    parts = rl(_rl_config(tmp_path / "parts", trained_tags_model, resume=True, val_every=100, policy=policy))

    def by_step(folder):
        return {int(row["step"]): (row["rl/reward"], row["rl/ratio_max"], row["rl/kl"], row["rl/sft_loss"]) for row in _metrics(folder)
                if row.get("rl/reward")}

    assert len(by_step(whole)) == 4
    for step in range(4):
        assert [float(value) for value in by_step(parts)[step]] == pytest.approx([float(value) for value in by_step(whole)[step]], abs=1e-5), step
    tuned, reference = load_checkpoint(parts, "tags").model.state_dict(), load_checkpoint(whole, "tags").model.state_dict()
    for name in reference:
        assert torch.allclose(tuned[name], reference[name], atol=1e-6), name


def test_ctrl_c_during_the_step_0_validation_stops_at_once_and_says_nothing_was_saved(trained_tags_model, tmp_path, monkeypatch):
    """The first Ctrl-C while the start model was validated waited for the whole validation and one step;
    a second one stopped at once, and the message said state was saved in a last.ckpt that did not exist
    (and the folder it left held run.json and the tokenizer, as nep train's no longer does)."""
    import signal

    from nep_core.rl.run import rl
    from nep_core.rl.system import RLSystem
    from nep_core.training.run import TrainingInterrupted

    counted = RLSystem._served_counts
    batches = []

    def ctrl_c_in_the_first_batch(self, batch):
        batches.append(self.global_step)
        if len(batches) == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return counted(self, batch)

    monkeypatch.setattr(RLSystem, "_served_counts", ctrl_c_in_the_first_batch)
    config = _rl_config(tmp_path / "run", trained_tags_model, max_steps=4, val_every=2)
    config.policy.val_examples = 48  # three batches of 16
    with pytest.raises(TrainingInterrupted) as stopped:
        rl(config)
    assert "before its first step of 4 had finished, so nothing was saved to resume; start again with the same command" in str(stopped.value)
    assert batches == [0]  # the validation stopped after the batch it was in; no step was trained
    assert not (tmp_path / "run").exists()  # nothing to resume, so nothing is left: not even run.json and the tokenizer
    monkeypatch.setattr(RLSystem, "_served_counts", counted)
    finished = rl(_rl_config(tmp_path / "run", trained_tags_model, max_steps=1, val_every=1))  # the same folder, without --resume
    assert json.loads((finished / "nep.json").read_text())["rl"]["steps"] == 1
