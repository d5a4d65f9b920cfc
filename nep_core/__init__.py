"""NEP: next edit prediction. The core never imports a domain; domains arrive as plugins."""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("nep")
"""Decorator for plugin hook implementations: ``@nep_core.hookimpl``."""

__all__ = ["__version__", "hookimpl"]
