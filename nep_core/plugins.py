"""Plugin discovery and the domain registry.

Plugins are modules registered with pluggy: every entry point of the ``nep`` group (built-in domains
included, exactly as third-party ones), plus loose ``*.py`` files in ``NEP_PLUGINS_DIR``.
``NEP_LOAD_PLUGINS=a,b`` loads only the named entry points; a plugin that fails to import is a warning.
``NEP_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from nep_core import hookspecs
from nep_core.errors import NepError, PluginError, UnknownDomain

ENTRY_POINT_GROUP = "nep"


class PluginLoadWarning(UserWarning):
    """A plugin could not be imported; NEP carries on without it."""


@dataclass
class PluginRecord:
    name: str
    version: str = ""
    source: str = ""
    module: ModuleType | None = None
    hooks: list[str] = field(default_factory=list)


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
        except Exception as error:  # a broken plugin must not take the CLI down
            warnings.warn(f"plugin '{entry_point.name}' failed to load: {type(error).__name__}: {error}", PluginLoadWarning)
            continue
        distribution = getattr(entry_point, "dist", None)
        version = distribution.version if distribution is not None else ""
        _register(manager, module, entry_point.name, version, f"entry point {entry_point.value}")


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
        except Exception as error:
            sys.modules.pop(f"nep_plugins_dir.{name}", None)
            warnings.warn(f"plugin '{name}' ({path}) failed to load: {type(error).__name__}: {error}", PluginLoadWarning)
            continue
        _register(manager, module, name, "", str(path))


def _register(manager: pluggy.PluginManager, module: ModuleType, name: str, version: str, source: str) -> None:
    manager.register(module, name=name)
    hooks = sorted(caller.name for caller in manager.get_hookcallers(module) or [])
    _records[name] = PluginRecord(name=name, version=version, source=source, module=module, hooks=hooks)


def register_plugin(module: Any, name: str | None = None) -> str:
    """Register a plugin object at run time (tests, embedding apps); returns its name."""
    manager = plugin_manager()
    name = name or getattr(module, "__name__", None) or repr(module)
    _register(manager, module, name, "", "registered at run time")
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

    for plugin_name, plugin in manager.list_name_plugin():
        hook = getattr(plugin, "register_domains", None)
        if hook is None:
            continue

        def register(domain: Domain, _plugin=plugin_name) -> None:
            if not isinstance(domain, Domain):
                raise PluginError(f"plugin '{_plugin}' registered {domain!r}, which is not a nep_core.Domain")
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
            if getattr(plugin, hook_name, None) is None:
                continue

            def register(domain_name: str, item, _plugin=plugin_name, _adder=adder) -> None:
                if domain_name not in table:
                    raise PluginError(f"plugin '{_plugin}' adds to domain '{domain_name}', which no plugin registers")
                getattr(table[domain_name], _adder)(item, _plugin)

            _call_plugin_hook(manager, hook_name, plugin_name, register=register)

    _domains = table
    return table


def _call_plugin_hook(manager: pluggy.PluginManager, hook_name: str, plugin_name: str, **kwargs: Any) -> None:
    """Call one plugin's implementation of a hook; a plugin that raises (other than a NepError) is a warning."""
    others = [plugin for name, plugin in manager.list_name_plugin() if name != plugin_name]
    try:
        manager.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
    except NepError:
        raise
    except Exception as error:  # one broken plugin must not take the CLI down
        warnings.warn(f"plugin '{plugin_name}' failed in {hook_name}: {type(error).__name__}: {error}", PluginLoadWarning)


def get_domain(name: str):
    """The domain called ``name``, or a one-line error listing the installed ones."""
    table = domains()
    if name not in table:
        known = ", ".join(sorted(table)) or "none installed"
        limited = " with NEP_LOAD_PLUGINS=" + os.environ["NEP_LOAD_PLUGINS"] if _allowlist() is not None else ""
        raise UnknownDomain(f"unknown domain '{name}' (installed{limited}: {known}); see `nep domains`")
    return table[name]


def add_plugin_commands(cli) -> None:
    """Let plugins add sub-commands to the typer app ``cli``; each plugin on its own, so one failing is a warning."""
    manager = plugin_manager()
    for plugin_name, plugin in manager.list_name_plugin():
        if getattr(plugin, "register_commands", None) is not None:
            _call_plugin_hook(manager, "register_commands", plugin_name, cli=cli)
