"""A third-party plugin's mistakes: each is one line that names the plugin, never a traceback.

Registration mistakes (a hook whose arguments are not the hookspec's, a misspelt hook, a malformed
``Domain``, a class where an instance belongs, a clashing command, ``sys.exit``) are warnings and
the rest of NEP works; a plugin's code failing while a command runs (its action space, encoder or
collector) ends the command with ``error: plugin 'NAME' (WHERE) failed in CLASS.METHOD: ...`` and
status 1. Broken plugins live in ``tmp_path`` and run in ``nep`` subprocesses, never in tests/plugins.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nep_core import plugins
from nep_core.action_space import EOS, NO_EDIT_TOKEN, ActionSpace, KindSpec, Slot, SymbolicActionSpace
from nep_core.errors import PluginError
from nep_core.inference.grammar import GrammarMasks
from nep_core.location_space import AfterLocation


def nep(*args: str, plugins_dir: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """``nep ARGS`` in a fresh interpreter with only the plugin files of ``plugins_dir`` (no entry points)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEP_") or k == "NEP_HOME"}
    environment["NEP_LOAD_PLUGINS"] = ""
    if plugins_dir is not None:
        environment["NEP_PLUGINS_DIR"] = str(plugins_dir)
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "nep_core.cli.main", *args], capture_output=True, text=True,
                          env=environment, timeout=180)


def write_plugin(folder: Path, name: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(code))
    return path


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def warnings_of(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in lines(result.stderr) if line.startswith("warning:")]


GOOD = """
    import nep_core
    from nep_core.action_space import KindSpec, SymbolicActionSpace
    from nep_core.domain import Domain
    from nep_core.encoder import ActionHistoryEncoder

    SPACE = SymbolicActionSpace([KindSpec("poke")])

    @nep_core.hookimpl
    def register_domains(register):
        register(Domain(name="good", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE)))
"""


# 1. hooks whose arguments are not the hookspec's --------------------------------------------------


