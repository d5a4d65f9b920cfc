"""Plugin discovery and the domain registry.

Plugins are modules registered with pluggy: every entry point of the ``nep`` group (built-in domains
included, exactly as third-party ones), plus loose ``*.py`` files in ``NEP_PLUGINS_DIR``.
``NEP_LOAD_PLUGINS=a,b`` loads only the named entry points; a plugin that fails to import (or calls
``sys.exit``), or whose hooks do not match the hookspecs, is a warning and is skipped.
``NEP_TRACE_PLUGINS=1`` prints every hook call to stderr.

A plugin's code that fails while a command runs is reported by ``plugin_failure`` (the CLI's root
handler): one line naming the plugin and the method, from the innermost frame of the plugin's code.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import importlib.util
import inspect
import math
import os
import re
import sys
import traceback
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from nep_core import hookspecs
from nep_core.errors import NepError, PluginError, PluginFault, PluginMistake, UnknownDomain, a_value_of, first_line

ENTRY_POINT_GROUP = "nep"

FAILURES = (Exception, SystemExit)
"""What a plugin may raise and NEP reports as the plugin's failure: ``sys.exit`` in a plugin must not end
(or silently pass) a command."""

RUN_TIME = "registered at run time"

HOOKS: dict[str, Any] = {name: function for name, function in vars(hookspecs).items() if hasattr(function, "nep_spec")}
"""The hookspecs by name."""

DOMAIN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
"""What a domain name may be: it is what ``--domain`` takes, and it names folders (data, feedback logs)."""


class PluginLoadWarning(UserWarning):
    """A plugin could not be imported; NEP carries on without it."""


@dataclass
class PluginRecord:
    name: str
    version: str = ""
    source: str = ""
    module: ModuleType | None = None
    hooks: list[str] = field(default_factory=list)
    distribution: str = ""
    """The installed distribution an entry point comes from (``nep-todo``); empty for a file."""
    module_names: tuple[str, ...] = ()
    """Modules whose code is the plugin's: a module and its submodules (an entry point's whole top-level package)."""

    @property
    def label(self) -> str:
        """``'todo' (nep-todo)`` for an entry point, ``'coll' (/path/coll.py)`` for a file: the plugin and where it is."""
        where = self.distribution or ("" if self.source in ("", RUN_TIME) or self.source.startswith("entry point") else self.source)
        return f"'{self.name}' ({where})" if where else f"'{self.name}'"

    def owns(self, module_name: str) -> bool:
        return any(module_name == name or module_name.startswith(name + ".") for name in self.module_names)


_manager: pluggy.PluginManager | None = None
_records: dict[str, PluginRecord] = {}
_domains: dict[str, Any] | None = None


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with every allowed plugin loaded."""
    global _manager
    if _manager is None:
        _manager = pluggy.PluginManager("nep")
        _manager.add_hookspecs(hookspecs)
        _load_entry_points(_manager)
        _load_plugins_dir(_manager)
        if os.environ.get("NEP_TRACE_PLUGINS"):
            _manager.trace.root.setwriter(lambda message: print(message, end="", file=sys.stderr))
            _manager.enable_tracing()
    return _manager


def _allowlist() -> set[str] | None:
    raw = os.environ.get("NEP_LOAD_PLUGINS")
    if raw is None:
        return None
    return {name.strip() for name in raw.split(",") if name.strip()}


def _load_entry_points(manager: pluggy.PluginManager) -> None:
    allowed = _allowlist()
    entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    unknown = sorted((allowed or set()) - {entry_point.name for entry_point in entry_points})
    if unknown:  # a typo would otherwise load nothing, silently
        installed = ", ".join(sorted({entry_point.name for entry_point in entry_points})) or "none"
        warnings.warn(f"NEP_LOAD_PLUGINS names {', '.join(unknown)}, which no installed plugin is (installed: {installed})", PluginLoadWarning)
    for entry_point in entry_points:
        if allowed is not None and entry_point.name not in allowed:
            continue
        if manager.get_plugin(entry_point.name) is not None:
            continue
        try:
            module = entry_point.load()
        except FAILURES as error:  # a broken plugin (or one that calls sys.exit) must not take the CLI down
            warnings.warn(f"plugin '{entry_point.name}' failed to load: {type(error).__name__}: {first_line(error)}", PluginLoadWarning)
            continue
        distribution = getattr(entry_point, "dist", None)
        version = distribution.version if distribution is not None else ""
        distribution_name = (distribution.metadata["Name"] or "") if distribution is not None else ""
        _register(manager, module, entry_point.name, version, f"entry point {entry_point.value}", distribution_name)


