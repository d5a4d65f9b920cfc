"""Evaluation metrics on hand-made outcomes, `nep eval` end to end, and the key learning test."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest

from inference_helpers import nep, save_random_checkpoint
from nep_core.actions import NO_EDIT, Action
from nep_core.evaluation import compute_metrics, evaluate, percentile, run_predictor, sample_evenly
from nep_core.examples import ExampleConfig, make_examples
from nep_core.inference import Prediction, Predictor, Suggestion
from nep_core.plugins import get_domain
from nep_core.session import Context, Event, Session
from nep_core.verifier import Verdict, Verifier

OPEN_A, OPEN_B = Action("open", target="a"), Action("open", target="b")
CLOSE_A, CLOSE_B = Action("close", target="a"), Action("close", target="b")
WRITE_X = Action("write", args={"word": "x"})
SCROLL = Action("scroll", args={"dir": "up"}, edit=False)


class Scripted(Predictor):
    """Answers from a table keyed by the length of the history: a real predictor with known outputs."""

    name = "scripted"

    def __init__(self, answers: dict[int, Prediction]):
        self.answers = answers

    def predict(self, context: Context, k: int = 3) -> Prediction:
        return self.answers[len(context.history)]


@pytest.fixture
def examples(tags_domain):
    """References: write x, close a, close a (the same edit, seen from two trigger points), NO_EDIT
    (a pause follows), close b, NO_EDIT (the session ends)."""
    timeline = [(0, OPEN_A), (1, WRITE_X), (2, SCROLL), (3, CLOSE_A), (30, OPEN_B), (31, CLOSE_B)]
    session = Session(id="s", domain="tags", events=[Event(t=float(t), action=a) for t, a in timeline])
    made = make_examples(session, tags_domain, ExampleConfig(horizon_events=2, pause_seconds=20))
    assert [example.target for example in made] == [WRITE_X, CLOSE_A, CLOSE_A, NO_EDIT, CLOSE_B, NO_EDIT]
    return made


def scripted() -> Scripted:
    def answer(suggestions, p_no_edit):
        return Prediction([Suggestion(action, p) for action, p in suggestions], p_no_edit)

    return Scripted(
        {
            1: answer([(WRITE_X, 0.6)], 0.3),  # right
            2: answer([(CLOSE_B, 0.5), (CLOSE_A, 0.3)], 0.1),  # wrong place (b is not open); right in top 3
            3: answer([(CLOSE_A, 0.7)], 0.2),  # right: the close(a) edit is saved
            4: answer([(WRITE_X, 0.2)], 0.7),  # NO_EDIT, right
            5: answer([], 1.0),  # NO_EDIT, but close(b) came next
            6: answer([(OPEN_A, 0.6)], 0.4),  # suggests an edit where nothing came
        }
    )


def test_metrics_on_hand_made_outcomes(tags_domain, examples):
    metrics = evaluate(scripted(), tags_domain, examples, top_k=3)
    expected = {
        "examples": 6,
        "kind_top1": 4 / 6,  # close(b) for close(a) is the right kind with the wrong target
        "exact_match_top1": 3 / 6,
        "exact_match_topk": 5 / 6,
        "top_k": 3,
        "edit_examples": 4,
        "location_accuracy": 2 / 4,
        "content_accuracy": 1.0,
        "repeat_share": 0.0,  # no reference edit repeats one its context holds
        "exact_match_new": 2 / 4,
        "no_edit_precision": 0.5,
        "no_edit_recall": 0.5,
        "no_edit_f1": 0.5,
        "edit_predictions": 4,
        "validity_rate": 3 / 4,
        "verifier.nesting.valid_rate": 3 / 4,
        "verifier.nesting.mean_reward": 2 / 4,
        "verifier.nesting.depth": 3 / 4,
        "reference_edits": 3,
        "actions_saved": 2 / 3,
    }
    assert {name: metrics[name] for name in expected} == pytest.approx(expected)
    assert metrics["exact_match_repeats"] is None
    assert metrics["latency_p50_ms"] >= 0 and metrics["latency_p95_ms"] >= metrics["latency_p50_ms"]


def test_exact_match_is_split_into_repeated_and_new_edits(tags_domain):
    """open(a) and close(a) come back: their second time repeats an edit the context holds."""
    timeline = [OPEN_A, CLOSE_A, OPEN_A, CLOSE_A, OPEN_B]
    session = Session(id="r", domain="tags", events=[Event(t=float(t), action=a) for t, a in enumerate(timeline)])
    made = make_examples(session, tags_domain, ExampleConfig(horizon_events=1, pause_seconds=20))
    assert [example.target for example in made] == [CLOSE_A, OPEN_A, CLOSE_A, OPEN_B, NO_EDIT]
    answers = {1: CLOSE_A, 2: CLOSE_A, 3: CLOSE_A, 4: OPEN_B}  # right (new), wrong (repeat), right (repeat), right (new)
    scripted = Scripted({length: Prediction([Suggestion(action, 0.9)], 0.05) for length, action in answers.items()})
    scripted.answers[5] = Prediction([], 1.0)
    metrics = evaluate(scripted, tags_domain, made, top_k=1)
    assert metrics["repeat_share"] == pytest.approx(2 / 4)
    assert metrics["exact_match_repeats"] == pytest.approx(1 / 2) and metrics["exact_match_new"] == pytest.approx(2 / 2)


def test_suggestions_below_the_apps_min_confidence_are_scored_as_not_shown(tags_domain, examples):
    """An app hides a suggestion below its minimum confidence, so evaluation scores it as no edit."""
    unsure = evaluate(scripted(), tags_domain, examples, top_k=3, min_confidence=0.55)
    # shown: write x (0.6), close a (0.7), open a (0.6); hidden: close b (0.5) and close a (0.3) at
    # the second trigger point, whose answer becomes NO_EDIT (wrong: close a came next)
    assert unsure["edit_predictions"] == 3 and unsure["exact_match_top1"] == pytest.approx(3 / 6)
    assert unsure["exact_match_topk"] == pytest.approx(4 / 6)  # the hidden close(a) no longer in the top 3
    assert unsure["kind_top1"] == pytest.approx(3 / 6)
    strict_app = dataclasses.replace(tags_domain, min_confidence=0.65)  # the domain's app default applies when none is given
    strict = evaluate(scripted(), strict_app, examples, top_k=3)
    assert strict["edit_predictions"] == 1 and strict["exact_match_top1"] == pytest.approx(3 / 6)
    assert evaluate(scripted(), tags_domain, examples, top_k=3)["edit_predictions"] == 4
    prediction = Prediction([Suggestion(CLOSE_B, 0.5), Suggestion(CLOSE_A, 0.3)], 0.1)
    assert prediction.shown(0.4).suggestions == [Suggestion(CLOSE_B, 0.5)] and prediction.shown(0.0) is prediction
    assert prediction.shown(0.6).best.is_no_edit and prediction.best == CLOSE_B
    assert prediction.shown(0.0, min_probability=0.4).suggestions == [Suggestion(CLOSE_B, 0.5)]
    by_kind = Prediction([Suggestion(CLOSE_B, 0.004)], 0.05, kind_probability=0.9)  # a sure kind, an unsure action
    assert by_kind.shown(0.1) is by_kind and by_kind.shown(0.1, min_probability=0.005).best.is_no_edit
    unlikely = evaluate(scripted(), tags_domain, examples, top_k=3, min_confidence=0.0, min_probability=0.55)
    assert unlikely["edit_predictions"] == 3 and unlikely["exact_match_topk"] == pytest.approx(4 / 6)


class _ShortVerifier(Verifier):
    """A third party's verifier that breaks the contract: too few verdicts, or not Verdicts."""

    name = "short"

    def __init__(self, answer):
        self.answer = answer

    def verify(self, context, predicted, reference=None):
        return self.answer

    def verify_many(self, items):
        return [] if self.answer == "short" else super().verify_many(items)


