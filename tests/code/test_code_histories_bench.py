"""bench/bench_code_histories.py scores predictors on real git histories made in tmp_path, val and test pooled;
bench/bench_code_again_sites.py scores where a carried substitution reaches in another file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def git(repo: Path, *args: str, when: int = 0) -> None:
    env = {**ENV, "GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env=env)


def history(repo: Path, commits: int) -> None:
    """A module whose functions' constants change two at a time, one commit per change."""
    repo.mkdir()
    git(repo, "init", "-q")
    values = list(range(40))
    for number in range(commits):
        if number:
            values[(2 * number) % 33] += 100  # two hunks 21 lines apart: every commit passes the filters
            values[(2 * number) % 33 + 7] += 100
        (repo / "mod.py").write_text("".join(f"def f{n}(a):\n    return a + {v}\n\n" for n, v in enumerate(values)))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"change {number}", when=1_700_000_000 + 3600 * number)


def test_the_bench_pools_val_and_test_of_several_repositories(tmp_path: Path) -> None:
    history(tmp_path / "one", 30)
    history(tmp_path / "two", 25)
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_code_histories.py"), "--model", "repeat-last",
         "--repos", str(tmp_path / "one"), str(tmp_path / "two"), "--outcomes", str(tmp_path / "outcomes.jsonl")],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NEP_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["sessions"] == {str(tmp_path / "one"): 29, str(tmp_path / "two"): 24}  # the root commits are skipped
    assert set(result["pooled"]) == {"model", "most-frequent", "ngram"}  # the model is repeat-last: not twice
    val, test = result["by_split"]["val"], result["by_split"]["test"]
    for name, pooled in result["pooled"].items():
        assert pooled["examples"] == val[name]["examples"] + test[name]["examples"] == result["examples"]["val"] + result["examples"]["test"] > 0
        for count in ("edit_predictions", "edits_exactly_right", "edit_examples"):
            assert pooled[count] == val[name][count] + test[name][count]
    model = result["pooled"]["model"]
    assert 0 <= model["edits_exactly_right"] <= min(model["edit_predictions"], model["edit_examples"])
    for pooled in result["pooled"].values():  # wrong edits that the session makes later on
        assert 0 <= pooled["edits_made_later"] <= pooled["edit_predictions"] - pooled["edits_exactly_right"]
    best = max(result["pooled"][name]["exact_match_top1"] for name in ("most-frequent", "ngram"))
    assert result["model_exact_top1_minus_best_baseline"] == round(model["exact_match_top1"] - best, 4)
    for name in ("most-frequent", "ngram"):  # paired example by example, as nep eval --baselines pairs them
        paired = result["paired"][name]
        lead = (paired["only_first"] - paired["only_second"]) / paired["examples"]
        assert paired["examples"] == model["examples"] and 0 < paired["p_value"] <= 1
        assert lead == pytest.approx(model["exact_match_top1"] - result["pooled"][name]["exact_match_top1"], abs=1e-3)
        by_session = result["paired_by_session"][name]  # session by session: a commit's examples hang together
        assert 0 < by_session["examples"] <= sum(result["sessions"].values())
        assert by_session["only_first"] + by_session["only_second"] <= by_session["examples"] and 0 < by_session["p_value"] <= 1
    targets = result["targets"]  # every example once, by what in the history could predict its next edit
    assert sum(row["examples"] for row in targets.values()) == model["examples"]
    assert sum(row["exactly_right"] for row in targets.values()) == round(model["exact_match_top1"] * model["examples"])
    assert sum(row["suggested"] for row in targets.values()) == model["edit_predictions"]
    assert targets["a new substitution"]["examples"] > 0  # each commit adds 100 to two different constants
    assert targets["no edit"]["examples"] > 0  # after a commit's last hunk
    lines = [json.loads(line) for line in (tmp_path / "outcomes.jsonl").read_text().splitlines()]
    assert len(lines) == model["examples"]  # the model's outcome on each example, to pair two runs
    assert sum(line["right"] for line in lines) == round(model["exact_match_top1"] * model["examples"])
    assert {line["target"] for line in lines} == set(targets)


