"""nep serve (being written)."""

def command() -> None:
    """Not yet available."""
    raise SystemExit("nep serve: not built yet")

