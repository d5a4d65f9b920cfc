"""The plugin from docs/writing-plugins.md, installed the way the tutorial says, then used end to end.

docs/example-plugin is copied as it is and `pip install -e`'d from its own folder into a fresh
virtual environment (which sees NEP through --system-site-packages; no network). Everything after
that runs as `python -m nep_core.cli.main ...` subprocesses in that environment: domains, plugins,
collect, the plugin's own command, its own tests, train, eval, predict and serve.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "docs" / "example-plugin"


class Venv:
    def __init__(self, root: Path, project: Path, home: Path):
        self.root, self.project, self.home = root, project, home
        self.python = root / "bin" / "python"

    def env(self) -> dict[str, str]:
        # Only the installed entry point may provide the domain: no plugins folder, no allowlist.
        environment = {key: value for key, value in os.environ.items() if not key.startswith("NEP_")}
        environment.update(NEP_HOME=str(self.home), TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", COLUMNS="200")
        environment.pop("PYTHONPATH", None)
        return environment

    def run(self, *args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(self.python), *args], capture_output=True, text=True, env=self.env(), timeout=timeout, cwd=self.root.parent
        )
        if check:
            assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def nep(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return self.run("-m", "nep_core.cli.main", *args, **kwargs)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Venv:
    work = tmp_path_factory.mktemp("example-plugin")
    project = work / "nep-turtle"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(work / "venv")], check=True)
    environment = Venv(work / "venv", project, work / "home")
    environment.run(
        "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "-e", str(project),
    )
    return environment


TURTLE_SOURCE = (
    "from nep_core.plugins import plugins\n"
    "print(next((record.module.__file__ for record in plugins() if record.name == 'turtle'), ''))"
)


def test_the_plugin_is_not_visible_before_it_is_installed(venv):
    """The control: without this install, the same interpreter set-up has no turtle domain from the copied project.

    (A user who ran the README's quick start has their own turtle install; it may be visible, but not this copy.)
    """
    result = subprocess.run([sys.executable, "-c", TURTLE_SOURCE], capture_output=True, text=True, env=venv.env(), timeout=60)
    assert result.returncode == 0, result.stderr
    assert not result.stdout.strip().startswith(str(venv.project))


def test_installed_plugin_shows_in_domains_and_plugins(venv):
    assert venv.run("-c", TURTLE_SOURCE).stdout.strip().startswith(str(venv.project))
    domains = json.loads(venv.nep("domains", "--json").stdout)
    assert domains["turtle"]["plugin"] == "turtle"
    assert domains["turtle"]["collectors"] == ["logs", "synthetic"]
    assert domains["turtle"]["verifiers"] == ["canvas"]
    assert domains["turtle"]["default_source"] == "synthetic:200"
    # `nep rl`'s reward is exact match alone: the core's weights made the tour's turtle model stop saying NO_EDIT (docs/rl.md)
    assert domains["turtle"]["rl_rewards"] == {"valid": 0.0, "match": 1.0, "no_edit": 0.0, "match_mode": "exact"}
    plugins = {record["name"]: record for record in json.loads(venv.nep("plugins", "--json").stdout)}
    assert plugins["turtle"]["version"] == "0.1.0"
    assert plugins["turtle"]["hooks"] == ["register_commands", "register_domains"]


def test_collect_and_the_plugin_command(venv, tmp_path):
    result = venv.nep("collect", "--domain", "turtle", "--source", "synthetic:3", "--seed", "5", "--out", str(tmp_path))
    assert "wrote 3 sessions" in result.stdout
    logs = sorted(tmp_path.glob("*.jsonl"))
    assert [log.name for log in logs] == ["turtle-5-0000.jsonl", "turtle-5-0001.jsonl", "turtle-5-0002.jsonl"]
    picture = venv.nep("turtle", "draw", str(logs[0])).stdout.splitlines()
    assert len(picture) == 13 and all(len(row.split()) == 13 for row in picture)
    assert sum(row.count("#") for row in picture) >= 4  # it drew something
    assert sum(row.count(arrow) for row in picture for arrow in "><^v") == 1  # and the turtle is on it
    bad = venv.nep("collect", "--domain", "turtle", "--source", "synthetic:lots", "--out", str(tmp_path / "x"), check=False)
    assert bad.returncode == 2 and "ARGUMENT is a number of sessions, not 'lots'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_collector_names_an_unknown_option_and_the_tools_have_nep_help(venv, tmp_path):
    """`synthetic:5?foo=1` said `ARGUMENT is a number of sessions, not '5?foo=1'`; `nep turtle --help` showed `--help -h <bool>`."""
    unknown = venv.nep("collect", "--domain", "turtle", "--source", "synthetic:5?foo=1", "--out", str(tmp_path / "x"), check=False)
    assert unknown.returncode == 2 and unknown.stderr.strip() == "error: synthetic: unknown option 'foo' (options: breaks)", unknown.stderr
    calm = venv.nep("collect", "--domain", "turtle", "--source", "synthetic:2?breaks=0", "--out", str(tmp_path / "calm"))
    assert "wrote 2 sessions" in calm.stdout
    for arguments in (("turtle", "--help"), ("turtle", "-h"), ("turtle", "draw", "--help")):
        shown = venv.nep(*arguments).stdout
        assert "Tools for the turtle domain." in shown or "Print what a session draws" in shown, shown
        assert "<bool>" not in shown and "-h" in shown, shown


def test_the_plugins_own_tests_pass(venv):
    result = venv.run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(venv.project / "tests"), timeout=120)
    assert re.search(r"\b3 passed\b", result.stdout), result.stdout


@pytest.fixture(scope="module")
def trained(venv, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("turtle-run") / "model"
    venv.nep("train", "--domain", "turtle", "--preset", "tiny", "--max-steps", "30", "--batch-size", "16", "--out", str(out), "--quiet")
    return out


def test_train_writes_a_turtle_checkpoint(trained):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "nep.json"):
        assert (trained / name).is_file(), name
    meta = json.loads((trained / "nep.json").read_text())
    assert meta["domain"] == "turtle" and meta["plugin"] == "turtle"
    assert meta["action_space"] == {"name": "turtle", "version": "1"}
    assert meta["encoder"]["class"] == "TurtleEncoder"
    assert meta["training"]["steps"] == 30
    assert meta["data"]["source"].endswith("(synthetic:200)")  # the plugin's default dataset


def test_eval_with_baselines(venv, trained, tmp_path):
    report = tmp_path / "eval.json"
    venv.nep("eval", "--domain", "turtle", "--model", str(trained), "--baselines", "--limit", "100", "--json", str(report))
    results = json.loads(report.read_text())["results"]
    assert set(results) == {"model", "repeat-last", "most-frequent", "ngram"}
    for name, metrics in results.items():
        assert 0.0 <= metrics["exact_match_top1"] <= 1.0, name
    # Every top-1 edit the grammar-constrained model suggests is judged by the plugin's verifier.
    assert "verifier.canvas.valid_rate" in results["model"]


def test_predict_after_a_half_drawn_square(venv, trained, tmp_path):
    log = tmp_path / "half-square.jsonl"
    lines = [
        {"nep": 1, "domain": "turtle", "session": "half-square", "created": "2026-11-23T10:00:00Z", "meta": {}},
        {"t": 0.0, "action": {"kind": "forward", "args": {"steps": 2}}},
        {"t": 0.7, "action": {"kind": "turn", "args": {"dir": "left"}}},
        {"t": 1.3, "action": {"kind": "forward", "args": {"steps": 2}}},
        {"t": 2.1, "action": {"kind": "turn", "args": {"dir": "left"}}},
    ]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    answer = json.loads(venv.nep("predict", "--domain", "turtle", "--model", str(trained), "--session", str(log), "--top-k", "3", "--json").stdout)
    assert answer["domain"] == "turtle" and 1 <= len(answer["suggestions"]) <= 3
    kinds = {"forward", "turn", "pen_up", "pen_down", "home"}  # edits only: never zoom, never anything else
    assert all(suggestion["action"]["kind"] in kinds for suggestion in answer["suggestions"])
    assert 0.0 <= answer["p_no_edit"] <= 1.0


def test_serve_answers_suggest(venv, trained):
    output = trained.parent / "serve.out"
    with open(output, "w") as sink:
        server = subprocess.Popen(
            [str(venv.python), "-m", "nep_core.cli.main", "serve", "--domain", "turtle", "--model", str(trained),
             "--host", "127.0.0.1", "--port", "0", "--data-dir", str(trained.parent / "feedback")],
            stdout=sink, stderr=subprocess.STDOUT, env=venv.env(),
        )
    try:
        url = None
        deadline = time.monotonic() + 120
        while url is None and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", output.read_text())
            url = match.group(1) if match else None
        assert url, f"nep serve did not start:\n{output.read_text()}"
        history = [
            {"t": 0.0, "action": {"kind": "forward", "args": {"steps": 2}}},
            {"t": 0.7, "action": {"kind": "turn", "args": {"dir": "left"}}},
        ]
        status, answer = post(f"{url}/v1/suggest", {"session": "half-square", "history": history, "top_k": 2})
        assert status == 200, answer
        assert answer["domain"] == "turtle" and len(answer["suggestions"]) <= 2
        assert all(s["action"]["kind"] in {"forward", "turn", "pen_up", "pen_down", "home"} for s in answer["suggestions"])
        status, refused = post(f"{url}/v1/suggest", {"session": "half-square", "history": "not a list"})
        assert status == 422 and "history" in refused["detail"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def post(url: str, body: dict) -> tuple[int, dict]:
    """POST JSON straight to the local server (never through a proxy); returns (status, JSON body)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