def _load_plugins_dir(manager: pluggy.PluginManager) -> None:
    folder = os.environ.get("NEP_PLUGINS_DIR")
    if not folder:
        return
    if not Path(folder).is_dir():  # a typo would otherwise load nothing, silently
        warnings.warn(f"NEP_PLUGINS_DIR={folder} is not a folder; no plugin files loaded from it", PluginLoadWarning)
        return
    for path in sorted(Path(folder).glob("*.py")):
        name = path.stem
        if manager.get_plugin(name) is not None:
            warnings.warn(f"plugin file {path} skipped: a plugin named '{name}' is already loaded", PluginLoadWarning)
            continue
        try:
            spec = importlib.util.spec_from_file_location(f"nep_plugins_dir.{name}", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # dataclasses and pickle look their module up here
            spec.loader.exec_module(module)
        except FAILURES as error:
            sys.modules.pop(f"nep_plugins_dir.{name}", None)
            warnings.warn(f"plugin '{name}' ({path}) failed to load: {type(error).__name__}: {first_line(error)}", PluginLoadWarning)
            continue
        _register(manager, module, name, "", str(path))


def _register(manager: pluggy.PluginManager, module: Any, name: str, version: str, source: str, distribution: str = "") -> str | None:
    """Register ``module`` as plugin ``name``; None, or why it was skipped (a hook whose arguments are not
    the hookspec's), after a one-line warning. What looks like a hook and is none is a warning too."""
    record = PluginRecord(name=name, version=version, source=source, module=module, distribution=distribution,
                          module_names=_module_names(module, source))
    refused, notes = _hook_problems(manager, module)
    same = manager.get_name(module) if not refused else None
    if same is not None:  # two entry points name one module: pluggy's "already registered under a different name"
        warnings.warn(f"plugin {record.label} is the module of plugin '{same}' again (two entry points name it); "
                      f"it is loaded once, as '{same}'", PluginLoadWarning)
        return None
    if not refused:
        try:
            manager.register(module, name=name)
        except FAILURES as error:
            refused = [f"{type(error).__name__}: {first_line(error)}"]
            if manager.get_plugin(name) is module:  # pluggy leaves what it registered before the failure
                manager.unregister(name=name)
    if refused:
        problem = f"plugin {record.label} skipped: {'; '.join(refused)}"
        warnings.warn(problem, PluginLoadWarning)
        return problem
    for note in notes:
        warnings.warn(f"plugin {record.label}: {note}", PluginLoadWarning)
    record.hooks = sorted(caller.name for caller in manager.get_hookcallers(module) or [] if caller.has_spec())
    if not record.hooks and not notes:  # an entry point naming an object, or a module without @hookimpl functions
        warnings.warn(f"plugin {record.label} implements no NEP hook ({', '.join(sorted(HOOKS))}), so NEP never calls it; "
                      f"an entry point names the module that holds the @nep_core.hookimpl functions", PluginLoadWarning)
    _records[name] = record
    return None


def _module_names(module: Any, source: str) -> tuple[str, ...]:
    """The modules whose code is ``module``'s plugin's: an entry point's top-level package (its helpers
    live beside it: ``nep_blender`` for ``nep_blender.plugin``), a file's own module, an object's class's module."""
    name = module.__name__ if isinstance(module, ModuleType) else type(module).__module__
    if not isinstance(name, str) or not name:
        return ()
    top = name.split(".")[0]
    if source.startswith("entry point") and top not in ("nep_core", "nep_plugins_dir"):
        return (top,)
    return (name,)


def _required_arguments(function: Any) -> list[str]:
    """The arguments a hook implementation needs (pluggy passes those by name; ones with defaults are never passed)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [parameter.name for parameter in parameters if parameter.kind in kinds and parameter.default is parameter.empty]


def _signature(name: str, arguments: Any) -> str:
    return f"{name}({', '.join(arguments)})"


def _hook_problems(manager: pluggy.PluginManager, plugin: Any) -> tuple[list[str], list[str]]:
    """(why the plugin cannot be registered, what looks like a hook and is not one): a hook implementation
    taking an argument its hookspec does not pass (pluggy would refuse it with a traceback); a
    ``@hookimpl`` function that is no hook (``register_domain``); a hook-named function without ``@hookimpl``."""
    refused: list[str] = []
    notes: list[str] = []
    own_module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
    for attribute in dir(plugin):
        try:
            value = getattr(plugin, attribute)
        except Exception:
            continue
        if not inspect.isroutine(value):
            continue
        options = manager.parse_hookimpl_opts(plugin, attribute)
        if options is not None:
            hook = options.get("specname") or attribute
            if hook not in HOOKS:
                notes.append(f"{attribute} is not a NEP hook{_did_you_mean(hook)}; NEP never calls it")
                continue
            wanted = list(inspect.signature(HOOKS[hook]).parameters)
            extra = [argument for argument in _required_arguments(value) if argument not in wanted]
            if extra:
                refused.append(
                    f"its {_signature(attribute, _all_arguments(value))} takes {', '.join(map(repr, extra))}, which the hook "
                    f"{_signature(hook, wanted)} does not pass (a hook takes any of its hookspec's arguments, by name)"
                )
            continue
        if getattr(value, "__module__", None) != own_module:
            continue  # imported from elsewhere: not the plugin's to declare
        if attribute in HOOKS:
            notes.append(f"{attribute} has no @nep_core.hookimpl, so NEP never calls it")
        elif attribute.startswith("register_") and difflib.get_close_matches(attribute, HOOKS, n=1, cutoff=0.8):
            notes.append(f"{attribute} is not a NEP hook{_did_you_mean(attribute)}; NEP never calls it")
    return refused, notes


def _all_arguments(function: Any) -> list[str]:
    try:
        return list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return ["..."]


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name, HOOKS, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else f" (the hooks: {', '.join(sorted(HOOKS))})"


def register_plugin(module: Any, name: str | None = None) -> str:
    """Register a plugin object at run time (tests, embedding apps); returns its name. A plugin whose
    hooks do not match the hookspecs is a ``PluginError``."""
    manager = plugin_manager()
    name = name or getattr(module, "__name__", None) or repr(module)
    problem = _register(manager, module, name, "", RUN_TIME)
    if problem is not None:
        raise PluginError(problem)
    reset_domains()
    return name


def unregister_plugin(name: str) -> None:
    manager = plugin_manager()
    plugin = manager.get_plugin(name)
    if plugin is not None:
        manager.unregister(plugin)
    _records.pop(name, None)
    reset_domains()


def plugins() -> list[PluginRecord]:
    """Loaded plugins with the hooks each implements."""
    plugin_manager()
    return sorted(_records.values(), key=lambda record: record.name)


def reset_domains() -> None:
    global _domains
    _domains = None


def domains() -> dict[str, Any]:
    """Every registered domain by name, with plugin collectors and verifiers merged in."""
    global _domains
    if _domains is not None:
        return _domains
    from nep_core.collector import LogCollector
    from nep_core.domain import Domain
    from nep_core.verifier import ActionSpaceVerifier

    manager = plugin_manager()
    table: dict[str, Domain] = {}
    skipped: set[str] = set()  # domains left out for a malformed field: what plugins add to them is left out too

    for plugin_name, plugin in manager.list_name_plugin():
        if not _implements(manager, plugin, "register_domains"):
            continue

        def register(domain: Domain, _plugin=plugin_name) -> None:
            if not isinstance(domain, Domain):
                raise PluginError(f"plugin '{_plugin}' registered {domain!r}, which is not a nep_core.Domain")
            problem = domain_problem(domain)
            if problem is not None:  # this domain is skipped; the plugin's others and every other plugin's still work
                warnings.warn(f"plugin '{_plugin}': {problem}", PluginLoadWarning)
                if isinstance(getattr(domain, "name", None), str):  # a name of another type is never looked up
                    skipped.add(domain.name)
                return
            if domain.name in table:
                raise PluginError(
                    f"domain '{domain.name}' is registered by both '{table[domain.name].plugin}' and '{_plugin}'; "
                    f"uninstall one, or limit loading with NEP_LOAD_PLUGINS"
                )
            for what, named in (("collectors", domain.collectors), ("verifiers", domain.verifiers)):
                for key, item in named.items():
                    if getattr(item, "name", None) != key:
                        raise PluginError(
                            f"plugin '{_plugin}' registered domain '{domain.name}' with {what}[{key!r}] named "
                            f"{getattr(item, 'name', None)!r}; the key must be its name (sources are written NAME:ARGUMENT)"
                        )
            # A copy, so a plugin may register a module-level Domain and the table can be rebuilt.
            table[domain.name] = replace(
                domain, collectors=dict(domain.collectors), verifiers=dict(domain.verifiers), plugin=_plugin
            )

        _call_plugin_hook(manager, "register_domains", plugin_name, register=register)

    for domain in table.values():
        if "logs" not in domain.collectors:
            domain.add_collector(LogCollector(domain.name, domain.encoder.state_problem), "nep_core")
        if not domain.verifiers:
            domain.add_verifier(ActionSpaceVerifier(domain.action_space), "nep_core")

    for hook_name, adder in (("register_collectors", "add_collector"), ("register_verifiers", "add_verifier")):
        for plugin_name, plugin in manager.list_name_plugin():
            if not _implements(manager, plugin, hook_name):
                continue

            def register(domain_name: str, item, _plugin=plugin_name, _adder=adder) -> None:
                if domain_name not in table and domain_name in skipped:
                    return  # the domain's own warning said why it is left out
                if domain_name not in table:
                    raise PluginError(f"plugin '{_plugin}' adds to domain '{domain_name}', which no plugin registers")
                try:
                    getattr(table[domain_name], _adder)(item, _plugin)
                except PluginMistake as mistake:  # a class for an instance, no name: this one is left out
                    warnings.warn(f"{mistake}; skipped", PluginLoadWarning)

            _call_plugin_hook(manager, hook_name, plugin_name, register=register)

    _domains = table
    return table


def domain_problem(domain: Any) -> str | None:
    """Why NEP cannot use ``domain`` (``domain 'x' skipped: its encoder is None, not a ...``), or None: its
    name is a simple token and its required fields have the right types, so that one malformed domain
    fails at registration, naming its plugin, rather than every command later."""
    from nep_core.action_space import ActionSpace
    from nep_core.collector import Collector
    from nep_core.encoder import HistoryEncoder
    from nep_core.verifier import Verifier

    name = domain.name
    if not isinstance(name, str) or not DOMAIN_NAME.fullmatch(name):
        return (f"domain name {name!r} skipped: a domain name is lower-case letters, digits, '-' and '_', starting with a "
                f"letter or a digit (it is what --domain takes, and it names folders)")

    def wrong(what: str, value: Any, expected: type) -> str | None:
        if isinstance(value, type):
            return f"domain '{name}' skipped: its {what} is the class {value.__name__}, not an instance"
        if not isinstance(value, expected):
            shown = a_value_of(value)
            return f"domain '{name}' skipped: its {what} is {shown}, not a {expected.__module__}.{expected.__qualname__}"
        return None

    problem = wrong("action_space", domain.action_space, ActionSpace) or wrong("encoder", domain.encoder, HistoryEncoder)
    if problem:
        return problem
    for what, named, expected in (("collectors", domain.collectors, Collector), ("verifiers", domain.verifiers, Verifier)):
        if not isinstance(named, dict):
            return f"domain '{name}' skipped: its {what} is {'None' if named is None else f'a {type(named).__name__}'}, not a dict by name"
        for key, item in named.items():
            problem = wrong(f"{what}[{key!r}]", item, expected)
            if problem:
                return problem
    if not isinstance(domain.description, str):
        return f"domain '{name}' skipped: its description is a {type(domain.description).__name__}, not a str"
    if domain.default_source is not None and not isinstance(domain.default_source, str):
        return f"domain '{name}' skipped: its default_source is a {type(domain.default_source).__name__}, not a str (COLLECTOR:ARGUMENT) or None"
    problem = _setting_problem(domain)
    return f"domain '{name}' skipped: its {problem}" if problem else None


DECISIONS = ("sequence", "kind")
"""``Domain.decision``'s values (``nep_core.inference.decoder``)."""


def _setting_problem(domain: Any) -> str | None:
    """What is wrong with one of ``domain``'s tuning fields (``default_preset``, ``decision``, ``min_confidence``...):
    ``FIELD is VALUE, not ...``; or None. A wrong one failed later, in a command's traceback or silently."""
    from nep_core.examples import ExampleConfig
    from nep_core.model.config import PRESETS
    from nep_core.rl.reward_weights import RewardWeights

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    checks = (
        ("default_preset", domain.default_preset in PRESETS, f"a model preset ({', '.join(PRESETS)})"),
        ("decision", domain.decision in DECISIONS, " or ".join(repr(value) for value in DECISIONS)),
        ("min_confidence", number(domain.min_confidence) and 0 <= domain.min_confidence <= 1, "a number from 0 to 1"),
        ("beam_width", whole(domain.beam_width) and domain.beam_width >= 1, "a whole number, at least 1"),
        ("default_max_steps", domain.default_max_steps is None or (whole(domain.default_max_steps) and domain.default_max_steps >= 1),
         "a whole number, at least 1, or None"),
        ("prompt_loss_weight", number(domain.prompt_loss_weight) and domain.prompt_loss_weight >= 0, "a number, at least 0"),
        ("examples", isinstance(domain.examples, ExampleConfig), "a nep_core.examples.ExampleConfig"),
        ("rl_rewards", isinstance(domain.rl_rewards, RewardWeights), "a nep_core.rl.reward_weights.RewardWeights"),
        ("tokenizer_factory", domain.tokenizer_factory is None or callable(domain.tokenizer_factory), "a function or None"),
        ("renderer", domain.renderer is None or callable(domain.renderer), "a function or None"),
    )
    for field_name, fine, expected in checks:
        if not fine:
            return f"{field_name} is {_shown(getattr(domain, field_name))}, not {expected}"
    return None


def _shown(value: Any) -> str:
    """A field's value in a message: short values as they are, others by their type."""
    if value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 40):
        return repr(value)
    return a_value_of(value)


