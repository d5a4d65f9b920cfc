"""Supervised training: batches and labels, the loss, the schedule, the run folder, and that it learns."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict

import pytest
import torch
import torch.nn.functional as F

from nep_core.errors import NepError
from nep_core.training.datamodule import IGNORE_INDEX, ResumableBatchSampler, TokenizedExample, collate, tokenize


@pytest.fixture(scope="module")
def tags_examples(tags_domain, tags_sessions):
    from nep_core.examples import build_examples, split_sessions

    examples, _ = build_examples(split_sessions(tags_sessions, tags_domain.examples), tags_domain)
    return examples


@pytest.fixture(scope="module")
def featurizer(tags_domain):
    from nep_core.features import Featurizer

    return Featurizer(tags_domain, tags_domain.build_tokenizer(), 120)


def test_tokens_an_encoder_writes_but_its_vocabulary_leaves_out_are_counted_and_named(tags_domain, tags_examples):
    """They used to be read as <unk> without a word (a plugin's vocabulary() that forgot its state tokens)."""
    from dataclasses import replace

    from nep_core.action_space import UNK
    from nep_core.features import Featurizer

    class Forgetful(type(tags_domain.encoder)):
        def encode(self, context):
            return ["ctx:unlisted", UNK, *super().encode(context)]  # the <unk> it writes itself is meant

    forgetful = replace(tags_domain, encoder=Forgetful(tags_domain.action_space))
    featurizer = Featurizer(forgetful, forgetful.build_tokenizer(), 120, count_problems=True)
    assert featurizer.unlisted_warning() is None
    for example in tags_examples["train"][:3]:
        featurizer.prompt_ids(example.context)
    assert featurizer.unlisted == Counter({"ctx:unlisted": 3})
    assert featurizer.unlisted_warning() == ("3 token(s) written by the domain's encoder or action space are not in its vocabulary() "
                                             "and were read as <unk> (commonest: 'ctx:unlisted'); list every token they write in vocabulary()")


def test_a_state_longer_than_the_encoders_budget_is_counted_and_named(tags_domain, tags_examples):
    """An ActionHistoryEncoder whose state_tokens alone outgrew max_tokens wrote no history at all, without a word."""
    from dataclasses import replace

    from nep_core.features import Featurizer

    class Wordy(type(tags_domain.encoder)):
        def state_tokens(self, state):
            return [*super().state_tokens(state), *["<unk>"] * 30]

    wordy = replace(tags_domain, encoder=Wordy(tags_domain.action_space, max_tokens=20))
    featurizer = Featurizer(wordy, wordy.build_tokenizer(), 25, count_problems=True)
    for example in tags_examples["train"][:4]:
        featurizer.prompt_ids(example.context)
    assert featurizer.overlong["overlong"] == 4 and featurizer.overlong["cut"] == 4
    warning = featurizer.overlong_warning()
    assert warning.startswith("the domain's Wordy wrote 4 of 4 contexts in more than its max_tokens (20; up to ")
    assert "4 of them were cut to the model's newest 25 context tokens" in warning
    fitting = Featurizer(tags_domain, tags_domain.build_tokenizer(), 120, count_problems=True)
    for example in tags_examples["train"][:4]:
        fitting.prompt_ids(example.context)
    assert fitting.overlong["contexts"] == 4 and fitting.overlong_warning() is None


def test_collate_pads_right_and_labels_only_the_target():
    batch = collate([TokenizedExample((2, 7, 8, 3, 9, 4), 4), TokenizedExample((2, 7, 3, 5, 4), 3)], pad_id=0)
    assert batch["input_ids"].tolist() == [[2, 7, 8, 3, 9, 4], [2, 7, 3, 5, 4, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]]
    ignore = IGNORE_INDEX
    assert batch["labels"].tolist() == [[ignore] * 4 + [9, 4], [ignore] * 3 + [5, 4, ignore]]
    assert batch["prompt_mask"].tolist() == [[False, True, True, True, False, False], [False, True, True, False, False, False]]


def test_tokenize_is_prompt_then_target(tags_examples, featurizer):
    example = tags_examples["train"][5]
    (tokenized,) = tokenize([example], featurizer)
    tokens = featurizer.tokens(tokenized.input_ids)
    assert tokens[0] == "<bos>" and tokens[tokenized.prompt_length - 1] == "<sep>" and tokens[-1] == "<eos>"
    assert tokens[tokenized.prompt_length : -1] == featurizer.domain.action_space.encode(example.target)


def test_loss_covers_target_tokens_only_and_matches_the_hf_loss(tags_domain, tags_examples, featurizer):
    from nep_core.model.config import build_model, get_preset
    from nep_core.training.system import NextEditSystem

    torch.manual_seed(0)
    model = build_model(get_preset("tiny"), featurizer.tokenizer)
    system = NextEditSystem(model, learning_rate=1e-3, max_steps=10, warmup_steps=1)
    batch = collate(tokenize(tags_examples["train"][:24], featurizer), featurizer.tokenizer.pad_token_id)
    logits, targets, rows = system.target_logits(batch)
    target_count = int((batch["labels"] != IGNORE_INDEX).sum())
    assert targets.numel() == target_count and logits.shape == (target_count, len(featurizer.tokenizer))
    assert rows.max().item() == 23
    ours = F.cross_entropy(logits, targets)
    theirs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    assert torch.allclose(ours, theirs, atol=1e-5)  # transformers' own shifted, per-token mean over labels != -100


def test_prompt_loss_adds_the_prompt_tokens_own_loss_with_its_weight(tags_examples, featurizer):
    from nep_core.model.config import build_model, get_preset
    from nep_core.training.system import NextEditSystem

    torch.manual_seed(0)
    model = build_model(get_preset("tiny"), featurizer.tokenizer)
    batch = collate(tokenize(tags_examples["train"][:24], featurizer), featurizer.tokenizer.pad_token_id)
    target_only = NextEditSystem(model, learning_rate=1e-3, max_steps=10, warmup_steps=1)
    weighted = NextEditSystem(model, learning_rate=1e-3, max_steps=10, warmup_steps=1, prompt_loss_weight=0.5, prompt_loss_share=1.0)
    for system in (target_only, weighted):
        system.log = lambda *args, **kwargs: None
    prompt_only = batch["input_ids"].masked_fill(~batch["prompt_mask"], IGNORE_INDEX)
    hf = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    hf_prompt = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=prompt_only).loss
    assert torch.allclose(target_only.training_step(batch, 0), hf, atol=1e-5)
    assert torch.allclose(weighted.training_step(batch, 0), hf + 0.5 * hf_prompt, atol=1e-5)