def test_a_hook_whose_arguments_are_not_the_hookspecs_is_a_warning_and_the_plugin_is_skipped(tmp_path):
    write_plugin(tmp_path, "badsig", """
        import nep_core

        @nep_core.hookimpl
        def register_domains(reg):
            pass
    """)
    write_plugin(tmp_path, "extra", """
        import nep_core

        @nep_core.hookimpl
        def register_verifiers(register, domain):
            pass
    """)
    write_plugin(tmp_path, "good", GOOD)
    for args in (("--version",), ("--help",), ("domains", "--json")):
        result = nep(*args, plugins_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr and "PluginValidationError" not in result.stderr
        shown = warnings_of(result)
        assert len(shown) == 2, result.stderr
        assert any(f"plugin 'badsig' ({tmp_path / 'badsig.py'}) skipped" in line and "register_domains(reg)" in line
                   and "register_domains(register)" in line for line in shown), shown
        assert any("plugin 'extra'" in line and "register_verifiers(register, domain)" in line and "'domain'" in line
                   for line in shown), shown
    assert set(json.loads(result.stdout)) == {"good"}
    listed = nep("plugins", "--json", plugins_dir=tmp_path)
    assert [record["name"] for record in json.loads(listed.stdout)] == ["good"]


# 2. grammar masks of a space bound to a context ----------------------------------------------------


class RoomSpace(ActionSpace):
    """``@go room=R``, where a space bound to a context allows only the rooms open in it (its grammar_key is the default)."""

    name = "rooms"
    ROOMS = ("room=a", "room=b", "room=c")

    def __init__(self, rooms=ROOMS):
        self.rooms = tuple(rooms)

    def vocabulary(self):
        return ["@go", *self.ROOMS]

    def encode(self, action):
        return [NO_EDIT_TOKEN] if action.is_no_edit else ["@go", f"room={action.target}"]

    def decode(self, tokens):
        from nep_core.actions import Action

        return Action("go", target=tokens[1].split("=")[1])

    def allowed_next(self, prefix):
        if not prefix:
            return [NO_EDIT_TOKEN, "@go"]
        if prefix == ("@go",) or list(prefix) == ["@go"]:
            return list(self.rooms)
        return [EOS]

    def for_context(self, context):
        return RoomSpace(context)


def masks_for(space: ActionSpace) -> GrammarMasks:
    tokens = ["<pad>", "<unk>", "<bos>", "<sep>", EOS, NO_EDIT_TOKEN, *space.vocabulary()]
    return GrammarMasks(space, {token: index for index, token in enumerate(tokens)}, len(tokens))


def allowed(masks: GrammarMasks, step) -> set[str]:
    names = {index: token for token, index in masks.vocab.items()}
    return {names[index] for index in step.ids}


def test_masks_of_a_context_bound_space_are_never_those_of_another_context():
    space = RoomSpace()
    masks = masks_for(space)
    first, second = space.for_context(["room=a", "room=b"]), space.for_context(["room=c"])
    assert allowed(masks, masks.step(("@go",), first)) == {"room=a", "room=b"}
    assert allowed(masks, masks.step(("@go",), second)) == {"room=c"}  # was {"room=a", "room=b"}: the first context's
    assert allowed(masks, masks.step(("@go",), AfterLocation(first, 1))) == {"room=a", "room=b"}
    assert allowed(masks, masks.step(("@go",), AfterLocation(second, 1))) == {"room=c"}
    assert allowed(masks, masks.step(("@go",), space)) == {"room=a", "room=b", "room=c"}
    # A new bound space at the address of a collected one is not served the old one's masks.
    for index in range(50):
        rooms = ["room=a"] if index % 2 else ["room=b"]
        bound = space.for_context(rooms)
        assert allowed(masks, masks.step(("@go",), bound)) == set(rooms)
        del bound
        gc.collect()


def test_a_space_that_keys_its_own_grammar_keeps_its_masks_cached():
    calls = []

    class Keyed(RoomSpace):
        def allowed_next(self, prefix):
            calls.append(tuple(prefix))
            return super().allowed_next(prefix)

        def for_context(self, context):
            return Keyed(context)

        def grammar_key(self, prefix):
            return (self.rooms, tuple(prefix))

    space = Keyed()
    masks = masks_for(space)
    first = masks.step(("@go",), space.for_context(["room=a"]))
    assert masks.step(("@go",), space.for_context(["room=a"])) is first  # another request, the same context
    assert calls == [("@go",)]


def test_allowed_next_that_returns_none_is_one_line_naming_the_plugins_method():
    class Careless(RoomSpace):
        def allowed_next(self, prefix):
            return None

    masks = masks_for(Careless())
    with pytest.raises(plugins.PluginFault) as caught:
        masks.step(("@go",))
    message = str(caught.value)
    assert "\n" not in message and "Careless.allowed_next" in message and "returned None" in message
    assert caught.value.exit_code == 1


# 3. a plugin's code failing while a command runs --------------------------------------------------


FAULTY = """
    import functools
    import os
    import sys

    import nep_core
    from nep_core.action_space import KindSpec, Slot, SymbolicActionSpace
    from nep_core.actions import Action
    from nep_core.collector import Collector
    from nep_core.domain import Domain
    from nep_core.encoder import ActionHistoryEncoder
    from nep_core.session import Event, Session
    from nep_core.verifier import ActionSpaceVerifier

    FAULT = os.environ.get("FAULT", "")


    class FaultySpace(SymbolicActionSpace):
        def encode(self, action):
            if FAULT == "encode" or (FAULT == "encode-prod" and action.kind == "prod"):
                raise RuntimeError("encode blew up")
            if FAULT == "exit":
                sys.exit(0)
            return super().encode(action)


    SPACE = FaultySpace([KindSpec("poke", [Slot.choice("target", ["a", "b"])]), KindSpec("prod")], name="faulty")


    def session(index):
        events = [Event(t=float(step), action=Action("poke", target="ab"[step % 2])) for step in range(12)]
        return Session(id=f"s{index}", domain="faulty", events=events)


    class Fine(Collector):
        name = "fine"

        def collect(self, argument, report, seed=0):
            for index in range(int(argument or 10)):
                yield session(index)


    class Raising(Collector):
        name = "raising"

        def collect(self, argument, report, seed=0):
            yield session(0)
            raise KeyError("boom in collector")


    class NoYield(Collector):
        name = "noyield"

        def collect(self, argument, report, seed=0):
            report.count("nothing")


    class Dicts(Collector):
        name = "dicts"

        def collect(self, argument, report, seed=0):
            yield {"id": "a", "domain": "faulty", "events": []}


    class Returning(Collector):
        name = "returning"

        def collect(self, argument, report, seed=0):
            if argument == "never":
                yield session(0)
            if argument == "empty":
                report.warn("nothing there")
                return []
            return [session(1), session(2)]


    class Stranger(Collector):
        name = "stranger"

        def collect(self, argument, report, seed=0):
            yield Session(id="s", domain="turtle", events=session(0).events)


    class Judge(ActionSpaceVerifier):
        name = "judge"

        def verify(self, context, predicted, reference=None):
            if FAULT == "verify":
                raise KeyError("x")
            if FAULT == "verdict":
                return True
            return super().verify(context, predicted, reference)


    def tokenizer(domain, sessions):
        from tokenizers import Tokenizer, models
        from transformers import PreTrainedTokenizerFast
        from nep_core.tokenizer import build_wordlevel_tokenizer

        tokens = [*domain.action_space.vocabulary(), *domain.encoder.vocabulary()]
        if FAULT == "tokenizer-none":
            return None
        if FAULT == "tokenizer-bare":
            return PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"a": 0, "?": 1}, unk_token="?")), unk_token="?")
        if FAULT == "tokenizer-lacks":
            tokens.remove('target="b"')
        return build_wordlevel_tokenizer(tokens)


    @nep_core.hookimpl
    def register_domains(register):
        register(Domain(name="faulty", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE),
                        collectors={c.name: c for c in (Fine(), Raising(), NoYield(), Dicts(), Stranger(), Returning())},
                        verifiers={"judge": Judge(SPACE)}, tokenizer_factory=functools.partial(tokenizer)))  # a partial names its function
"""


@pytest.fixture(scope="module")
def faulty_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faulty-plugins")
    write_plugin(folder, "faulty", FAULTY)
    return folder


def one_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    shown = lines(result.stderr)
    assert len(shown) == 1 and shown[0].startswith("error: "), result.stderr
    return shown[0]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("raising:", "failed in Raising.collect: KeyError: 'boom in collector'"),
        ("noyield:", "collector 'noyield' returned None, not the sessions"),
        ("dicts:", "collector 'dicts' yielded a dict, not a nep_core.session.Session"),
        ("stranger:", "failed in Stranger.collect: collector 'stranger' yielded a session of domain 'turtle', not 'faulty'"),
        ("returning:", "failed in Returning.collect: collector 'returning' returned a list from a generator (its function also "
                       "yields), and Python drops what a generator returns; yield each Session"),
    ],
)
def test_a_collector_that_fails_is_one_line_naming_the_plugin(faulty_dir, tmp_path, source, expected):
    result = nep("collect", "--domain", "faulty", "--source", source, "--out", str(tmp_path / "out"), plugins_dir=faulty_dir)
    line = one_error(result)
    assert line.startswith(f"error: plugin 'faulty' ({faulty_dir / 'faulty.py'})"), line
    assert expected in line, line