def _implements(manager: pluggy.PluginManager, plugin: Any, hook_name: str) -> bool:
    """Whether ``plugin`` registered an implementation of the hook (a function of that name without ``@hookimpl`` is none)."""
    caller = getattr(manager.hook, hook_name, None)
    return caller is not None and any(impl.plugin is plugin for impl in caller.get_hookimpls())


HOOK_RESULT_HINTS = {
    "register_domains": "call register(...) with it instead",
    "register_collectors": "call register(domain_name, collector) instead",
    "register_verifiers": "call register(domain_name, verifier) instead",
    "register_commands": "add it with cli.add_typer(...) or @cli.command() instead",
}


def _call_plugin_hook(manager: pluggy.PluginManager, hook_name: str, plugin_name: str, **kwargs: Any) -> None:
    """Call one plugin's implementation of a hook; a plugin that raises (its own NepError too) or calls ``sys.exit``
    is a warning naming it, and so is a hook that returns something (NEP ignores it). A PluginError, which NEP's
    registry raises (two plugins registering one domain), stops the command: the domains would be wrong."""
    others = [plugin for name, plugin in manager.list_name_plugin() if name != plugin_name]
    try:
        results = manager.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
    except PluginError:
        raise
    except NepError as error:  # the plugin's own one line (a setting it lacks): said as its failure, not nep's
        warnings.warn(f"plugin '{plugin_name}' failed in {hook_name}: {first_line(error)}", PluginLoadWarning)
        return
    except FAILURES as error:  # one broken plugin must not take the CLI down
        warnings.warn(f"plugin '{plugin_name}' failed in {hook_name}: {type(error).__name__}: {first_line(error)}", PluginLoadWarning)
        return
    for result in results or []:
        shown = a_value_of(result) if not isinstance(result, type) else f"the class {result.__name__}"
        warnings.warn(f"plugin '{plugin_name}' returned {shown} from {hook_name}, which NEP ignores: "
                      f"{HOOK_RESULT_HINTS.get(hook_name, 'a hook is called for what it does')}", PluginLoadWarning)


