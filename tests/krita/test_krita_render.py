"""``nep eval --domain krita --render DIR``: pictures of the context, the predicted and the actual next stroke."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from nep_core.actions import NO_EDIT, Action
from nep_core.session import Context, Event
from nep_krita.render import ACTUAL_COLOR, BOTH_COLOR, CONTEXT_COLOR, LEGEND_BACKGROUND, PREDICTED_COLOR, render_example

DATA = "synthetic:10?width=512&height=384"


def nep(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nep_core.cli.main", *args], capture_output=True, text=True, timeout=600)


def line(y: float) -> Action:
    return Action("stroke", args={"points": [[40, y, 1, 0], [360, y, 1, 100]], "brush": "c) Pencil-2", "color": "#000000", "size": 6.0, "opacity": 1.0})


def action(kind: str, **args) -> Action:
    return Action(kind, args=args)


def on_canvas(*events: Action) -> Context:
    """A 400 x 300 canvas and ``events`` in turn."""
    return Context(history=[Event(0.0, state={"canvas": {"width": 400, "height": 300}}), *(Event(1.0 + index, action=event) for index, event in enumerate(events))])


def canvas_pixel(image, x: int, y: int):
    """The pixel at canvas ``(x, y)`` of a 300-pixel-high canvas drawn under its legend."""
    return image.getpixel((x, image.height - 300 + y))


def test_render_example_draws_three_colours_where_the_strokes_are():
    context = on_canvas(line(50))
    image = render_example(context, line(150), line(250))
    assert image.size[0] == 400 and image.size[1] > 300
    assert canvas_pixel(image, 200, 50) == CONTEXT_COLOR
    assert canvas_pixel(image, 200, 150) == PREDICTED_COLOR
    assert canvas_pixel(image, 200, 250) == ACTUAL_COLOR
    assert canvas_pixel(image, 200, 200) == (255, 255, 255)
    no_edit = render_example(context, NO_EDIT, line(250))
    assert canvas_pixel(no_edit, 200, 150) == (255, 255, 255) and canvas_pixel(no_edit, 200, 250) == ACTUAL_COLOR


def test_an_undone_stroke_is_not_on_the_picture():
    """An undo takes back the newest stroke, past brush and colour changes (not undo steps in Krita)."""
    picture = render_example(on_canvas(line(50), line(100), action("color", color="#ff0000"), Action("undo")), NO_EDIT, line(250))
    assert canvas_pixel(picture, 200, 50) == CONTEXT_COLOR
    assert canvas_pixel(picture, 200, 100) == (255, 255, 255)
    both_undone = render_example(on_canvas(line(50), line(100), Action("undo"), action("size", size=4.0), Action("undo")), NO_EDIT, line(250))
    assert canvas_pixel(both_undone, 200, 50) == (255, 255, 255) and canvas_pixel(both_undone, 200, 100) == (255, 255, 255)
    redrawn = render_example(on_canvas(line(50), Action("undo"), line(100)), NO_EDIT, line(250))
    assert canvas_pixel(redrawn, 200, 50) == (255, 255, 255) and canvas_pixel(redrawn, 200, 100) == CONTEXT_COLOR


def column(x: float) -> Action:
    return Action("stroke", args={"points": [[x, 20, 1, 0], [x, 280, 1, 100]], "brush": "c) Pencil-2", "color": "#000000", "size": 6.0, "opacity": 1.0})


def test_an_eraser_stroke_erases_what_its_layer_holds():
    erased = render_example(on_canvas(line(50), action("eraser", on=True), column(200), action("eraser", on=False)), NO_EDIT, line(250))
    assert canvas_pixel(erased, 200, 50) == (255, 255, 255)  # the line is cut where the eraser went
    assert canvas_pixel(erased, 100, 50) == CONTEXT_COLOR
    assert canvas_pixel(erased, 200, 150) == (255, 255, 255)  # the eraser itself paints nothing
    other_layer = render_example(on_canvas(line(50), Action("layer.new"), action("eraser", on=True), column(200)), NO_EDIT, line(250))
    assert canvas_pixel(other_layer, 200, 50) == CONTEXT_COLOR  # layer 0's line, under an eraser stroke on layer 1


def test_the_actual_stroke_shows_under_the_predicted_one():
    exact = render_example(on_canvas(), line(150), line(150))
    colours = {colour for _, colour in exact.getcolors(exact.width * exact.height)}
    assert canvas_pixel(exact, 200, 150) == BOTH_COLOR and PREDICTED_COLOR in colours and ACTUAL_COLOR in colours  # the legend's swatches
    wide = Action("stroke", args={**line(150).args, "size": 40.0})
    covered = render_example(on_canvas(), wide, line(150))
    assert canvas_pixel(covered, 200, 150) == BOTH_COLOR and canvas_pixel(covered, 200, 165) == PREDICTED_COLOR


def test_the_legend_never_covers_the_canvas():
    top_left = Action("stroke", args={"points": [[0, 8, 1, 0], [300, 8, 1, 100]], "brush": "c) Pencil-2", "color": "#000000", "size": 6.0, "opacity": 1.0})
    image = render_example(on_canvas(top_left), line(150), line(250))
    assert all(canvas_pixel(image, x, 8) == CONTEXT_COLOR for x in range(4, 296))
    assert image.getpixel((image.width - 1, 0)) == LEGEND_BACKGROUND


def test_nep_eval_render_writes_one_png_per_stroke_example(tmp_path):
    out = tmp_path / "pictures"
    result = nep("eval", "--domain", "krita", "--model", "repeat-last", "--data", DATA, "--split", "train",
                 "--limit", "30", "--render", str(out), "--render-limit", "5")
    assert result.returncode == 0, result.stderr
    pictures = sorted(out.glob("*.png"))
    assert len(pictures) == 5
    image = Image.open(pictures[0]).convert("RGB")
    assert image.width == 512 and image.height > 384
    colours = {colour for _, colour in image.getcolors(image.width * image.height)}
    assert ACTUAL_COLOR in colours and CONTEXT_COLOR in colours


def test_render_is_refused_for_a_domain_without_a_renderer(tmp_path):
    result = nep("eval", "--domain", "tags", "--model", "ngram", "--render", str(tmp_path / "x"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "domain 'tags' has no renderer" in result.stderr.replace("\n", "")