@pytest.mark.parametrize("answer, message", [
    ("short", "verifier 'short' returned 0 verdicts for 4 predictions; verify_many must return one Verdict per item"),
    (None, "verifier 'short' returned NoneType, not a Verdict (session s); its scores cannot be averaged"),
    (Verdict(True, float("nan")), "verifier 'short' gave the reward nan, not a finite number (session s)"),
])
def test_a_verifier_without_one_usable_verdict_per_prediction_stops_the_evaluation(tags_domain, examples, answer, message):
    """zip() used to drop the missing verdicts silently, and the metrics then averaged what was left."""
    from nep_core.errors import NepError

    broken = dataclasses.replace(tags_domain, verifiers={**tags_domain.verifiers, "short": _ShortVerifier(answer)})
    with pytest.raises(NepError, match=re.escape(message)):
        evaluate(scripted(), broken, examples, top_k=3)


def test_a_verifier_that_raises_stops_the_evaluation_in_one_line_naming_it_and_where(tags_domain, examples):
    from nep_core.errors import NepError

    class Raising(Verifier):
        name = "raising"

        def verify(self, context, predicted, reference=None):
            return {}["missing"]

    broken = dataclasses.replace(tags_domain, verifiers={**tags_domain.verifiers, "raising": Raising()})
    with pytest.raises(NepError) as raised:
        evaluate(scripted(), broken, examples, top_k=3)
    message = str(raised.value)
    assert message.startswith("verifier 'raising' raised KeyError: 'missing' (test_evaluation.py:")
    assert "while judging 4 predictions" in message and "\n" not in message

    class Exiting(Raising):
        def verify(self, context, predicted, reference=None):
            raise SystemExit(0)  # would have ended `nep eval` with status 0 and no table

    exiting = dataclasses.replace(tags_domain, verifiers={**tags_domain.verifiers, "raising": Exiting()})
    with pytest.raises(NepError, match=r"verifier 'raising' raised SystemExit: 0 \(test_evaluation.py:\d+\) while judging"):
        evaluate(scripted(), exiting, examples, top_k=3)


