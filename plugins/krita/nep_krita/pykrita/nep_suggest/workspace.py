"""What the plugin reads from and does to Krita: the document, its layers, the brush.

``Workspace(document, view)`` wraps a Krita ``Document`` and the ``View`` painting on it. Without a
view (kritarunner, where Krita opens no window) the brush comes from ``brush`` (a dict), so the
same code runs headless. Layers are the top-level layers, counted from the bottom, as the action
space counts them; the temporary layer of an Accept that merges a layer down is never one of them.
"""

import time

from .canvas_events import unmapped_reason
from .qt import QColor

LAYER_SETTLE_SECONDS = 2.0
"""How long after the plugin makes a layer active (an accepted ``layer.new`` or ``layer.switch``) Krita may still show
the layer before as active: Krita 5.1.5 makes a layer just added active about a second later, not when asked."""
OWN_LAYERS = ("NEP stroke",)  # painter.TEMPORARY_LAYER, while Accept merges a stroke down (the view cannot paint)


def color_name(managed_color):
    """``#rrggbb`` of a Krita ManagedColor (None if Krita gives none)."""
    if managed_color is None:
        return None
    return managed_color.colorForCanvas(None).name() if hasattr(managed_color, "colorForCanvas") else None


class Workspace:
    def __init__(self, document, view=None, brush=None, clock=time.monotonic):
        self.document = document
        self.view = view
        self.brush = dict(brush or {})
        self.clock = clock  # seconds, monotonic
        self._active_id = None  # without a view, Document.activeNode() stays None: remember it here
        self._settling = None  # (id of the layer shown before, id of the layer made active, until when)

    def canvas(self):
        return self.document.width(), self.document.height()

    def unmapped_reason(self):
        """Why strokes on the view's canvas can be neither recorded nor previewed now (``canvas_events.unmapped_reason``), or ""."""
        return unmapped_reason(self.view)

    def layers(self):
        """The top-level layers from the bottom, the plugin's own left out."""
        return [node for node in self.document.topLevelNodes() if node.name() not in OWN_LAYERS]

    def active_node(self):
        """The layer the painter paints on: the one Krita shows as active (``shown_node``), except while Krita still
        shows the layer before one the plugin made active (``LAYER_SETTLE_SECONDS``): then the layer it made active."""
        shown = self.shown_node()
        if self._settling is not None:
            before, made, until = self._settling
            if shown is not None and shown.uniqueId() == before and self.clock() < until:
                layer = self.find(made)
                if layer is not None:
                    return layer
            self._settling = None
        return shown

    def shown_node(self):
        """The layer Krita shows as active (never the plugin's own)."""
        node = self.document.activeNode()
        if node is not None and node.name() not in OWN_LAYERS:
            return node
        layers = self.layers()
        remembered = [layer for layer in layers if self._active_id is not None and layer.uniqueId() == self._active_id]
        if remembered:
            return remembered[0]
        paint = [layer for layer in layers if layer.type() == "paintlayer"]
        return paint[-1] if paint else None

    def set_active(self, node):
        before = self.shown_node()
        self._active_id = node.uniqueId()
        self.document.setActiveNode(node)
        self._settling = None  # a switch back to the layer Krita shows ends an earlier one's settling
        if before is not None and before.uniqueId() != node.uniqueId():
            self._settling = (before.uniqueId(), node.uniqueId(), self.clock() + LAYER_SETTLE_SECONDS)

    def find(self, unique_id):
        """The document's node with ``unique_id`` (at any depth), or None once it is removed."""
        nodes = list(self.document.rootNode().childNodes())
        while nodes:
            node = nodes.pop()
            if node.uniqueId() == unique_id:
                return node
            nodes.extend(node.childNodes())
        return None

    def look(self, active=None):
        """``{"brush", "color", "size", "opacity", "eraser", "layers", "layer", "layer_ids"}`` as they are now; with ``active``, as
        they are once that layer is the active one."""
        layers = self.layers()
        names = [node.name() for node in layers]
        active = active if active is not None else self.active_node()
        index = next((i for i, node in enumerate(layers) if active is not None and node.uniqueId() == active.uniqueId()), None)
        look = dict(self.brush)
        if self.view is not None and self.view.document() is None:  # a view Krita closed reports size 0 and no preset
            look.update(brush=None, color=None, size=None, opacity=None, eraser=None)  # unknown, not a change
        elif self.view is not None:
            preset = self.view.currentBrushPreset()
            look.update(brush=preset.name() if preset is not None else None, color=color_name(self.view.foregroundColor()),
                        size=float(self.view.brushSize()), opacity=float(self.view.paintingOpacity()))
            eraser = _krita_action("erase_action")
            look["eraser"] = bool(eraser.isChecked()) if eraser is not None else None
        look.update(layers=names, layer=index, layer_ids=[node.uniqueId().toString() for node in layers])
        return look

    def state(self):
        """The ``state`` event payload of ``nep_krita/strokes.py``."""
        look = self.look()
        state = {"canvas": {"width": self.document.width(), "height": self.document.height()}}
        if look["layer"] is not None:
            state["layer"] = look["layers"][look["layer"]]
        for key in ("brush", "color", "size", "opacity"):
            if look.get(key) is not None:
                state[key] = look[key]
        return state

    def preset_problem(self, name):
        """Why Krita cannot take the brush preset ``name`` (one line: it has none of that name), or "" (also where Krita
        cannot be asked). A model may have learnt preset names Krita lacks (another painter's, another Krita's)."""
        try:
            from krita import Krita

            presets = Krita.instance().resources("preset")
        except Exception:
            return ""
        return "" if name in presets else f"brush: no preset named {name[:80]!r}"

    def apply(self, action):
        """Run a checked discrete action; ``(True, "")`` or ``(False, why)``."""
        kind, args = action["kind"], action.get("args") or {}
        if kind == "layer.new":  # above the active layer, in its group if it is in one, as Krita's own New Layer
            node = self.document.createNode(args.get("name") or "Paint Layer", "paintlayer")
            active = self.active_node()
            parent = active.parentNode() if active is not None else None
            if parent is None:
                parent, active = self.document.rootNode(), None
            if node is None or not parent.addChildNode(node, active):
                return False, "layer.new: Krita did not add the layer"
            self.set_active(node)
            return True, ""
        if kind == "layer.switch":
            layers = self.layers()
            if args["index"] >= len(layers):
                return False, f"layer.switch: there is no layer {args['index']} (the document has {len(layers)})"
            self.set_active(layers[args["index"]])
            return True, ""
        if kind == "undo":
            undo = _krita_action("edit_undo")
            if undo is None:
                return False, "undo: Krita has no undo action here"
            undo.trigger()
            return True, ""
        if self.view is None:
            self.brush[kind] = args.get(kind, args.get("on"))
            return True, ""
        if kind == "color":
            from krita import ManagedColor

            self.view.setForeGroundColor(ManagedColor.fromQColor(QColor(args["color"])))
        elif kind == "size":
            self.view.setBrushSize(float(args["size"]))
        elif kind == "opacity":
            self.view.setPaintingOpacity(float(args["opacity"]))
        elif kind == "brush":
            from krita import Krita

            preset = Krita.instance().resources("preset").get(args["brush"])
            if preset is None:
                return False, f"brush: no preset named {args['brush'][:80]!r}"
            self.view.activateResource(preset)
        elif kind == "eraser":
            eraser = _krita_action("erase_action")
            if eraser is None:
                return False, "eraser: Krita has no eraser action here"
            eraser.setChecked(bool(args["on"]))
        return True, ""


def _krita_action(name):
    try:
        from krita import Krita

        return Krita.instance().action(name)
    except Exception:
        return None