def test_a_wrong_edit_the_session_makes_later_is_counted_as_made_later(tags_domain) -> None:
    import importlib.util

    from nep_core.actions import Action
    from nep_core.evaluation.metrics import Outcome
    from nep_core.examples import make_examples
    from nep_core.inference import Prediction, Suggestion
    from nep_core.session import Event, Session

    spec = importlib.util.spec_from_file_location("bench_code_histories", REPO / "bench" / "bench_code_histories.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    open_a, write_x, close_a = Action("open", target="a"), Action("write", args={"word": "x"}), Action("close", target="a")
    session = Session(id="s", domain="tags", events=[Event(t=float(t), action=a) for t, a in enumerate([open_a, write_x, close_a])])
    first = make_examples(session, tags_domain)[0]  # after open(a): write(x) comes next, then close(a)
    assert first.target == write_x

    def outcome(best: Action) -> Outcome:
        return Outcome(first, write_x, Prediction([Suggestion(best, 0.9)], 0.05), 1.0)

    assert bench.made_later(outcome(close_a), session, tags_domain)  # right edit, wrong order
    assert not bench.made_later(outcome(Action("close", target="b")), session, tags_domain)  # never made
    assert not bench.made_later(outcome(write_x), session, tags_domain)  # right: not "later"


def signature_history(repo: Path, commits: int) -> None:
    """Each commit turns one `headers: dict` into `headers: Mapping` in api.py, then in web.py, whose
    first `dict` is something else (a cache)."""
    repo.mkdir()
    git(repo, "init", "-q")
    for number in range(commits + 1):
        def module(name: str) -> str:
            return "".join(f"def {name}{n}(url, headers: {'Mapping' if n < number else 'dict'}[str, str]):\n    return url\n\n\n"
                           for n in range(commits))
        (repo / "api.py").write_text(module("get"))
        (repo / "web.py").write_text("CACHE = dict()\n\n\n" + module("post"))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"change {number}", when=1_700_000_000 + 3600 * number)


def test_the_bench_counts_the_lines_each_rule_reaches_in_the_next_file(tmp_path: Path) -> None:
    signature_history(tmp_path / "repo", 24)
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_code_again_sites.py"), "--repos", str(tmp_path / "repo"),
         "--training-data", "rename:?sessions=12", "--train-examples", "200"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NEP_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    histories = result["histories"]
    assert histories["examples"] > 0  # val and test commits: the web.py hunk carries api.py's substitution
    assert histories["first_line"] == 0  # CACHE = dict() holds `dict` first
    assert histories["resembling"] == histories["examples"]  # the next `headers: dict` signature
    trained = result["training_data"]  # renames carried into importing modules
    assert trained["examples"] > 0 and 0 <= trained["first_line"] <= trained["examples"]
    assert trained["resembling"] == trained["examples"]  # a rename reaches the import line first


def test_the_again_sites_bench_counts_zero_when_no_example_carries_a_substitution_elsewhere(tmp_path: Path) -> None:
    history(tmp_path / "repo", 8)  # one file: no substitution is carried into another
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_code_again_sites.py"), "--repos", str(tmp_path / "repo")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "NEP_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["histories"] == {"examples": 0, "first_line": 0, "resembling": 0}


@pytest.mark.parametrize("folder, said", [
    ("empty", "not a NEP checkpoint (no nep.json)"),
    ("no-tokenizer", "no tokenizer.json in the checkpoint"),
    ("bad-tokenizer", "cannot load the tokenizer (JSONDecodeError: "),
    ("turtle", "checkpoint is for domain 'turtle', not 'code'; pass a code checkpoint"),
])
def test_a_tokenizer_folder_that_is_no_code_checkpoint_is_one_line(tmp_path: Path, folder: str, said: str) -> None:
    checkpoint = tmp_path / folder
    checkpoint.mkdir()
    if folder != "empty":
        (checkpoint / "nep.json").write_text(json.dumps({"nep": 1, "domain": "turtle" if folder == "turtle" else "code"}))
    if folder == "bad-tokenizer":
        (checkpoint / "tokenizer.json").write_text("{")
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "bench_code_again_sites.py"), "--repos", str(tmp_path), "--tokenizer", str(checkpoint)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NEP_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(f"error: --tokenizer {checkpoint}"), done.stderr
    assert said in done.stderr, done.stderr
