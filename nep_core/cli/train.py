"""nep train (being written)."""

def command() -> None:
    """Not yet available."""
    raise SystemExit("nep train: not built yet")

