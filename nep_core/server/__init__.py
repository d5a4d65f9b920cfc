"""The local suggestion server behind `nep serve` (FastAPI + uvicorn); ``create_app`` builds it.

FastAPI is imported on first use of ``create_app``, so that commands which only read the server's
defaults (``nep --help``) start without it.
"""

__all__ = ["create_app"]


def __getattr__(name):
    if name == "create_app":
        from nep_core.server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
