"""The NEP plugin hooks. Implement them with ``@nep_core.hookimpl``."""

import pluggy

hookspec = pluggy.HookspecMarker("nep")


@hookspec
def register_domains(register):
    """Register new domains: call ``register(domain)`` with a ``nep_core.Domain`` for each."""


@hookspec
def register_collectors(register):
    """Add collectors to existing domains: call ``register(domain_name, collector)``."""


@hookspec
def register_verifiers(register):
    """Add verifiers to existing domains: call ``register(domain_name, verifier)``."""


@hookspec
def register_commands(cli):
    """Add CLI sub-commands: call ``cli.add_typer(typer.Typer(...), name=...)`` or ``cli.command()``."""