def test_empty_denominators_are_none_and_metrics_are_extensible(tags_domain, examples):
    only_no_edit = [example for example in examples if example.target.is_no_edit]
    never = Scripted({length: Prediction([], 1.0) for length in range(1, 7)})
    outcomes = run_predictor(never, tags_domain, only_no_edit)
    metrics = compute_metrics(outcomes, tags_domain, 3, extra=[lambda outcomes, context: {"mean_p_no_edit": 1.0}])
    assert metrics["exact_match_top1"] == 1.0 and metrics["no_edit_f1"] == 1.0
    assert metrics["location_accuracy"] is None and metrics["validity_rate"] is None and metrics["actions_saved"] is None
    assert metrics["mean_p_no_edit"] == 1.0


def test_percentile_and_even_sampling():
    assert percentile([6, 1, 5, 2, 4, 3], 50) == pytest.approx(3.5)
    assert percentile([1, 2, 3, 4, 5, 6], 95) == pytest.approx(5.75)
    assert percentile([], 50) is None
    assert sample_evenly(list(range(10)), 4) == [0, 2, 5, 7]
    assert sample_evenly(list(range(3)), 0) == [0, 1, 2]


@pytest.fixture(scope="module")
def random_checkpoint(tmp_path_factory, tags_domain):
    return save_random_checkpoint(tmp_path_factory.mktemp("eval") / "model", tags_domain, seed=2)


def test_nep_eval_puts_the_baselines_beside_the_model_and_records_metrics(random_checkpoint, tmp_path):
    out = tmp_path / "eval.json"
    result = nep("eval", "--domain", "tags", "--model", str(random_checkpoint), "--baselines", "--limit", "40", "--top-k", "2", "--json", str(out))
    assert result.returncode == 0, result.stderr
    assert "exact match top-1" in result.stdout and "exact match top-2" in result.stdout and "ngram" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "metric" in line)  # piped: whole, not cut to 80 columns
    assert "most-frequent" in header and "…" not in result.stdout
    payload = json.loads(out.read_text())
    assert payload["examples"] == 40 and payload["split"] == "test" and payload["top_k"] == 2
    assert list(payload["results"]) == ["model", "repeat-last", "most-frequent", "ngram"]
    for metrics in payload["results"].values():
        assert metrics["examples"] == 40
        assert {"exact_match_top1", "location_accuracy", "no_edit_f1", "actions_saved", "latency_p95_ms"} <= set(metrics)
    assert payload["results"]["model"]["verifier.nesting.valid_rate"] in (None, pytest.approx(payload["results"]["model"]["validity_rate"]))
    for baseline in ("repeat-last", "most-frequent", "ngram"):  # each paired with the model, example by example
        paired = payload["paired"][baseline]
        exact_lead = payload["results"]["model"]["exact_match_top1"] - payload["results"][baseline]["exact_match_top1"]
        assert paired["examples"] == 40 and paired["difference"] == pytest.approx(exact_lead, abs=1e-3)
        kind_lead = payload["results"]["model"]["kind_top1"] - payload["results"][baseline]["kind_top1"]
        assert paired["kind_top1"]["difference"] == pytest.approx(kind_lead, abs=1e-3) and 0 < paired["kind_top1"]["p_value"] <= 1
        assert f"paired with {baseline}: exact match top-1" in result.stdout
        by_session = paired["by_session"]  # a session's examples hang together: the same test over sessions
        assert 0 < by_session["examples"] <= payload["sessions"] and 0 < by_session["p_value"] <= 1
        assert by_session["only_first"] + by_session["only_second"] <= by_session["examples"]
        if paired["only_first"] == paired["only_second"] == 0:
            assert by_session["only_first"] == by_session["only_second"] == 0
    assert "by session, exact match: model ahead in" in " ".join(result.stdout.split())
    recorded = json.loads((random_checkpoint / "nep.json").read_text())["metrics"]["eval_test"]
    assert recorded["exact_match_top1"] == payload["results"]["model"]["exact_match_top1"]
    assert set(recorded["baselines"]) == {"repeat-last", "most-frequent", "ngram"}


def test_nep_eval_of_a_baseline_alone(tmp_path):
    out = tmp_path / "ngram.json"
    result = nep("eval", "--domain", "tags", "--model", "ngram", "--split", "val", "--limit", "30", "--json", str(out))
    assert result.returncode == 0, result.stderr
    payload = json.loads(out.read_text())
    assert list(payload["results"]) == ["ngram"] and payload["split"] == "val"
    assert 0.0 <= payload["results"]["ngram"]["exact_match_top1"] <= payload["results"]["ngram"]["exact_match_topk"] <= 1.0


