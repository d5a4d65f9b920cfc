"""NEP Next Operator: suggests the operator you are likely to run next, from a local ``nep serve``.

It records the operators you run to session logs, asks the server for suggestions without ever
blocking the interface, and shows them in the 3D View's sidebar (N, tab NEP), where Accept runs one
as one undo step. Only the Python standard library and ``bpy``: no NEP, no torch inside Blender.
Built into an installable zip by ``nep blender addon``.
"""

from . import bpy_calls, client, feedback, preferences, recorder, runtime, sessionlog, ui

if "_LOADED" in globals():  # Reload Scripts re-runs this file in the same module: reload the others too
    import importlib

    for _module in (bpy_calls, recorder, client, feedback, sessionlog, preferences, runtime, ui):  # each after what it imports
        importlib.reload(_module)
_LOADED = True


def register():
    preferences.register()
    ui.register()
    runtime.start()


def unregister():
    runtime.stop()
    ui.unregister()
    preferences.unregister()
