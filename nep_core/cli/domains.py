"""``nep domains``."""

from __future__ import annotations

import dataclasses
import json
import os

import typer

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
        allowed = os.environ.get("NEP_LOAD_PLUGINS")
        if allowed is not None:  # the allowlist may be why: say so, as `nep train`'s unknown domain does
            console.print(f"No domains loaded with NEP_LOAD_PLUGINS={allowed!r} (it loads the plugins it names, and no others; "
                          "one that failed to load is named above). Unset it to load every installed plugin.")
        else:
            console.print("No domains installed. Install a domain plugin (see docs/writing-plugins.md).")
        return
    # one block a domain, as `pip show` does: nothing is cut to fit a narrow terminal
    for index, (name, domain) in enumerate(sorted(table_data.items())):
        fields = {
            "plugin": domain.plugin,
            "collectors": ", ".join(sorted(domain.collectors)),
            "verifiers": ", ".join(sorted(domain.verifiers)) or "-",
            "default data": domain.default_source or "-",
        }
        lines = [f"{name}: {domain.description}"] + [f"  {field:<14}{value}" for field, value in fields.items()]
        if index:
            console.print()
        console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