def get_domain(name: str):
    """The domain called ``name``, or a one-line error listing the installed ones."""
    table = domains()
    if name not in table:
        known = ", ".join(sorted(table)) or "none installed"
        limited = " with NEP_LOAD_PLUGINS=" + os.environ["NEP_LOAD_PLUGINS"] if _allowlist() is not None else ""
        raise UnknownDomain(f"unknown domain '{name}' (installed{limited}: {known}); see `nep domains`")
    return table[name]


def add_plugin_commands(cli) -> None:
    """Let plugins add sub-commands to the typer app ``cli``; each plugin on its own, so one failing is a
    warning. A command or group named like one of ``nep``'s own or one an earlier plugin added is left out,
    with a warning naming both: it would silently replace the other. Once per app."""
    if getattr(cli, "_nep_plugin_commands", False):
        return
    cli._nep_plugin_commands = True
    manager = plugin_manager()
    owners = {name: None for item in [*cli.registered_commands, *cli.registered_groups] for name in _command_names(item)}
    for plugin_name, plugin in manager.list_name_plugin():
        if not _implements(manager, plugin, "register_commands"):
            continue
        before = {id(item) for item in [*cli.registered_commands, *cli.registered_groups]}
        _call_plugin_hook(manager, "register_commands", plugin_name, cli=cli)
        record = _records.get(plugin_name) or PluginRecord(plugin_name)
        for registry in (cli.registered_commands, cli.registered_groups):
            for item in [item for item in registry if id(item) not in before]:
                names = _command_names(item)
                clash = next((name for name in names if name in owners), None)
                if clash is None:
                    owners.update({name: record for name in names})
                    continue
                registry[:] = [kept for kept in registry if kept is not item]
                first = owners[clash]
                if first is None:
                    warnings.warn(f"plugin {record.label} adds a command '{clash}', which is nep's own; the plugin's is skipped",
                                  PluginLoadWarning)
                else:
                    warnings.warn(f"plugin {record.label} adds a command '{clash}', which plugin {first.label} added first; "
                                  f"the later one is skipped", PluginLoadWarning)