def test_nep_eval_user_errors_are_one_line(random_checkpoint, tmp_path, tags_domain):
    other = save_random_checkpoint(tmp_path / "other", tags_domain, meta_domain="blender")
    cases = [
        (("--domain", "nope", "--model", "ngram"), "unknown domain 'nope'"),
        (("--domain", "tags", "--model", str(tmp_path / "missing")), "no such model folder, and not a baseline"),
        (("--domain", "tags", "--model", str(other)), "checkpoint is for domain 'blender', not 'tags'"),
        (("--domain", "tags", "--model", "ngram", "--top-k", "0"), "--top-k must be between 1 and 100"),
        (("--domain", "tags", "--model", "ngram", "--split", "dev"), "unknown split 'dev'"),
        (("--domain", "tags", "--model", "ngram", "--data", str(tmp_path / "nodata")), "no such data folder"),
        (("--domain", "tags", "--model", "ngram:0"), "order must be a positive whole number"),
        (("--domain", "tags", "--model", "ngram", "--compare", str(tmp_path / "gone")), f"--compare {tmp_path / 'gone'}: no such model folder"),
        (("--domain", "tags", "--model", str(random_checkpoint / "nep.json")), f"nep.json is a file; pass the model folder that holds it ({random_checkpoint})"),
    ]
    for args, message in cases:
        result = nep("eval", *args)
        assert result.returncode != 0, args
        assert "Traceback" not in result.stderr
        error = result.stderr[result.stderr.find("error:"):]  # after "generating the default ... dataset" when this test runs alone
        assert result.stderr.find("error:") >= 0 and message in error.replace("\n", ""), result.stderr


def _pickle_weights(folder: Path) -> None:
    """The weights as pickled ``pytorch_model.bin`` only (said "no file named model.safetensors ...; train again")."""
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()


def test_a_damaged_checkpoint_or_a_bad_output_path_is_a_one_line_error(random_checkpoint, tmp_path):
    def damaged(name: str, damage) -> Path:
        folder = tmp_path / name
        shutil.copytree(random_checkpoint, folder)
        damage(folder)
        return folder

    def set_max_tokens(folder: Path) -> None:
        meta = json.loads((folder / "nep.json").read_text())
        meta["encoder"] = {**get_domain("tags").encoder.settings(), "max_tokens": "many"}
        (folder / "nep.json").write_text(json.dumps(meta))

    weights = random_checkpoint / "model.safetensors"
    cases = [
        (damaged("cut", lambda f: (f / "model.safetensors").write_bytes(weights.read_bytes()[:5])), "cannot load the model"),
        (damaged("gone", lambda f: (f / "model.safetensors").unlink()), "cannot load the model"),
        (damaged("pickled", _pickle_weights), "its weights are pickled (pytorch_model.bin), which could run code when loaded, "
         "so only safetensors are read; convert them once: AutoModelForCausalLM.from_pretrained("),
        (damaged("tok", lambda f: (f / "tokenizer.json").write_text("{garbage")), "cannot load the tokenizer"),
        (damaged("config", lambda f: (f / "config.json").write_text("{}")), 'config.json: field "model_type" must name the model'),
        (damaged("meta", set_max_tokens), 'nep.json: field "encoder.max_tokens" must be int'),
        (damaged("list", lambda f: (f / "nep.json").write_text("[1, 2]")), "nep.json: must hold a JSON object, not a list"),
        (damaged("context", lambda f: (f / "nep.json").write_text(json.dumps({**json.loads((f / "nep.json").read_text()), "max_context_tokens": "x"}))),
         'nep.json: field "max_context_tokens" must be a positive whole number'),
        (damaged("nodomain", lambda f: (f / "nep.json").write_text(json.dumps({**json.loads((f / "nep.json").read_text()), "domain": None}))),
         'nep.json: field "domain" must name the domain the model was trained for'),
    ]
    for folder, message in cases:
        result = nep("eval", "--domain", "tags", "--model", str(folder), "--limit", "2")
        assert result.returncode == 2, (folder.name, result.stderr)
        assert "Traceback" not in result.stderr
        assert result.stderr.strip().startswith(f"error: {folder}") and message in result.stderr.replace("\n", ""), result.stderr
    afile = tmp_path / "afile"
    afile.write_text("")
    for option, path, message in (("--render", afile, "--render"), ("--json", tmp_path, "--json")):
        result = nep("eval", "--domain", "tags", "--model", "ngram", "--limit", "2", option, str(path))
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().startswith("error:") and message in result.stderr, result.stderr


