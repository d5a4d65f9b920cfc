"""NEP Suggest for Krita: records strokes, previews NEP's next-stroke suggestion, paints it on Accept.

Pure Python and the PyQt that Krita ships (PyQt5 in Krita 5, PyQt6 in Krita 6: ``qt.py``), never torch
or nep_core. Importing the package inside Krita registers the extension (Accept / Dismiss actions)
and the docker; outside Krita it only provides the modules.
"""

REGISTERED = []

try:
    from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita
except ImportError:  # not inside Krita
    Krita = None

if Krita is not None:
    from .docker import NepDocker
    from .extension import NepExtension

    _krita = Krita.instance()
    _krita.addExtension(NepExtension(_krita))
    _krita.addDockWidgetFactory(DockWidgetFactory("nep_suggest_docker", DockWidgetFactoryBase.DockPosition.DockRight, NepDocker))
    REGISTERED[:] = ["extension", "docker"]