def _command_names(item) -> list[str]:
    """The names a typer ``CommandInfo`` or ``TyperInfo`` (``add_typer``) puts on the command line; a group
    added without a name puts its commands there."""
    from typer.main import get_command_name, solve_typer_info_defaults

    if hasattr(item, "typer_instance"):  # a group
        try:
            name = solve_typer_info_defaults(item).name
        except Exception:
            name = item.name
        if name:
            return [name]
        instance = item.typer_instance
        return [name for sub in [*instance.registered_commands, *instance.registered_groups] for name in _command_names(sub)]
    if item.name:
        return [item.name]
    callback = getattr(item, "callback", None)
    return [get_command_name(callback.__name__)] if callback is not None else []


# A plugin's code failing while a command runs ------------------------------------------------------


def plugin_of(obj: Any) -> PluginRecord | None:
    """The loaded plugin whose code ``obj`` (an instance, a class or a function) is, or None."""
    module = getattr(obj, "__module__", None) if isinstance(obj, type) or inspect.isroutine(obj) else type(obj).__module__
    return _owner(module or "", list(_records.values()))


OWN_DISTRIBUTION = "nep"
"""NEP's own distribution: its built-in domains are entry points like a third party's, but their code is NEP's, and
an error raised in it keeps its traceback (a bug to report), as the core's does."""