def test_a_generator_collector_returning_nothing_is_no_fault(faulty_dir, tmp_path):
    """`return []` in a generator loses nothing: no sessions, said as such, not blamed on the plugin."""
    result = nep("collect", "--domain", "faulty", "--source", "returning:empty", "--out", str(tmp_path / "out"), plugins_dir=faulty_dir)
    assert result.returncode == 1 and "returned a list" not in result.stderr and "error: returning:empty: no sessions to write" in result.stderr, result.stderr


def test_a_collector_failing_in_a_collection_worker_is_one_line_naming_the_plugin(faulty_dir, tmp_path):
    """Joined sources are collected in forked workers, whose errors reach the parent without the plugin's
    frames: the failure was a traceback (through multiprocessing's RemoteTraceback)."""
    result = nep("collect", "--domain", "faulty", "--source", "fine:3 + raising:", "--out", str(tmp_path / "out"),
                 plugins_dir=faulty_dir)
    line = one_error(result)
    assert line.startswith(f"error: plugin 'faulty' ({faulty_dir / 'faulty.py'}) failed in Raising.collect: KeyError: 'boom in collector'"), line


@pytest.mark.parametrize(("fault", "expected"), [("encode", "RuntimeError: encode blew up"), ("exit", "SystemExit: 0")])
def test_an_action_space_that_fails_is_one_line_naming_the_plugin_and_method(faulty_dir, fault, expected):
    result = nep("eval", "--domain", "faulty", "--model", "ngram", "--data", "fine:6", plugins_dir=faulty_dir, FAULT=fault)
    line = one_error(result)
    assert line.startswith(f"error: plugin 'faulty' ({faulty_dir / 'faulty.py'}) failed in FaultySpace.encode: {expected}"), line
    assert "(faulty.py:" in line  # where it was raised


