"""The ``nep`` console script: a Ctrl-C while the command line is still being imported ends as quietly
as one during a command (``interrupted``, status 130), not with a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from nep_core.cli.main import main as run_command_line
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    run_command_line()