def test_nep_eval_help_explains_options_and_gives_an_example():
    result = nep("eval", "--help")
    assert result.returncode == 0
    for text in ("--baselines", "--top-k", "--split", "--limit", "--json", "--compare", "Examples:", "nep eval --domain", "default"):
        assert text in result.stdout


def test_trained_model_beats_ngram_on_held_out_tags_sessions(trained_tags_model, tmp_path):
    """The key learning test: which tag to close depends on what was opened many steps back."""
    out = tmp_path / "eval.json"
    result = nep("eval", "--domain", "tags", "--model", str(trained_tags_model), "--baselines", "--json", str(out))
    assert result.returncode == 0, result.stderr
    results = json.loads(out.read_text())["results"]
    assert results["model"]["exact_match_top1"] > results["ngram"]["exact_match_top1"], results


def test_write_pictures_saves_what_the_domain_draws_up_to_the_limit(tmp_path):
    from types import SimpleNamespace

    from PIL import Image

    from nep_core.evaluation.pictures import MANIFEST, write_pictures

    outcomes = [SimpleNamespace(example=SimpleNamespace(session_id=f"s/{index}", trigger=index), keep=index % 2 == 0) for index in range(9)]
    written = write_pictures(outcomes, tmp_path / "pics", 3, lambda outcome: Image.new("RGB", (4, 4)) if outcome.keep else None)
    assert [path.name for path in written] == ["0000-s_0-0.png", "0001-s_2-2.png", "0002-s_4-4.png"]
    assert all(Image.open(path).size == (4, 4) for path in written)
    (tmp_path / "pics" / "notes.txt").write_text("mine")
    again = write_pictures(outcomes[2:], tmp_path / "pics", 1, lambda outcome: Image.new("RGB", (4, 4)))
    assert sorted(path.name for path in (tmp_path / "pics").iterdir()) == [MANIFEST, "0000-s_2-2.png", "notes.txt"]  # no picture of the run before
    assert again == [tmp_path / "pics" / "0000-s_2-2.png"]


def test_write_pictures_removes_only_the_pictures_an_earlier_render_wrote(tmp_path):
    """The user's own files are kept, even when named like pictures; one with a picture's name is not overwritten."""
    from types import SimpleNamespace

    from PIL import Image

    from nep_core.evaluation.pictures import write_pictures

    folder = tmp_path / "pics"
    folder.mkdir()
    mine = {"2023-holiday-1.png": b"holiday", "2024-beach-12.png": b"beach", "0001-s_1-1.png": b"my own"}
    for name, content in mine.items():
        (folder / name).write_bytes(content)
    outcomes = [SimpleNamespace(example=SimpleNamespace(session_id=f"s/{index}", trigger=index)) for index in range(3)]
    first = write_pictures(outcomes, folder, 3, lambda outcome: Image.new("RGB", (4, 4)))
    assert sorted(path.name for path in folder.glob("20*.png")) == ["2023-holiday-1.png", "2024-beach-12.png"]
    assert [path.name for path in first] == ["0000-s_0-0.png", "0001-s_1-1.1.png", "0002-s_2-2.png"]
    second = write_pictures(outcomes[2:], folder, 3, lambda outcome: Image.new("RGB", (4, 4)))
    assert [path.name for path in second] == ["0000-s_2-2.png"]
    assert all((folder / name).read_bytes() == content for name, content in mine.items())
    assert sorted(path.name for path in folder.glob("*.png")) == sorted(["0000-s_2-2.png", *mine])


def test_a_render_stopped_part_way_leaves_no_picture_a_later_render_takes_for_the_users(tmp_path):
    """The list of written pictures was saved at the end only: after a render stopped at its third picture,
    the first two stayed forever and every later render wrote a .1.png beside each."""
    from types import SimpleNamespace

    from PIL import Image

    from nep_core.evaluation.pictures import write_pictures

    folder = tmp_path / "pics"
    outcomes = [SimpleNamespace(example=SimpleNamespace(session_id="s", trigger=index)) for index in range(3)]

    def stop_at_the_third(outcome):
        if outcome.example.trigger == 2:
            raise KeyboardInterrupt
        return Image.new("RGB", (4, 4))

    with pytest.raises(KeyboardInterrupt):
        write_pictures(outcomes, folder, 3, stop_at_the_third)
    again = write_pictures(outcomes, folder, 3, lambda outcome: Image.new("RGB", (4, 4)))
    assert [path.name for path in again] == ["0000-s-0.png", "0001-s-1.png", "0002-s-2.png"]
    assert sorted(path.name for path in folder.glob("*.png")) == [path.name for path in again]