@pytest.mark.parametrize(("fault", "expected"), [
    ("verify", "verifier 'judge' raised KeyError: 'x' (faulty.py:"),
    ("verdict", "verifier 'judge' returned bool, not a Verdict (session "),
])
def test_a_verifier_that_fails_in_nep_eval_is_one_line_naming_the_plugin_with_status_1(faulty_dir, fault, expected):
    """It was status 2, a user's mistake, and named only the verifier."""
    result = nep("eval", "--domain", "faulty", "--model", "ngram", "--data", "fine:6", plugins_dir=faulty_dir, FAULT=fault)
    line = one_error(result)
    assert line.startswith(f"error: plugin 'faulty' ({faulty_dir / 'faulty.py'}): {expected}"), line


@pytest.mark.parametrize(("fault", "expected"), [
    ("tokenizer-none", "returned None, not a transformers.PreTrainedTokenizerFast"),
    ("tokenizer-bare", "returned a tokenizer without <pad>, <unk>, <bos>, <sep>, <eos>, <no_edit>: NEP's tokenizers hold "),
])
def test_a_tokenizer_factory_whose_tokenizer_nep_cannot_use_is_one_line_naming_it(faulty_dir, tmp_path, fault, expected):
    """`save_pretrained` of None, and `self._vocab['<bos>']`, were tracebacks in NEP's code."""
    result = nep("train", "--domain", "faulty", "--data", "fine:20", "--preset", "tiny", "--max-steps", "1", "--out",
                 str(tmp_path / "run"), plugins_dir=faulty_dir, FAULT=fault)
    line = one_error(result)
    assert line.startswith(f"error: plugin 'faulty' ({faulty_dir / 'faulty.py'}) failed in tokenizer: {expected}"), line


def test_tokens_the_factorys_tokenizer_lacks_are_blamed_on_it_not_on_vocabulary(faulty_dir, tmp_path):
    """The warning told the author to list in vocabulary() a token that was listed there: the factory left it out."""
    result = nep("train", "--domain", "faulty", "--data", "fine:20", "--preset", "tiny", "--max-steps", "1", "--out",
                 str(tmp_path / "run"), plugins_dir=faulty_dir, FAULT="tokenizer-lacks")
    assert result.returncode == 0, result.stderr
    warned = [line for line in lines(result.stderr) if "read as <unk>" in line]
    assert len(warned) == 1 and "are not in the tokenizer its tokenizer_factory made" in warned[0], result.stderr
    assert "'target=\"b\"'" in warned[0] and "vocabulary()" not in warned[0], warned


def test_a_plugin_failing_under_nep_serve_is_named_in_the_answer_and_the_server_log(faulty_dir):
    """The 500 said `the predictor failed (RuntimeError); see the server log`, whose traceback named no plugin."""
    import httpx
    from server_helpers import ServeProcess

    env = {key: value for key, value in os.environ.items() if not key.startswith("NEP_") or key == "NEP_HOME"}
    server = ServeProcess("--domain", "faulty", "--model", "ngram", "--data", "fine:6", "--port", "0",
                          env={**env, "NEP_LOAD_PLUGINS": "", "NEP_PLUGINS_DIR": str(faulty_dir), "FAULT": "encode-prod"})
    try:
        history = [{"t": 0.0, "action": {"kind": "poke", "target": "a"}}, {"t": 1.0, "action": {"kind": "prod"}}]
        answers = [httpx.post(f"{server.url}/v1/suggest", json={"session": "s", "history": history}, timeout=60) for _ in range(2)]
    finally:
        _, log = server.interrupt()
    fault = f"plugin 'faulty' ({faulty_dir / 'faulty.py'}) failed in FaultySpace.encode: RuntimeError: encode blew up (faulty.py:"
    for answer in answers:
        assert answer.status_code == 500 and answer.json()["detail"].startswith(f"the predictor failed: {fault}"), answer.text
    assert f"the predictor failed: {fault}" in log and f"the predictor failed again: {fault}" in log, log


def test_nep_debug_shows_a_plugin_failures_traceback(faulty_dir):
    result = nep("eval", "--domain", "faulty", "--model", "ngram", "--data", "fine:6", plugins_dir=faulty_dir,
                 FAULT="encode", NEP_DEBUG="1")
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert lines(result.stderr)[-1].startswith("error: plugin 'faulty'")


