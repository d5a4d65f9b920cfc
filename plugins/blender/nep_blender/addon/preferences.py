"""The add-on's preferences (Edit > Preferences > Add-ons > NEP Next Operator)."""

import os

import bpy

from .client import port_option

DEFAULT_URL = "http://127.0.0.1:8765"
"""``nep serve``'s own default port."""


def start_command(url):
    """The quickest server to start for ``url``, as lines: the n-gram baseline fitted on NEP's example
    scripts, on the URL's port. ValueError for a URL that is not ``http://host:port`` (no scheme, say)."""
    return (f"nep serve --domain blender --model ngram{port_option(url)}",
            "    --data scripts:nep-examples")


def default_log_folder():
    """Where NEP's ``addon`` collector looks by default: ``$NEP_HOME/logs/blender`` (``~/.cache/nep/logs/blender``)."""
    home = os.environ.get("NEP_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "nep")
    return os.path.join(home, "logs", "blender")


def log_folder(preferences):
    """The log folder the preferences name (``~`` expanded), or the default."""
    folder = os.path.expanduser(preferences.log_folder.strip())
    return folder if folder else default_log_folder()


def log_folder_problem(folder):
    """Why ``folder`` cannot hold the logs, or '': a relative one (``//logs``, next to the .blend file)
    would move with each file saved or opened, splitting one session's log across folders."""
    if folder.startswith("//") or not os.path.isabs(folder):
        return "not an absolute folder (a relative one moves with the .blend file); choose one in the add-on's preferences"
    return ""


def get():
    """This add-on's preferences, or None while it is not enabled."""
    addon = bpy.context.preferences.addons.get(__package__)
    return addon.preferences if addon is not None else None


class NEPPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    server_url: bpy.props.StringProperty(
        name="Server URL",
        default=DEFAULT_URL,
        description="Where `nep serve --domain blender` listens",
    )
    token: bpy.props.StringProperty(
        name="Token",
        default="",
        subtype="PASSWORD",
        description="The server's bearer token, when it was started with --token or NEP_SERVER_TOKEN (stored in your Blender preferences)",
    )
    enabled: bpy.props.BoolProperty(
        name="Suggest",
        default=True,
        description="Ask the server for suggestions and show them in the 3D View sidebar (N, tab NEP)",
    )
    record: bpy.props.BoolProperty(
        name="Record",
        default=True,
        description="Write the operators you run to a session log, for training NEP on your own work. Off: no log is "
        "written and no feedback is sent to the server (which would store it); suggestion requests still carry "
        "the latest operators, which the server keeps in memory only",
    )
    min_confidence: bpy.props.FloatProperty(
        name="Minimum Confidence",
        default=0.1,
        min=0.0,
        max=1.0,
        subtype="FACTOR",
        description="Show only suggestions whose confidence, the percentage shown beside each, is at least this",
    )
    count: bpy.props.IntProperty(
        name="Suggestions",
        default=3,
        min=1,
        max=10,
        description="How many suggestions to show at most",
    )
    log_folder: bpy.props.StringProperty(
        name="Log Folder",
        default="",
        subtype="DIR_PATH",
        description="Folder for the session logs; empty: $NEP_HOME/logs/blender (~/.cache/nep/logs/blender)",
    )

    def draw(self, context):
        layout = self.layout
        column = layout.column()
        column.prop(self, "server_url")
        column.prop(self, "token")
        row = column.row()
        row.prop(self, "enabled")
        row.prop(self, "record")
        column.prop(self, "min_confidence")
        column.prop(self, "count")
        column.prop(self, "log_folder")
        folder = log_folder(self)
        problem = log_folder_problem(folder)
        column.label(text=f"Cannot write logs to {folder}: {problem}" if problem else f"Logs go to {folder}",
                     icon="ERROR" if problem else "FILE_FOLDER")
        try:
            command = " ".join(line.strip() for line in start_command(self.server_url))
            column.label(text=f"Start the server: {command} (ready in seconds)")
            column.label(text="Without --data it first builds the default data set, once (minutes); or serve a trained model")
        except ValueError as error:
            column.label(text=str(error), icon="ERROR")
        column.label(text="Shortcuts in the 3D View: Alt+Enter accepts the first suggestion, Alt+Backspace dismisses it "
                          "(in text edit mode Blender's own Alt+Backspace, which types an accent, comes first)")


def register():
    bpy.utils.register_class(NEPPreferences)


def unregister():
    bpy.utils.unregister_class(NEPPreferences)
