from nep_core.collector import CollectReport
from nep_core.plugins import get_domain
from nep_core.session import Context, Event

from nep_turtle import CanvasVerifier, Sketches, Turtle, forward, turn


def test_the_domain_is_installed():
    domain = get_domain("turtle")
    assert domain.plugin == "turtle"
    assert {"logs", "synthetic"} == set(domain.collectors)


def test_sketches_stay_on_the_canvas():
    report = CollectReport()
    for session in Sketches().collect("50", report):
        Turtle().run(session.actions())  # raises if any move is impossible
    assert report.counts == {"sessions": 50}


def test_the_verifier_knows_where_the_edge_is():
    history = [Event(t=0.0, action=forward(4)), Event(t=1.0, action=forward(2))]  # at x=12, the east edge
    verdict = CanvasVerifier().verify(Context(history), forward(1))
    assert not verdict.valid and "leaves the canvas" in verdict.details["error"]
    assert CanvasVerifier().verify(Context(history), turn("left"), reference=turn("left")).reward == 1.0
    assert CanvasVerifier().verify(Context(history), turn("left"), reference=turn("right")).reward == 0.5