def test_write_pictures_removes_nothing_a_broken_list_names_but_pictures_in_its_folder(tmp_path):
    from nep_core.evaluation.pictures import MANIFEST, write_pictures

    folder = tmp_path / "pics"
    folder.mkdir()
    for name in ("notes.txt", "0000-a-1.png"):
        (folder / name).write_text("mine")
    (tmp_path / "0001-b-2.png").write_text("mine")
    (folder / MANIFEST).write_text('{"pictures": ["notes.txt", "../0001-b-2.png", "0000-a-1.png", 7]}')
    assert write_pictures([], folder, 5, lambda outcome: None) == []
    assert sorted(path.name for path in folder.iterdir()) == [MANIFEST, "notes.txt"] and (tmp_path / "0001-b-2.png").exists()
    (folder / MANIFEST).write_text("not json")
    write_pictures([], folder, 5, lambda outcome: None)
    assert (folder / "notes.txt").exists()


def test_picture_labels_use_a_font_whose_spaces_can_be_seen():
    from nep_core.evaluation.pictures import label_font

    font = label_font(13)
    assert font.getbbox("clip 1 at")[2] - font.getbbox("clip1at")[2] >= 6  # two spaces of 3 px or more, not 1 px each


def test_nep_eval_min_confidence_scores_what_the_app_shows(tmp_path):
    every, shown = tmp_path / "every.json", tmp_path / "shown.json"
    base = ("eval", "--domain", "tags", "--model", "ngram", "--limit", "60")
    assert nep(*base, "--json", str(every)).returncode == 0
    result = nep(*base, "--min-confidence", "0.5", "--json", str(shown))
    assert result.returncode == 0, result.stderr
    assert "suggestions below 0.5 not shown" in " ".join(result.stdout.split())
    every, shown = json.loads(every.read_text()), json.loads(shown.read_text())
    assert (every["min_confidence"], shown["min_confidence"]) == (0.0, 0.5)
    assert shown["results"]["ngram"]["edit_predictions"] < every["results"]["ngram"]["edit_predictions"]
    bad = nep(*base, "--min-confidence", "1.5")
    assert bad.returncode != 0 and "--min-confidence must be between 0 and 1, got 1.5" in bad.stderr and "Traceback" not in bad.stderr
    unlikely = tmp_path / "unlikely.json"
    result = nep(*base, "--min-probability", "0.5", "--json", str(unlikely))
    assert result.returncode == 0, result.stderr
    assert "suggestions less likely than 0.5 not shown" in " ".join(result.stdout.split())
    unlikely = json.loads(unlikely.read_text())
    assert (unlikely["min_confidence"], unlikely["min_probability"], every["min_probability"]) == (0.0, 0.5, 0.0)
    assert unlikely["results"]["ngram"]["edit_predictions"] == shown["results"]["ngram"]["edit_predictions"]  # confidence is probability here
    bad = nep(*base, "--min-probability", "-0.1")
    assert bad.returncode != 0 and "--min-probability must be between 0 and 1, got -0.1" in bad.stderr and "Traceback" not in bad.stderr


def test_a_checkpoint_that_this_nep_encodes_otherwise_still_runs_with_a_one_line_warning(tmp_path, tags_domain):
    from nep_core.atomic_files import write_json_atomic
    from nep_core.checkpoint import META_FILE, encoding_differences, read_meta

    folder = save_random_checkpoint(tmp_path / "old", tags_domain)
    assert encoding_differences(read_meta(folder), tags_domain) == []  # nothing recorded: nothing to compare
    meta = read_meta(folder)
    meta["action_space"] = {"name": tags_domain.action_space.name, "version": tags_domain.action_space.version}
    meta["encoder"] = tags_domain.encoder.settings()
    write_json_atomic(folder / META_FILE, meta)
    assert encoding_differences(read_meta(folder), tags_domain) == []
    quiet = nep("eval", "--domain", "tags", "--model", str(folder), "--limit", "5")
    assert quiet.returncode == 0 and "warning" not in quiet.stderr, quiet.stderr
    meta["action_space"]["version"] = "0"
    meta["encoder"] = {**meta["encoder"], "max_events": meta["encoder"]["max_events"] + 1, "retired": 1}
    write_json_atomic(folder / META_FILE, meta)
    assert encoding_differences(read_meta(folder), tags_domain) == [
        f"action space {tags_domain.action_space.name} version 0, now {tags_domain.action_space.version}",
        f"encoder max_events {meta['encoder']['max_events']}, now {tags_domain.encoder.settings()['max_events']}",
        "encoder retired 1, now unset",
    ]
    loud = nep("eval", "--domain", "tags", "--model", str(folder), "--limit", "5")
    assert loud.returncode == 0, loud.stderr  # it still runs
    warning = " ".join(loud.stderr.split())
    assert warning.count("warning:") == 1 and "was trained when NEP encoded tags otherwise" in warning
    assert "nep train --domain tags" in warning
    # max_events is set back for this checkpoint (as_trained): only what could not be is named
    assert "version 0" in warning and "encoder retired 1" in warning and "max_events" not in warning