def test_a_failure_is_the_plugins_only_when_the_plugins_code_raised_it():
    record = plugins.PluginRecord(name="faulty", source="/x/faulty.py", module_names=("nep_plugins_dir.faulty",))

    def raise_in(module_name: str, qualname: str) -> BaseException:
        code = compile(f"def {qualname.split('.')[-1]}():\n    raise ValueError('bad')\n", f"/x/{module_name}.py", "exec")
        namespace = {"__name__": module_name}
        exec(code, namespace)
        try:
            namespace[qualname.split(".")[-1]]()
        except ValueError as error:
            return error
        raise AssertionError

    assert plugins.plugin_failure(raise_in("nep_plugins_dir.faulty", "helper"), [record]).startswith(
        "plugin 'faulty' (/x/faulty.py) failed in helper: ValueError: bad")
    assert plugins.plugin_failure(raise_in("nep_core.something", "helper"), [record]) is None  # a core bug: its traceback
    assert plugins.plugin_failure(raise_in("nep_plugins_dir.other", "helper"), [record]) is None
    # NEP's own built-in domains are entry points too, but a failure in their code is NEP's bug: its traceback
    builtin = plugins.PluginRecord(name="code", source="entry point nep_code.plugin", module_names=("nep_code",), distribution="nep")
    third = plugins.PluginRecord(name="code", source="entry point nep_code.plugin", module_names=("nep_code",), distribution="nep-code-x")
    assert plugins.plugin_failure(raise_in("nep_code.substitution", "helper"), [builtin]) is None
    assert plugins.plugin_failure(raise_in("nep_code.substitution", "helper"), [third]).startswith("plugin 'code' (nep-code-x) failed in helper")


# 4, 7, 13. malformed domains, classes for instances, bad names -------------------------------------


def test_a_malformed_domain_is_skipped_with_a_warning_and_the_others_still_work(tmp_path):
    write_plugin(tmp_path, "malformed", """
        import nep_core
        from nep_core.action_space import KindSpec, SymbolicActionSpace
        from nep_core.collector import LogCollector
        from nep_core.domain import Domain
        from nep_core.encoder import ActionHistoryEncoder

        SPACE = SymbolicActionSpace([KindSpec("poke")])

        @nep_core.hookimpl
        def register_domains(register):
            register(Domain(name="no-encoder", action_space=SPACE, encoder=None))
            register(Domain(name="space-class", action_space=SymbolicActionSpace, encoder=ActionHistoryEncoder(SPACE)))
            register(Domain(name="collector-class", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE),
                            collectors={"logs": LogCollector}))
            for name in ("to/do", "", "To Do", ["listed"]):
                register(Domain(name=name, action_space=SPACE, encoder=ActionHistoryEncoder(SPACE)))
            register(Domain(name="fine_2", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE)))
    """)
    write_plugin(tmp_path, "good", GOOD)
    result = nep("domains", "--json", plugins_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"good", "fine_2"}
    assert "Traceback" not in result.stderr
    shown = warnings_of(result)
    assert len(shown) == 7 and all(line.startswith("warning: plugin 'malformed'") for line in shown), result.stderr
    text = "\n".join(shown)
    assert "domain 'no-encoder' skipped: its encoder is None, not a nep_core.encoder.HistoryEncoder" in text
    assert "domain 'space-class' skipped: its action_space is the class SymbolicActionSpace, not an instance" in text
    assert "domain 'collector-class' skipped: its collectors['logs'] is the class LogCollector, not an instance" in text
    for name in ("'to/do'", "''", "'To Do'"):
        assert f"domain name {name} skipped" in text


