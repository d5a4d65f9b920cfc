"""The plugin system.

In-process tests register temporary plugins with ``register_plugin`` and always unregister them in
``finally``, as simonw/llm's tests do. Discovery (entry points, NEP_PLUGINS_DIR, NEP_LOAD_PLUGINS),
broken plugins, plugin commands and tracing are tested through real ``nep`` subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import nep_core
from nep_core import plugins
from nep_core.action_space import KindSpec, Slot, SymbolicActionSpace
from nep_core.actions import Action
from nep_core.collector import Collector, CollectReport
from nep_core.dataset import collect
from nep_core.domain import Domain
from nep_core.encoder import ActionHistoryEncoder
from nep_core.errors import NepError, PluginError, UnknownDomain
from nep_core.session import Context, Event, Session
from nep_core.verifier import Verdict, Verifier

TESTS = Path(__file__).resolve().parent


def small_domain(name: str) -> Domain:
    space = SymbolicActionSpace([KindSpec("poke", [Slot.choice("target", ["a", "b"])])], name=name)
    return Domain(name=name, action_space=space, encoder=ActionHistoryEncoder(space), description=f"{name} domain")


class OneTagCollector(Collector):
    """ARGUMENT sessions of the tags domain, each opening, writing into and closing tag ``a``."""

    name = "one-tag"
    description = "tiny hand-made tags sessions"

    def collect(self, argument: str, report: CollectReport, seed: int = 0):
        for index in range(int(argument or 1)):
            report.count("sessions")
            actions = [Action("open", target="a"), Action("write", args={"word": "x"}), Action("close", target="a")]
            events = [Event(t=float(step), action=action) for step, action in enumerate(actions)]
            yield Session(id=f"one-tag-{index}", domain="tags", events=events)


class ShallowVerifier(Verifier):
    """Valid while fewer than two tags are open."""

    name = "shallow"

    def verify(self, context: Context, predicted: Action, reference: Action | None = None) -> Verdict:
        depth = sum(+1 if a.kind == "open" else -1 if a.kind == "close" else 0 for a in context.actions())
        depth += predicted.kind == "open"
        return Verdict(depth < 2, float(predicted == reference), {"depth": depth})


# In-process: temporary plugins ------------------------------------------------------------------


def test_register_domains_adds_a_domain_with_core_defaults():
    class TempDomainPlugin:
        @nep_core.hookimpl
        def register_domains(self, register):
            register(small_domain("temp-domain"))

    assert "temp-domain" not in plugins.domains()
    name = plugins.register_plugin(TempDomainPlugin(), name="TempDomainPlugin")
    try:
        domain = plugins.get_domain("temp-domain")
        assert domain.plugin == "TempDomainPlugin"
        assert set(domain.collectors) == {"logs"}  # every domain can read session logs
        assert set(domain.verifiers) == {"action-space"}  # and has at least the action-space verifier
        record = {r.name: r for r in plugins.plugins()}[name]
        assert record.hooks == ["register_domains"]
    finally:
        plugins.unregister_plugin("TempDomainPlugin")
    assert "temp-domain" not in plugins.domains()
    assert "TempDomainPlugin" not in {r.name for r in plugins.plugins()}


def test_duplicate_domain_name_is_a_one_line_plugin_error():
    class ImpostorPlugin:
        @nep_core.hookimpl
        def register_domains(self, register):
            register(small_domain("tags"))

    plugins.register_plugin(ImpostorPlugin(), name="ImpostorPlugin")
    try:
        with pytest.raises(PluginError) as caught:
            plugins.domains()
        message = str(caught.value)
        assert "\n" not in message
        assert "'tags'" in message and "'nep_tags'" in message and "'ImpostorPlugin'" in message
        assert "NEP_LOAD_PLUGINS" in message  # says how to fix it
    finally:
        plugins.unregister_plugin("ImpostorPlugin")
    assert plugins.get_domain("tags").plugin == "nep_tags"


def test_register_collectors_and_verifiers_extend_an_existing_domain():
    class TagsExtrasPlugin:
        @nep_core.hookimpl
        def register_collectors(self, register):
            register("tags", OneTagCollector())

        @nep_core.hookimpl
        def register_verifiers(self, register):
            register("tags", ShallowVerifier())

    assert "one-tag" not in plugins.get_domain("tags").collectors
    plugins.register_plugin(TagsExtrasPlugin(), name="TagsExtrasPlugin")
    try:
        domain = plugins.get_domain("tags")
        assert {"logs", "synthetic", "one-tag"} <= set(domain.collectors)
        assert {"nesting", "shallow"} <= set(domain.verifiers)
        # The added collector is reachable through a COLLECTOR:ARGUMENT source, like `nep collect --source`.
        report = CollectReport()
        sessions = list(collect(domain, "one-tag:3", report))
        assert [s.id for s in sessions] == ["one-tag-0", "one-tag-1", "one-tag-2"]
        assert report.counts == {"sessions": 3}
        # The added verifier really judges.
        context = Context(history=sessions[0].events[:1])
        assert domain.verifiers["shallow"].verify(context, Action("write", args={"word": "x"})).valid
        assert not domain.verifiers["shallow"].verify(context, Action("open", target="b")).valid
    finally:
        plugins.unregister_plugin("TagsExtrasPlugin")
    assert "one-tag" not in plugins.get_domain("tags").collectors
    assert "shallow" not in plugins.get_domain("tags").verifiers


def test_adding_to_a_missing_domain_is_a_clear_error():
    class StrayPlugin:
        @nep_core.hookimpl
        def register_verifiers(self, register):
            register("no-such-domain", ShallowVerifier())

    plugins.register_plugin(StrayPlugin(), name="StrayPlugin")
    try:
        with pytest.raises(PluginError, match=r"plugin 'StrayPlugin' adds to domain 'no-such-domain'"):
            plugins.domains()
    finally:
        plugins.unregister_plugin("StrayPlugin")
    assert "tags" in plugins.domains()


def test_duplicate_collector_name_is_a_plugin_error():
    class ClashPlugin:
        @nep_core.hookimpl
        def register_collectors(self, register):
            clash = OneTagCollector()
            clash.name = "synthetic"  # the tags domain already has one
            register("tags", clash)

    plugins.register_plugin(ClashPlugin(), name="ClashPlugin")
    try:
        with pytest.raises(PluginError, match=r"collector 'synthetic' for domain 'tags' is registered twice"):
            plugins.domains()
    finally:
        plugins.unregister_plugin("ClashPlugin")


@pytest.mark.parametrize("what", ["collectors", "verifiers"])
def test_a_domain_whose_collector_or_verifier_key_is_not_its_name_is_a_plugin_error(what):
    """`--source gen:2` would fail with 'unknown source' while `nep domains` listed `gen`."""
    class MisnamedPlugin:
        @nep_core.hookimpl
        def register_domains(self, register):
            domain = small_domain("misnamed")
            items = {"gen": OneTagCollector()} if what == "collectors" else {"gen": ShallowVerifier()}
            register(Domain(**{**domain.__dict__, what: items}))

    plugins.register_plugin(MisnamedPlugin(), name="MisnamedPlugin")
    try:
        name = "one-tag" if what == "collectors" else "shallow"
        with pytest.raises(PluginError, match=rf"domain 'misnamed' with {what}\['gen'\] named '{name}'; the key must be its name"):
            plugins.domains()
    finally:
        plugins.unregister_plugin("MisnamedPlugin")


def test_registering_something_that_is_not_a_domain_is_a_plugin_error():
    class ConfusedPlugin:
        @nep_core.hookimpl
        def register_domains(self, register):
            register({"name": "dict-domain"})

    plugins.register_plugin(ConfusedPlugin(), name="ConfusedPlugin")
    try:
        with pytest.raises(PluginError, match=r"plugin 'ConfusedPlugin' registered .* not a nep_core.Domain"):
            plugins.domains()
    finally:
        plugins.unregister_plugin("ConfusedPlugin")


def test_a_module_level_domain_survives_rebuilds_of_the_registry():
    shared = small_domain("shared-domain")

    class SharedDomainPlugin:
        @nep_core.hookimpl
        def register_domains(self, register):
            register(shared)

        @nep_core.hookimpl
        def register_collectors(self, register):
            register("shared-domain", OneTagCollector())

    plugins.register_plugin(SharedDomainPlugin(), name="SharedDomainPlugin")
    try:
        first = plugins.get_domain("shared-domain")
        plugins.reset_domains()  # what register_plugin / unregister_plugin do
        second = plugins.get_domain("shared-domain")
        assert set(second.collectors) == {"logs", "one-tag"}
        assert first is not second and shared.collectors == {} and shared.plugin == ""
    finally:
        plugins.unregister_plugin("SharedDomainPlugin")


def test_a_plugin_hook_that_raises_is_a_warning_naming_it():
    class FlakyPlugin:
        @nep_core.hookimpl
        def register_domains(self, register):
            raise RuntimeError("database not reachable")

    plugins.register_plugin(FlakyPlugin(), name="FlakyPlugin")
    try:
        with pytest.warns(plugins.PluginLoadWarning, match=r"plugin 'FlakyPlugin' failed in register_domains: .*reachable"):
            table = plugins.domains()
        assert "tags" in table  # the other plugins still load
    finally:
        plugins.unregister_plugin("FlakyPlugin")


def test_a_plugins_own_nep_error_in_a_hook_is_a_warning_naming_it_and_the_others_load():
    """`error: config missing` named no plugin and stopped every command, those of other domains too."""
    class ConfiguredPlugin:
        @nep_core.hookimpl
        def register_domains(self, register):
            raise NepError("config missing: set SHELL_CONFIG")

    plugins.register_plugin(ConfiguredPlugin(), name="ConfiguredPlugin")
    try:
        with pytest.warns(plugins.PluginLoadWarning, match=r"^plugin 'ConfiguredPlugin' failed in register_domains: config missing: set SHELL_CONFIG$"):
            table = plugins.domains()
        assert "tags" in table
    finally:
        plugins.unregister_plugin("ConfiguredPlugin")


def test_one_module_named_by_two_entry_points_is_loaded_once_and_an_object_without_hooks_is_named():
    """pluggy's `Plugin already registered under a different name: ...=<module ...>` leaked out, and an entry point
    naming an object that implements no hook (`nep_shell:SPACE`) loaded without a word."""
    class Twice:
        @nep_core.hookimpl
        def register_domains(self, register):
            pass

    twice = Twice()
    plugins.register_plugin(twice, name="first")
    try:
        with pytest.warns(plugins.PluginLoadWarning, match=r"^plugin 'second' is the module of plugin 'first' again \(two entry points "
                                                           r"name it\); it is loaded once, as 'first'$"):
            plugins.register_plugin(twice, name="second")
        assert plugins.plugin_manager().get_plugin("second") is None
        with pytest.warns(plugins.PluginLoadWarning, match=r"^plugin 'hookless' implements no NEP hook \(register_collectors, "
                                                           r"register_commands, register_domains, register_verifiers\), so NEP never calls it"):
            plugins.register_plugin(object(), name="hookless")
    finally:
        for name in ("first", "second", "hookless"):
            plugins.unregister_plugin(name)


def test_unknown_domain_names_the_installed_ones():
    with pytest.raises(UnknownDomain, match=r"unknown domain 'nope' \(installed: .*tags.*\); see `nep domains`"):
        plugins.get_domain("nope")


# Subprocesses: discovery, allowlist, broken plugins, commands, tracing ---------------------------


def nep(*args: str, plugins_dir: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run ``nep ARGS`` in a fresh interpreter; plugin variables come only from the arguments."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEP_") or k == "NEP_HOME"}
    if plugins_dir is not None:
        environment["NEP_PLUGINS_DIR"] = str(plugins_dir)
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", *args],
        capture_output=True, text=True, env=environment, timeout=120,
    )


def write_plugin(folder: Path, name: str, code: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(code))


DOMAIN_PLUGIN = """
    from dataclasses import dataclass

    import nep_core
    from nep_core.action_space import KindSpec, SymbolicActionSpace
    from nep_core.domain import Domain
    from nep_core.encoder import ActionHistoryEncoder

    SPACE = SymbolicActionSpace([KindSpec("poke")])

    @dataclass
    class Pose:  # a dataclass in a loose plugin file needs its module in sys.modules
        x: int = 0

    @nep_core.hookimpl
    def register_domains(register):
        register(Domain(name="{name}", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE)))