def test_batches_cover_every_example_once_per_epoch_deterministically():
    lengths = [5 + (index * 7) % 23 for index in range(103)]
    sampler = ResumableBatchSampler(lengths, batch_size=8, seed=3)
    epoch0 = sampler.epoch_batches(0)
    assert sorted(index for batch in epoch0 for index in batch) == list(range(103))
    assert len(epoch0) == len(sampler) == 13
    assert epoch0 == ResumableBatchSampler(lengths, batch_size=8, seed=3).epoch_batches(0)
    assert epoch0 != sampler.epoch_batches(1)
    assert epoch0 != ResumableBatchSampler(lengths, batch_size=8, seed=4).epoch_batches(0)
    # Length grouping: a batch's lengths are far closer than a random draw's.
    spread = sum(max(lengths[i] for i in batch) - min(lengths[i] for i in batch) for batch in epoch0) / len(epoch0)
    assert spread < 8


def test_batches_are_dealt_evenly_across_ranks():
    lengths = [10] * 100
    shards = [ResumableBatchSampler(lengths, 8, seed=0, rank=rank, world_size=3).epoch_batches(0) for rank in range(3)]
    assert [len(shard) for shard in shards] == [4, 4, 4]
    seen = [index for shard in shards for batch in shard for index in batch]
    assert len(seen) == len(set(seen))