def test_a_checkpoint_is_served_with_the_encoder_settings_it_was_trained_with(tmp_path, tags_domain):
    from nep_core.atomic_files import write_json_atomic
    from nep_core.checkpoint import META_FILE, read_meta
    from nep_core.inference import load_predictor

    folder = save_random_checkpoint(tmp_path / "old", tags_domain)
    meta = read_meta(folder)
    trained_with = tags_domain.encoder.max_events + 3
    meta["encoder"] = {**tags_domain.encoder.settings(), "max_events": trained_with}
    write_json_atomic(folder / META_FILE, meta)
    predictor = load_predictor(str(folder), tags_domain)
    assert predictor.domain.encoder.max_events == trained_with
    assert tags_domain.encoder.max_events == trained_with - 3  # the shared domain is left as it is
    assert predictor.featurizer.domain.encoder is predictor.domain.encoder


def test_damaged_fields_of_nep_json_are_one_line_errors_naming_the_file_and_the_field(tmp_path):
    """A nep.json that is a folder was an IsADirectoryError; `"max_context_tokens": "x"` a ValueError when the model
    loaded; `"encoder": "x"` an AttributeError; `"metrics": [1]` crashed `nep eval`'s update; a bogus target and a
    negative context length were taken as they were."""
    from nep_core.checkpoint import META_FILE, read_meta, update_metrics
    from nep_core.errors import NepError

    good = {"nep": 1, "domain": "tags", "target": "action", "max_context_tokens": 200, "max_target_tokens": 6,
            "encoder": {"class": "TagsEncoder"}, "metrics": {"val_loss": 1.0}}
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / META_FILE).write_text(json.dumps(good))
    assert read_meta(folder) == good
    cases = [
        ({"max_context_tokens": "x"}, 'field "max_context_tokens" must be a positive whole number (got \'x\')'),
        ({"max_context_tokens": -1}, 'field "max_context_tokens" must be a positive whole number (got -1)'),
        ({"max_context_tokens": True}, 'field "max_context_tokens" must be a positive whole number (got True)'),
        ({"max_target_tokens": 2.5}, 'field "max_target_tokens" must be a positive whole number (got 2.5)'),
        ({"target": "bogus"}, 'field "target" must be one of action, location (got \'bogus\')'),
        ({"encoder": "x"}, 'field "encoder" must be a JSON object (got str)'),
        ({"metrics": [1]}, 'field "metrics" must be a JSON object (got list)'),
    ]
    for change, message in cases:
        (folder / META_FILE).write_text(json.dumps({**good, **change}))
        for read in (lambda: read_meta(folder), lambda: update_metrics(folder, {"eval_test": {}})):
            with pytest.raises(NepError) as raised:
                read()
            assert str(raised.value) == f"{folder / META_FILE}: {message}", change
    (folder / META_FILE).write_text(json.dumps({**good, "metrics": None}))
    update_metrics(folder, {"eval_test": {"n": 1}})
    assert read_meta(folder)["metrics"] == {"eval_test": {"n": 1}}
    (folder / META_FILE).unlink()
    (folder / META_FILE).mkdir()
    with pytest.raises(NepError, match=re.escape(f"{folder / META_FILE}: not a regular file")):
        read_meta(folder)


def test_a_baseline_given_to_compare_is_fitted_on_the_evaluated_data_and_shown_once(random_checkpoint, tmp_path):
    """`--compare ngram --baselines` stopped with a traceback (two predictors named ngram), and `--compare
    ngram` alone was fitted on the default data whatever --data said."""
    data = tmp_path / "data"
    assert nep("collect", "--domain", "tags", "--source", "synthetic:40", "--seed", "5", "--out", str(data)).returncode == 0
    out = tmp_path / "eval.json"
    result = nep("eval", "--domain", "tags", "--model", str(random_checkpoint), "--data", str(data), "--compare", "ngram",
                 "--compare", "ngram:2", "--baselines", "--json", str(out))
    assert result.returncode == 0, result.stderr
    results = json.loads(out.read_text())["results"]
    assert list(results) == ["model", "ngram", "ngram:2", "repeat-last", "most-frequent"]
    alone = tmp_path / "alone.json"
    assert nep("eval", "--domain", "tags", "--model", "ngram", "--data", str(data), "--json", str(alone)).returncode == 0
    def measured(metrics: dict) -> dict:
        return {name: value for name, value in metrics.items() if not name.startswith("latency")}

    assert measured(json.loads(alone.read_text())["results"]["ngram"]) == measured(results["ngram"])


