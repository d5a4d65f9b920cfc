"""``nep domains``."""

from __future__ import annotations

import dataclasses
import json

import typer
from rich.table import Table

from nep_core.cli.common import console


def command(
    json_output: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List installed domains with their collectors, verifiers and default dataset.

    Example: nep domains
    """
    from nep_core.plugins import domains

    table_data = domains()
    if json_output:
        payload = {
            name: {
                "plugin": domain.plugin,
                "description": domain.description,
                "collectors": sorted(domain.collectors),
                "verifiers": sorted(domain.verifiers),
                "collector_descriptions": {name: item.description for name, item in sorted(domain.collectors.items())},
                "verifier_descriptions": {name: item.description for name, item in sorted(domain.verifiers.items())},
                "default_source": domain.default_source,
                "default_preset": domain.default_preset,
                "default_max_steps": domain.default_max_steps,
                "prompt_loss_weight": domain.prompt_loss_weight,
                "min_confidence": domain.min_confidence,
                "rl_rewards": dataclasses.asdict(domain.rl_rewards),
            }
            for name, domain in sorted(table_data.items())
        }
        console.print_json(json.dumps(payload))
        return
    if not table_data:
        console.print("No domains installed. Install a domain plugin (see docs/writing-plugins.md).")
        return
    table = Table(title="NEP domains")
    for column in ("domain", "plugin", "collectors", "verifiers", "default data", "description"):
        table.add_column(column)
    for name, domain in sorted(table_data.items()):
        table.add_row(
            name,
            domain.plugin,
            ", ".join(sorted(domain.collectors)),
            ", ".join(sorted(domain.verifiers)),
            domain.default_source or "-",
            domain.description,
        )
    console.print(table)