def test_batch_sampler_resumes_with_the_next_batch():
    lengths = list(range(1, 81))
    sampler = ResumableBatchSampler(lengths, 8, seed=1)
    sampler.set_epoch(2)
    iterator = iter(sampler)
    first_three = [next(iterator) for _ in range(3)]
    state = sampler.state_dict()
    assert state["epoch"] == 2 and state["position"] == 3
    resumed = ResumableBatchSampler(lengths, 8, seed=1)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)
    assert list(resumed) == sampler.epoch_batches(2)[3:]
    assert first_three == sampler.epoch_batches(2)[:3]
    resumed.set_epoch(3)
    assert list(resumed) == sampler.epoch_batches(3)  # only the interrupted epoch skips


def test_learning_rate_warms_up_then_decays_to_the_floor():
    from nep_core.training.system import NextEditSystem

    system = NextEditSystem(torch.nn.Linear(2, 2), learning_rate=1.0, max_steps=100, warmup_steps=10, min_lr_ratio=0.1)
    factors = [system.lr_factor(step) for step in range(101)]
    assert factors[0] < factors[5] < factors[9] < 1.0
    assert factors[10] == pytest.approx(1.0)
    assert all(later <= earlier + 1e-12 for earlier, later in zip(factors[10:], factors[11:]))
    assert factors[100] == pytest.approx(0.1)