"""


@pytest.fixture(scope="module")
def fake_distribution(tmp_path_factory) -> Path:
    """A folder for PYTHONPATH holding an installed distribution with three `nep` entry points."""
    site = tmp_path_factory.mktemp("site")
    info = site / "nep_fake-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: nep-fake\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[nep]\nalpha = fake_alpha\nbeta = fake_beta\nbroken = fake_broken\n")
    write_plugin(site, "fake_alpha", DOMAIN_PLUGIN.format(name="alpha"))
    write_plugin(site, "fake_beta", DOMAIN_PLUGIN.format(name="beta"))
    write_plugin(site, "fake_broken", "raise ImportError('fake_broken needs libfoo')\n")
    return site


def test_entry_points_load_with_versions_and_a_broken_one_is_a_warning(fake_distribution):
    result = nep("plugins", "--json", PYTHONPATH=str(fake_distribution))
    assert result.returncode == 0, result.stderr
    records = {record["name"]: record for record in json.loads(result.stdout)}
    assert {"alpha", "beta"} <= set(records) and "broken" not in records
    assert records["alpha"]["version"] == "0.3"
    assert records["alpha"]["source"] == "entry point fake_alpha"
    assert records["alpha"]["hooks"] == ["register_domains"]
    assert "plugin 'broken' failed to load: ImportError: fake_broken needs libfoo" in result.stderr
    assert "Traceback" not in result.stderr


def test_nep_load_plugins_is_an_allowlist(fake_distribution):
    only_alpha = nep("domains", "--json", PYTHONPATH=str(fake_distribution), NEP_LOAD_PLUGINS="alpha")
    assert only_alpha.returncode == 0, only_alpha.stderr
    assert set(json.loads(only_alpha.stdout)) == {"alpha"}
    assert "broken" not in only_alpha.stderr  # not even imported

    both = nep("domains", "--json", PYTHONPATH=str(fake_distribution), NEP_LOAD_PLUGINS=" beta, alpha ")
    assert set(json.loads(both.stdout)) == {"alpha", "beta"}

    none = nep("plugins", "--json", PYTHONPATH=str(fake_distribution), NEP_LOAD_PLUGINS="")
    assert json.loads(none.stdout) == []

    typo = nep("eval", "--domain", "alpha", "--model", "ngram", PYTHONPATH=str(fake_distribution), NEP_LOAD_PLUGINS="alpah")
    assert typo.returncode == 2 and "Traceback" not in typo.stderr
    assert "NEP_LOAD_PLUGINS names alpah, which no installed plugin is (installed: " in typo.stderr.replace("\n", "")
    assert "unknown domain 'alpha' (installed with NEP_LOAD_PLUGINS=alpah: " in typo.stderr.replace("\n", "")


def test_a_plugin_file_named_like_a_loaded_entry_point_is_skipped_with_a_warning(fake_distribution, tmp_path):
    write_plugin(tmp_path, "alpha", DOMAIN_PLUGIN.format(name="alpha-from-a-file"))
    result = nep("domains", "--json", plugins_dir=tmp_path, PYTHONPATH=str(fake_distribution), NEP_LOAD_PLUGINS="alpha")
    assert set(json.loads(result.stdout)) == {"alpha"}
    assert f"plugin file {tmp_path / 'alpha.py'} skipped: a plugin named 'alpha' is already loaded" in result.stderr


def test_a_plugin_file_that_fails_to_import_is_a_warning_and_the_cli_still_works(tmp_path):
    folder = tmp_path / "plugins"
    write_plugin(folder, "broken_plugin", "import nep_core\nraise RuntimeError('boom while importing')\n")
    write_plugin(folder, "good_plugin", DOMAIN_PLUGIN.format(name="good"))
    # NEP_LOAD_PLUGINS="" keeps installed entry points (built-in domains, a user's plugins) out of the picture.
    result = nep("domains", "--json", plugins_dir=folder, NEP_LOAD_PLUGINS="")
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)) == {"good"}
    assert "plugin 'broken_plugin'" in result.stderr and "boom while importing" in result.stderr
    assert "Traceback" not in result.stderr
    listed = nep("plugins", "--json", plugins_dir=folder, NEP_LOAD_PLUGINS="")
    assert [record["name"] for record in json.loads(listed.stdout)] == ["good_plugin"]
    assert json.loads(listed.stdout)[0]["source"] == str(folder / "good_plugin.py")


def test_a_plugins_dir_that_is_not_a_folder_is_a_warning(tmp_path):
    result = nep("domains", "--json", plugins_dir=tmp_path / "typo", NEP_LOAD_PLUGINS="")
    assert result.returncode == 0 and json.loads(result.stdout) == {}
    assert f"NEP_PLUGINS_DIR={tmp_path / 'typo'} is not a folder; no plugin files loaded from it" in result.stderr


def test_duplicate_domains_from_two_plugins_fail_the_cli_with_one_line(tmp_path):
    folder = tmp_path / "plugins"
    write_plugin(folder, "first_twin", DOMAIN_PLUGIN.format(name="twin"))
    write_plugin(folder, "second_twin", DOMAIN_PLUGIN.format(name="twin"))
    result = nep("domains", plugins_dir=folder)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: domain 'twin' is registered by both 'first_twin' and 'second_twin'; "
        "uninstall one, or limit loading with NEP_LOAD_PLUGINS"
    )


EVERY_HOOK_PLUGIN = """
    import typer

    import nep_core
    from nep_core.action_space import KindSpec, SymbolicActionSpace
    from nep_core.collector import LogCollector
    from nep_core.domain import Domain
    from nep_core.encoder import ActionHistoryEncoder
    from nep_core.verifier import ActionSpaceVerifier

    SPACE = SymbolicActionSpace([KindSpec("poke")])

    class Archive(LogCollector):
        name = "archive"

    class Strict(ActionSpaceVerifier):
        name = "strict"

    @nep_core.hookimpl
    def register_domains(register):
        register(Domain(name="every", action_space=SPACE, encoder=ActionHistoryEncoder(SPACE)))

    @nep_core.hookimpl
    def register_collectors(register):
        register("every", Archive("every"))

    @nep_core.hookimpl
    def register_verifiers(register):
        register("every", Strict(SPACE))

    @nep_core.hookimpl
    def register_commands(cli):
        hello = typer.Typer(help="Say hello.", no_args_is_help=True)

        @hello.command()
        def greet(name: str = typer.Option("world", "--name", help="Who to greet.")):
            \"\"\"Greet someone.\"\"\"
            typer.echo(f"hello, {name}!")

        cli.add_typer(hello, name="hello")