def test_a_quick_evaluation_never_replaces_the_full_one_in_nep_json(random_checkpoint, tmp_path):
    checkpoint = tmp_path / "model"
    shutil.copytree(random_checkpoint, checkpoint)
    full = nep("eval", "--domain", "tags", "--model", str(checkpoint))
    assert full.returncode == 0, full.stderr
    kept = json.loads((checkpoint / "nep.json").read_text())["metrics"]["eval_test"]
    assert kept["limit"] == 0 and kept["data"] is None
    quick = nep("eval", "--domain", "tags", "--model", str(checkpoint), "--limit", "5")
    assert quick.returncode == 0, quick.stderr
    assert "is a full evaluation on the default data, which one with --limit does not replace" in " ".join(quick.stderr.split())
    assert json.loads((checkpoint / "nep.json").read_text())["metrics"]["eval_test"] == kept


def test_json_to_standard_output_keeps_the_table_apart(random_checkpoint, tmp_path):
    result = nep("eval", "--domain", "tags", "--model", str(random_checkpoint), "--limit", "10", "--json", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["examples"] == 10  # nothing else on standard output
    assert "exact match top-1" in result.stderr
    assert not (Path.cwd() / "-").exists()
    (tmp_path / "file").write_text("")
    under_a_file = nep("eval", "--domain", "tags", "--model", "ngram", "--limit", "5", "--json", str(tmp_path / "file" / "e.json"))
    assert under_a_file.returncode == 2 and f"--json {tmp_path / 'file' / 'e.json'}: its folder {tmp_path / 'file'} is a file" in " ".join(under_a_file.stderr.split())


def test_eval_reads_a_damaged_folder_as_training_does(tmp_path):
    """`nep train --data` skipped a bad line with a warning, and `nep eval --data` stopped at it."""
    data = tmp_path / "data"
    assert nep("collect", "--domain", "tags", "--source", "synthetic:30", "--out", str(data)).returncode == 0
    victim = sorted(data.iterdir())[0]
    lines = victim.read_text().splitlines()
    lines.insert(2, "{broken")
    victim.write_text("\n".join(lines) + "\n")
    result = nep("eval", "--domain", "tags", "--model", "ngram", "--data", str(data))
    assert result.returncode == 0, result.stderr
    assert f"{victim}:3: not valid JSON" in result.stderr.replace("\n", "")
    assert "exact match top-1" in result.stdout


def test_tokens_allowed_next_offers_but_the_tokenizer_lacks_are_named_once_decoded(random_checkpoint, tags_domain, examples, capsys):
    """They were dropped from decoding without a word: actions written with them could never be suggested."""
    from nep_core.action_space import SymbolicActionSpace
    from nep_core.checkpoint import load_checkpoint
    from nep_core.cli.common import warn_if_grammar_unreachable
    from nep_core.inference.decoder import ModelPredictor

    class Offering(SymbolicActionSpace):
        def allowed_next(self, prefix):
            return [*super().allowed_next(prefix), *(["@ghost"] if not prefix else [])]

    space = tags_domain.action_space
    offering = dataclasses.replace(tags_domain, action_space=Offering(name=space.name, version=space.version, kinds=space.kinds))
    predictor = ModelPredictor(load_checkpoint(random_checkpoint), offering)
    warn_if_grammar_unreachable(predictor, offering)
    assert capsys.readouterr().err == ""  # nothing decoded yet
    predictor.predict(examples[0].context)
    warn_if_grammar_unreachable(predictor, offering)
    err = " ".join(capsys.readouterr().err.split())
    assert f"{random_checkpoint}: its tokenizer lacks 1 token(s) the tags action space allowed while decoding ('@ghost')" in err
    assert "its vocabulary() must list them too" in err


def test_a_checkpoint_naming_code_of_its_own_never_runs_it(random_checkpoint, tmp_path, monkeypatch):
    """A config.json with `auto_map` made transformers ask "Do you wish to run the custom code? [y/N]", and a y ran
    the folder's Python: loading a model must never run code. NEP refuses such a folder, and transformers is told
    to run none even past that check, whatever is typed."""
    import builtins

    from nep_core.checkpoint import load_checkpoint
    from nep_core.errors import NepError
    from nep_core.model import base

    marker = tmp_path / "ran"
    folder = tmp_path / "custom"
    shutil.copytree(random_checkpoint, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="nepcustom", auto_map={"AutoConfig": "custom_config.CustomConfig"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom_config.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
                                             "from transformers import PretrainedConfig\nclass CustomConfig(PretrainedConfig):\n"
                                             "    model_type = 'nepcustom'\n")
    with pytest.raises(NepError, match=r"config.json names Python code of the model folder to run \(auto_map\)"):
        load_checkpoint(folder)
    monkeypatch.setattr(base, "remote_code_problem", lambda *args: None)
    monkeypatch.setattr("nep_core.checkpoint.remote_code_problem", lambda *args: None)
    monkeypatch.setattr(builtins, "input", lambda *args: "y")  # a user who types y at transformers' prompt
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(NepError, match="cannot be read as the model's configuration"):
        load_checkpoint(folder)
    assert not marker.exists()
