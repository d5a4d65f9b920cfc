"""The local suggestion server behind `nep serve` (FastAPI + uvicorn)."""

from nep_core.server.app import create_app

__all__ = ["create_app"]