def test_a_domain_whose_tuning_field_is_wrong_is_skipped_naming_the_field(tmp_path):
    """`beam_width = "wide"` and `min_confidence = "high"` were tracebacks in nep predict and nep eval, `decision = "kinds"`
    decided as "sequence" without a word, and `default_preset = "huge"` blamed a --preset the user never gave."""
    write_plugin(tmp_path, "tuned", """
        import nep_core
        from nep_core.action_space import KindSpec, SymbolicActionSpace
        from nep_core.domain import Domain
        from nep_core.encoder import ActionHistoryEncoder

        SPACE = SymbolicActionSpace([KindSpec("poke")])
        WRONG = {"beam": {"beam_width": "wide"}, "confidence": {"min_confidence": "high"}, "over": {"min_confidence": 1.5},
                 "decision": {"decision": "kinds"}, "preset": {"default_preset": "huge"}, "steps": {"default_max_steps": 0},
                 "weight": {"prompt_loss_weight": float("nan")}, "tokenizer": {"tokenizer_factory": "bpe"},
                 "boolean": {"beam_width": True}}

        @nep_core.hookimpl
        def register_domains(register):
            for name, fields in WRONG.items():
                register(Domain(name=name, action_space=SPACE, encoder=ActionHistoryEncoder(SPACE), **fields))
            register(Domain(name="tuned", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE), beam_width=4, min_confidence=1,
                            decision="kind", default_preset="tiny", default_max_steps=30, prompt_loss_weight=0))
    """)
    result = nep("domains", "--json", plugins_dir=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert set(json.loads(result.stdout)) == {"tuned"}
    shown = warnings_of(result)
    expected = ["domain 'beam' skipped: its beam_width is 'wide', not a whole number, at least 1",
                "domain 'confidence' skipped: its min_confidence is 'high', not a number from 0 to 1",
                "domain 'over' skipped: its min_confidence is 1.5, not a number from 0 to 1",
                "domain 'decision' skipped: its decision is 'kinds', not 'sequence' or 'kind'",
                "domain 'preset' skipped: its default_preset is 'huge', not a model preset (",
                "domain 'steps' skipped: its default_max_steps is 0, not a whole number, at least 1, or None",
                "domain 'weight' skipped: its prompt_loss_weight is nan, not a number, at least 0",
                "domain 'tokenizer' skipped: its tokenizer_factory is 'bpe', not a function or None",
                "domain 'boolean' skipped: its beam_width is True, not a whole number, at least 1"]
    assert len(shown) == len(expected), shown
    for line, message in zip(shown, expected):
        assert line.startswith(f"warning: plugin 'tuned': {message}"), (line, message)


def test_registering_a_collector_or_verifier_class_is_one_line_naming_the_plugin(tmp_path):
    write_plugin(tmp_path, "classes", """
        import nep_core
        from nep_core.collector import LogCollector
        from nep_core.verifier import ActionSpaceVerifier

        class Archive(LogCollector):
            name = "archive"

        class Strict(ActionSpaceVerifier):
            name = "strict"

        @nep_core.hookimpl
        def register_collectors(register):
            register("good", Archive)

        @nep_core.hookimpl
        def register_verifiers(register):
            register("good", Strict)
    """)
    write_plugin(tmp_path, "good", GOOD)
    result = nep("domains", "--json", plugins_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    domain = json.loads(result.stdout)["good"]
    assert domain["collectors"] == ["logs"] and domain["verifiers"] == ["action-space"]
    shown = warnings_of(result)
    assert len(shown) == 2, result.stderr
    assert ("warning: plugin 'classes' registered the class Archive as a collector for domain 'good'; "
            "register an instance (Archive(...)); skipped") in shown
    assert any("the class Strict as a verifier" in line for line in shown)


# 5, 6. return values and misspelt hooks ------------------------------------------------------------


def test_a_domain_returned_instead_of_registered_is_a_warning(tmp_path):
    write_plugin(tmp_path, "returns", """
        import nep_core
        from nep_core.action_space import KindSpec, SymbolicActionSpace
        from nep_core.domain import Domain
        from nep_core.encoder import ActionHistoryEncoder

        SPACE = SymbolicActionSpace([KindSpec("poke")])

        @nep_core.hookimpl
        def register_domains(register):
            return Domain(name="returned", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE))
    """)
    result = nep("domains", "--json", plugins_dir=tmp_path)
    assert result.returncode == 0 and json.loads(result.stdout) == {}
    assert warnings_of(result) == [
        "warning: plugin 'returns' returned a Domain from register_domains, which NEP ignores: call register(...) with it instead"
    ], result.stderr


def test_a_misspelt_hook_or_a_missing_hookimpl_is_a_warning_and_not_listed_as_a_hook(tmp_path):
    write_plugin(tmp_path, "typo", """
        import nep_core

        @nep_core.hookimpl
        def register_domain(register):
            pass

        def register_verifier(register):
            pass

        def register_helper_data():  # neither a hook nor named like one... but named register_*
            pass
    """)
    write_plugin(tmp_path, "nodeco", GOOD.replace("    @nep_core.hookimpl\n", ""))
    result = nep("plugins", "--json", plugins_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {record["name"]: record["hooks"] for record in json.loads(result.stdout)} == {"nodeco": [], "typo": []}
    shown = warnings_of(result)
    assert any("plugin 'typo'" in line and "register_domain is not a NEP hook" in line and "register_domains" in line
               for line in shown), shown
    assert any("plugin 'typo'" in line and "register_verifier is not a NEP hook" in line for line in shown), shown
    assert any("plugin 'nodeco'" in line and "register_domains has no @nep_core.hookimpl" in line for line in shown), shown


# 8. commands that clash ----------------------------------------------------------------------------


def test_a_plugin_command_named_like_a_core_command_or_another_plugins_is_skipped_with_a_warning(tmp_path):
    write_plugin(tmp_path, "a_first", """
        import typer
        import nep_core

        @nep_core.hookimpl
        def register_commands(cli):
            group = typer.Typer(help="First hello.")

            @group.command()
            def greet():
                typer.echo("hello from a_first")

            cli.add_typer(group, name="hello")
    """)
    write_plugin(tmp_path, "b_clash", """
        import typer
        import nep_core

        @nep_core.hookimpl
        def register_commands(cli):
            @cli.command()
            def train():
                \"\"\"Shadow the core's train.\"\"\"
                typer.echo("plugin train ran")

            group = typer.Typer(help="Second hello.")

            @group.command()
            def greet():
                typer.echo("hello from b_clash")

            cli.add_typer(group, name="hello")

            @cli.command("own-one")
            def own():
                typer.echo("own")
    """)
    result = nep("hello", "greet", plugins_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from a_first\n"
    assert warnings_of(result) == [
        f"warning: plugin 'b_clash' ({tmp_path / 'b_clash.py'}) adds a command 'train', which is nep's own; the plugin's is skipped",
        f"warning: plugin 'b_clash' ({tmp_path / 'b_clash.py'}) adds a command 'hello', which plugin 'a_first' "
        f"({tmp_path / 'a_first.py'}) added first; the later one is skipped",
    ], result.stderr
    train = nep("train", "--help", plugins_dir=tmp_path)
    assert "plugin train ran" not in train.stdout and "--max-steps" in train.stdout
    assert nep("own-one", plugins_dir=tmp_path).stdout == "own\n"


# 11. sys.exit in a plugin --------------------------------------------------------------------------


def test_sys_exit_at_import_or_in_a_hook_is_a_warning_like_any_failure(tmp_path):
    write_plugin(tmp_path, "byebye", "import sys\nsys.exit('plugin says bye')\n")
    write_plugin(tmp_path, "hookexit", """
        import sys
        import nep_core

        @nep_core.hookimpl
        def register_domains(register):
            sys.exit(0)

        @nep_core.hookimpl
        def register_commands(cli):
            sys.exit(3)
    """)
    write_plugin(tmp_path, "good", GOOD)
    result = nep("domains", "--json", plugins_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"good"}
    shown = warnings_of(result)
    assert f"warning: plugin 'byebye' ({tmp_path / 'byebye.py'}) failed to load: SystemExit: plugin says bye" in shown, shown
    assert "warning: plugin 'hookexit' failed in register_domains: SystemExit: 0" in shown, shown
    assert "warning: plugin 'hookexit' failed in register_commands: SystemExit: 3" in shown, shown


def test_a_plugin_commands_own_exit_status_stands_and_its_failure_names_the_command(tmp_path):
    """`sys.exit(3)` in a plugin's command ended with `error: ... failed in register_commands: SystemExit: 3` and status 1."""
    write_plugin(tmp_path, "commands", """
        import sys
        import nep_core

        @nep_core.hookimpl
        def register_commands(cli):
            @cli.command("quits")
            def quits(code: int = 0):
                print("done")
                sys.exit(code)

            @cli.command("breaks")
            def breaks():
                {}["pen"]
    """)
    for code in (0, 3):
        result = nep("quits", "--code", str(code), plugins_dir=tmp_path)
        assert (result.returncode, result.stdout, result.stderr) == (code, "done\n", ""), result.stderr
    assert one_error(nep("breaks", plugins_dir=tmp_path)).startswith(
        f"error: plugin 'commands' ({tmp_path / 'commands.py'}) failed in breaks: KeyError: 'pen'")


def test_a_domain_left_out_for_a_malformed_field_leaves_out_what_plugins_add_to_it(tmp_path):
    """Its collectors, registered by register_collectors, stopped every command: `adds to domain 'Todo', which no plugin registers`."""
    write_plugin(tmp_path, "badname", """
        import nep_core
        from nep_core.action_space import KindSpec, SymbolicActionSpace
        from nep_core.collector import Collector
        from nep_core.domain import Domain
        from nep_core.encoder import ActionHistoryEncoder

        SPACE = SymbolicActionSpace([KindSpec("poke")])

        class Mine(Collector):
            name = "mine"

            def collect(self, argument, report, seed=0):
                return iter(())

        @nep_core.hookimpl
        def register_domains(register):
            register(Domain(name="Todo", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE)))

        @nep_core.hookimpl
        def register_collectors(register):
            register("Todo", Mine())
    """)
    write_plugin(tmp_path, "good", GOOD)
    result = nep("domains", "--json", plugins_dir=tmp_path)
    assert result.returncode == 0 and set(json.loads(result.stdout)) == {"good"}, result.stderr
    assert len(warnings_of(result)) == 1 and "domain name 'Todo' skipped" in result.stderr, result.stderr


def test_the_registry_refuses_bad_items_when_used_in_process():
    """``Domain.add_collector`` (what register_collectors ends in) refuses a class, in one line."""
    from nep_core.collector import LogCollector
    from nep_core.domain import Domain
    from nep_core.encoder import ActionHistoryEncoder

    space = SymbolicActionSpace([KindSpec("poke", [Slot.choice("target", ["a"])])])
    domain = Domain(name="d", action_space=space, encoder=ActionHistoryEncoder(space))
    with pytest.raises(PluginError, match=r"plugin 'p' registered the class LogCollector as a collector for domain 'd'"):
        domain.add_collector(LogCollector, "p")


def test_a_default_source_the_domain_cannot_read_is_named_as_the_plugins(tmp_path):
    """`default_source="synthetc:20"` said `unknown source 'synthetc:20'`, which the user never typed."""
    write_plugin(tmp_path, "typo_source", GOOD.replace('encoder=ActionHistoryEncoder(SPACE))', 'encoder=ActionHistoryEncoder(SPACE), default_source="synthetc:20")'))
    result = nep("train", "--domain", "good", "--max-steps", "1", plugins_dir=tmp_path, NEP_HOME=str(tmp_path / "home"))
    assert result.returncode == 2 and "Traceback" not in result.stderr and len(lines(result.stderr)) == 1, result.stderr
    assert result.stderr.startswith("error: domain 'good' (plugin typo_source) names a default_source it cannot read: "
                                    "unknown source 'synthetc:20'"), result.stderr


@pytest.mark.parametrize(("returned", "expected"), [
    (None, "returned None, not a list of token strings"),
    ("@poke dt>2", "returned a str, not a list of token strings"),
    (["@poke", 1], "returned a list holding an int (1), not a list of token strings"),
])
def test_an_encoder_that_returns_no_token_strings_is_one_line_naming_it(returned, expected):
    """None was a traceback in NEP's prompt_ids; a string was read character by character without a word."""
    from nep_core.action_space import KindSpec, SymbolicActionSpace
    from nep_core.domain import Domain
    from nep_core.encoder import ActionHistoryEncoder
    from nep_core.errors import PluginFault
    from nep_core.features import Featurizer
    from nep_core.session import Context

    class Wrong(ActionHistoryEncoder):
        def encode(self, context):
            return returned

    space = SymbolicActionSpace([KindSpec("poke")])
    domain = Domain(name="wrong", action_space=space, encoder=Wrong(space))
    featurizer = Featurizer(domain, domain.build_tokenizer())
    with pytest.raises(PluginFault) as raised:
        featurizer.prompt_ids(Context(history=[]))
    assert str(raised.value).endswith(f"failed in {Wrong.__qualname__}.encode: {expected}"), str(raised.value)


def test_nep_domains_with_nothing_loaded_says_whether_the_allowlist_is_why(tmp_path):
    """With NEP_LOAD_PLUGINS naming only a plugin that failed, it said `No domains installed. Install a domain plugin`."""
    write_plugin(tmp_path, "broken", "raise ImportError('needs libfoo')\n")
    limited = nep("domains", plugins_dir=tmp_path, NEP_LOAD_PLUGINS="broken")
    assert limited.returncode == 0 and "No domains loaded with NEP_LOAD_PLUGINS='broken'" in " ".join(limited.stdout.split()), limited.stdout
    everything = {key: value for key, value in os.environ.items() if not key.startswith("NEP_") or key == "NEP_HOME"}
    bare = subprocess.run([sys.executable, "-m", "nep_core.cli.main", "domains"], capture_output=True, text=True, timeout=180,
                          env={**everything, "NEP_LOAD_PLUGINS": ""})
    assert "No domains loaded with NEP_LOAD_PLUGINS=''" in " ".join(bare.stdout.split()), bare.stdout
