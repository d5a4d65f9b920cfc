"""``nep plugins``."""

from __future__ import annotations

import typer
from rich.table import Table

from nep_core.cli.common import console, print_table


def command(
    json_output: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List loaded plugins, their versions and the hooks each implements.

    NEP_LOAD_PLUGINS=a,b loads only those entry points; NEP_PLUGINS_DIR=DIR also loads loose *.py plugins.

    Example: nep plugins --json
    """
    import json

    from nep_core.plugins import plugins

    records = plugins()
    if json_output:
        console.print_json(
            json.dumps([{"name": r.name, "version": r.version, "source": r.source, "hooks": r.hooks} for r in records])
        )
        return
    table = Table(title="NEP plugins")
    for column in ("plugin", "version", "hooks", "source"):
        table.add_column(column)
    for record in records:
        table.add_row(record.name, record.version or "-", ", ".join(record.hooks), record.source)
    print_table(console, table)
