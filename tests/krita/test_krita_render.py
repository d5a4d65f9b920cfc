"""``nep eval --domain krita --render DIR``: pictures of the context, the predicted and the actual next stroke."""

from __future__ import annotations

import subprocess
import sys

from PIL import Image

from nep_core.actions import NO_EDIT, Action
from nep_core.session import Context, Event
from nep_krita.render import ACTUAL_COLOR, CONTEXT_COLOR, PREDICTED_COLOR, render_example

DATA = "synthetic:10?width=512&height=384"


def nep(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nep_core.cli.main", *args], capture_output=True, text=True, timeout=600)


def line(y: float) -> Action:
    return Action("stroke", args={"points": [[40, y, 1, 0], [360, y, 1, 100]], "brush": "c) Pencil-2", "color": "#000000", "size": 6.0, "opacity": 1.0})


def test_render_example_draws_three_colours_where_the_strokes_are():
    context = Context(history=[Event(0.0, state={"canvas": {"width": 400, "height": 300}}), Event(1.0, action=line(50))])
    image = render_example(context, line(150), line(250))
    assert image.size == (400, 300)
    assert image.getpixel((200, 50)) == CONTEXT_COLOR
    assert image.getpixel((200, 150)) == PREDICTED_COLOR
    assert image.getpixel((200, 250)) == ACTUAL_COLOR
    assert image.getpixel((200, 200)) == (255, 255, 255)
    no_edit = render_example(context, NO_EDIT, line(250))
    assert no_edit.getpixel((200, 150)) == (255, 255, 255) and no_edit.getpixel((200, 250)) == ACTUAL_COLOR


def test_nep_eval_render_writes_one_png_per_stroke_example(tmp_path):
    out = tmp_path / "pictures"
    result = nep("eval", "--domain", "krita", "--model", "repeat-last", "--data", DATA, "--split", "train",
                 "--limit", "30", "--render", str(out), "--render-limit", "5")
    assert result.returncode == 0, result.stderr
    pictures = sorted(out.glob("*.png"))
    assert len(pictures) == 5
    image = Image.open(pictures[0]).convert("RGB")
    assert image.size == (512, 384)
    colours = {colour for _, colour in image.getcolors(512 * 384)}
    assert ACTUAL_COLOR in colours and CONTEXT_COLOR in colours


def test_render_is_refused_for_a_domain_without_a_renderer(tmp_path):
    result = nep("eval", "--domain", "tags", "--model", "ngram", "--render", str(tmp_path / "x"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "domain 'tags' has no renderer" in result.stderr.replace("\n", "")