def test_trained_run_folder_is_an_hf_checkpoint_with_nep_json(trained_tags_model, tags_domain):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fixtures_training import TRAINED_TAGS_STEPS
    from nep_core.checkpoint import load_checkpoint

    folder = trained_tags_model
    for name in ("config.json", "model.safetensors", "tokenizer.json", "nep.json", "loss.png", "lightning/last.ckpt"):
        assert (folder / name).is_file(), name
    assert not (folder / "lightning" / "on_exception.ckpt").exists()
    assert (folder / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    domain_tokenizer = tags_domain.build_tokenizer()
    assert model.config.vocab_size == len(tokenizer) == len(domain_tokenizer)
    # Plain Hugging Face loading gives the same token ids as the domain's own tokenizer.
    words = sorted(domain_tokenizer.get_vocab(), key=domain_tokenizer.get_vocab().get)
    assert tokenizer(" ".join(words), add_special_tokens=False).input_ids == list(range(len(words)))
    assert tokenizer("@open never-seen", add_special_tokens=False).input_ids[1] == tokenizer.unk_token_id
    loaded = load_checkpoint(folder, expected_domain="tags")
    with pytest.raises(NepError, match="not 'blender'"):
        load_checkpoint(folder, expected_domain="blender")

    meta = json.loads((folder / "nep.json").read_text())
    assert meta["domain"] == "tags" and meta["plugin"] == "nep_tags"
    assert meta["action_space"] == {"name": "tags", "version": "1"}
    assert meta["encoder"] == tags_domain.encoder.settings()
    assert meta["preset"]["name"] == "tiny"
    assert meta["max_target_tokens"] == 3  # @close target="a" <eos>
    assert meta["max_context_tokens"] + 2 + meta["max_target_tokens"] == meta["preset"]["max_positions"]
    assert loaded.max_context_tokens == meta["max_context_tokens"]
    data = meta["data"]
    assert data["source"] == "default (synthetic:300)"
    assert sum(data["sessions"].values()) == 300 and min(data["sessions"].values()) > 0
    assert data["per_split"]["train"] == data["examples_kept"] > 1000
    run = meta["training"]
    assert run["steps"] == TRAINED_TAGS_STEPS and run["tokens"] > run["steps"] * 100 and run["tokens_per_s"] > 0
    assert run["world_size"] == 1 and run["precision"] == "32-true"
    assert 0 < meta["metrics"]["val_loss"] < 1.0 and meta["metrics"]["val_token_accuracy"] > 0.7

    lightning = torch.load(folder / "lightning" / "last.ckpt", map_location="cpu", weights_only=False)
    assert lightning["global_step"] == TRAINED_TAGS_STEPS
    rows = list(csv.DictReader(open(next((folder / "logs").glob("version_*/metrics.csv")))))
    train_losses = [float(row["train/loss"]) for row in rows if row.get("train/loss")]
    val_losses = [float(row["val/loss"]) for row in rows if row.get("val/loss")]
    assert len(val_losses) >= 4 and val_losses[-1] < val_losses[0]
    assert len(train_losses) >= 50 and sum(train_losses[-10:]) < sum(train_losses[:10])
    assert any(row.get("train/tokens_per_s") for row in rows) and any(row.get("train/lr") for row in rows)


def _teacher_forced_hits(checkpoint, domain, examples) -> list[bool]:
    """Whether the model's argmax at every target position is right (= greedy decoding writes the target)."""
    from nep_core.checkpoint import load_checkpoint
    from nep_core.features import Featurizer
    from nep_core.training.system import NextEditSystem

    loaded = load_checkpoint(checkpoint, expected_domain=domain.name)
    featurizer = Featurizer(domain, loaded.tokenizer, loaded.max_context_tokens)
    system = NextEditSystem(loaded.model, learning_rate=1e-3, max_steps=1, warmup_steps=0)
    batch = collate(tokenize(examples, featurizer), loaded.tokenizer.pad_token_id)
    with torch.no_grad():
        logits, targets, rows = system.target_logits(batch)
    wrong = torch.zeros(len(examples)).index_add_(0, rows, (logits.argmax(-1) != targets).float())
    return (wrong == 0).tolist()


def _ngram_hits(train, held_out, order: int = 4) -> list[bool]:
    """An n-gram over the last actions with backoff: the most frequent next edit after the longest seen history."""
    tables = [defaultdict(Counter) for _ in range(order + 1)]
    for example in train:
        history = [action.key() for action in example.context.actions()]
        for k in range(order + 1):
            tables[k][tuple(history[len(history) - k :]) if k else ()][example.target.key()] += 1
    hits = []
    for example in held_out:
        history = [action.key() for action in example.context.actions()]
        for k in range(order, -1, -1):
            counts = tables[k].get(tuple(history[len(history) - k :]) if k else ())
            if counts:
                hits.append(counts.most_common(1)[0][0] == example.target.key())
                break
    return hits


def test_training_learns_which_tag_to_close(trained_tags_model, tags_domain, tags_examples):
    """On held-out sessions the model closes the right tag; an n-gram cannot see far enough back."""
    held_out = tags_examples["test"]
    model_hits = _teacher_forced_hits(trained_tags_model, tags_domain, held_out)
    ngram_hits = _ngram_hits(tags_examples["train"], held_out)
    closes = [index for index, example in enumerate(held_out) if example.target.kind == "close"]
    assert len(closes) > 50

    def rate(hits, indices):
        return sum(hits[index] for index in indices) / len(indices)

    model_close, ngram_close = rate(model_hits, closes), rate(ngram_hits, closes)
    assert model_close >= 0.8, (model_close, ngram_close)
    assert model_close >= ngram_close + 0.2, (model_close, ngram_close)
    everything = range(len(held_out))
    assert rate(model_hits, everything) > rate(ngram_hits, everything) + 0.1


def test_loss_curves_leave_out_a_torn_last_row(tmp_path):
    """A kill or a power cut tears the CSV log's last row; the end of `nep train --resume` used to fail on it."""
    from nep_core.training.plot import plot_losses, read_curves

    logs = tmp_path / "logs"
    (logs / "version_0").mkdir(parents=True)
    (logs / "version_0" / "metrics.csv").write_text("step,train/loss,val/loss\n1,2.0,\n2,1.5,1.7\n3,1.2,\n4,2.5e")
    (logs / "version_1").mkdir()
    (logs / "version_1" / "metrics.csv").write_text('step,train/loss,val/loss\n5,1.1,\n6,"1.0\x00')
    assert read_curves(logs) == {"train/loss": {1: 2.0, 2: 1.5, 3: 1.2, 5: 1.1}, "val/loss": {2: 1.7}}
    assert plot_losses(logs, tmp_path / "loss.png") == tmp_path / "loss.png"
    assert (tmp_path / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["logs", "loss.png"]  # no temporary file left
