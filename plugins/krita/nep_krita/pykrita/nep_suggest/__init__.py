"""NEP Suggest for Krita: records strokes, previews NEP's next-stroke suggestion, paints it on Accept.

Pure Python and PyQt5 as Krita ships them (never torch or nep_core). Importing the package inside
Krita registers the extension (Accept / Dismiss actions) and the docker; outside Krita it only
provides the modules.
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
    _krita.addDockWidgetFactory(DockWidgetFactory("nep_suggest_docker", DockWidgetFactoryBase.DockRight, NepDocker))
    REGISTERED[:] = ["extension", "docker"]