ROOT_MODULES = ("nep_core.cli.main", "nep_core.cli.entry")
"""The core modules on the stack of every command: a plugin's code called from them alone is a plugin's command."""


def _owner(module_name: str, records: list[PluginRecord]) -> PluginRecord | None:
    if _is_core(module_name):
        return None
    return next((record for record in records if record.owns(module_name) and record.distribution != OWN_DISTRIBUTION), None)


def _is_core(module_name: str) -> bool:
    return module_name == "nep_core" or module_name.startswith("nep_core.")


def fault(obj: Any, method: str, problem: str) -> PluginFault:
    """The error for a plugin object's method that broke its contract (``allowed_next`` returning None, a
    collector yielding a dict): ``plugin 'x' (WHERE) failed in Space.allowed_next: returned None, ...``; ``obj`` may
    be a function (``method`` then empty)."""
    obj = obj.func if isinstance(obj, functools.partial) else obj  # a tokenizer_factory may be a partial of the plugin's function
    cls = obj if isinstance(obj, type) or inspect.isroutine(obj) else type(obj)
    record = plugin_of(obj)
    who = f"plugin {record.label}" if record is not None else f"module '{cls.__module__}'"
    return PluginFault(f"{who} failed in {cls.__qualname__}{'.' + method if method else ''}: {problem}")