"""

BAD_COMMANDS_PLUGIN = """
    import nep_core

    @nep_core.hookimpl
    def register_commands(cli):
        raise ValueError("no typer for you")
"""


@pytest.fixture(scope="module")
def every_hook_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("every-hook-plugins")
    write_plugin(folder, "every_hook", EVERY_HOOK_PLUGIN)
    write_plugin(folder, "bad_commands", BAD_COMMANDS_PLUGIN)
    return folder


def test_register_commands_adds_a_working_sub_command(every_hook_dir):
    result = nep("hello", "greet", "--name", "Ada", plugins_dir=every_hook_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello, Ada!\n"
    # The other plugin's register_commands raised: a warning naming it, and `hello` still works.
    assert "plugin 'bad_commands' failed in register_commands: ValueError: no typer for you" in result.stderr
    listing = nep("--help", plugins_dir=every_hook_dir)
    assert "hello" in listing.stdout and "Say hello." in listing.stdout


def test_nep_plugins_json_lists_every_hook_a_plugin_implements(every_hook_dir):
    result = nep("plugins", "--json", plugins_dir=every_hook_dir)
    records = {record["name"]: record for record in json.loads(result.stdout)}
    assert records["every_hook"]["hooks"] == [
        "register_collectors", "register_commands", "register_domains", "register_verifiers"
    ]
    assert records["bad_commands"]["hooks"] == ["register_commands"]
    domains = json.loads(nep("domains", "--json", plugins_dir=every_hook_dir).stdout)
    assert domains["every"]["collectors"] == ["archive", "logs"]
    assert domains["every"]["verifiers"] == ["action-space", "strict"]


def test_nep_trace_plugins_prints_hook_calls(every_hook_dir):
    traced = nep("domains", "--json", plugins_dir=every_hook_dir, NEP_TRACE_PLUGINS="1")
    assert traced.returncode == 0, traced.stderr
    for hook in ("register_commands", "register_domains", "register_collectors", "register_verifiers"):
        assert f"{hook} [hook]" in traced.stderr and f"finish {hook}" in traced.stderr
    quiet = nep("domains", "--json", plugins_dir=every_hook_dir)
    assert "[hook]" not in quiet.stderr
