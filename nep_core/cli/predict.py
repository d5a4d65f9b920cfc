"""nep predict (being written)."""

def command() -> None:
    """Not yet available."""
    raise SystemExit("nep predict: not built yet")