def as_plugin_fault(error: Exception) -> Exception:
    """``error`` as a PluginFault carrying ``plugin_failure``'s line when a plugin's code raised it, else
    ``error``: for a worker process, whose errors reach the parent without the frames that name the plugin
    (with NEP_DEBUG or NEP_TRACE_PLUGINS the worker prints the traceback first)."""
    message = plugin_failure(error)
    if message is None:
        return error
    if os.environ.get("NEP_DEBUG") or os.environ.get("NEP_TRACE_PLUGINS"):
        traceback.print_exception(error)
    return PluginFault(message)


def plugin_failure(error: BaseException, records: list[PluginRecord] | None = None) -> str | None:
    """``plugin 'x' (WHERE) failed in Class.method: Type: message (file.py:LINE)`` when ``error`` was raised
    by a loaded plugin's code (or by what that code called outside NEP's core, a library), going by the
    innermost frame of the plugin's in its traceback (or in the traceback of the error it was raised from);
    None for everything else, such as an error the core raised, even when a plugin's code called it: a
    core bug keeps its traceback."""
    records = list(_records.values()) if records is None else records
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        frames = list(traceback.walk_tb(error.__traceback__))
        for index in range(len(frames) - 1, -1, -1):
            frame = frames[index][0]
            record = _owner(frame.f_globals.get("__name__") or "", records)
            if record is None:
                continue
            if any(_is_core(later.f_globals.get("__name__") or "") for later, _ in frames[index + 1 :]):
                return None  # the plugin called the core, and the core raised
            entry = next(position for position, (outer, _) in enumerate(frames) if _owner(outer.f_globals.get("__name__") or "", records))
            called_by_core = any(_is_core(name) and name not in ROOT_MODULES
                                 for name in (outer.f_globals.get("__name__") or "" for outer, _ in frames[:entry]))
            if isinstance(error, SystemExit) and not called_by_core:
                return None  # a plugin's own command ends with the status it chose
            qualified = getattr(frame.f_code, "co_qualname", frame.f_code.co_name)
            method = frame.f_code.co_name if "<locals>" in qualified else qualified  # a command defined in register_commands
            last, line = frames[-1]
            return (f"plugin {record.label} failed in {method}: {type(error).__name__}: {first_line(error)} "
                    f"({Path(last.f_code.co_filename).name}:{line})")
        error = error.__cause__
    return None
