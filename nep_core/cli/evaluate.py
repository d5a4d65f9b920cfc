"""nep evaluate (being written)."""

def command() -> None:
    """Not yet available."""
    raise SystemExit("nep evaluate: not built yet")

