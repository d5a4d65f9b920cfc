"""Code the NEP app integrations (the Blender add-on, the Krita plugin) ship inside their zips.

An app runs in its host's own Python (Blender's, Krita's) and can import neither ``nep_core`` nor
torch, so each zip builder copies these modules into its zip under the names the app imports
(``client.py``, ``sessionlog.py``, ``feedback.py``). Every module here uses the standard library
only: no ``nep_core``, no third-party package, no relative import (tests/test_appkit.py checks).
The rest of NEP may import them (``nep serve``'s feedback logs are written with ``sessionlog``), but
they import nothing from it; this file is not shipped.
"""

from pathlib import Path

FILES = tuple(Path(__file__).resolve().parent / name for name in ("client.py", "feedback.py", "sessionlog.py"))
"""The modules an app zip ships, each under its own file name beside the app's modules."""
