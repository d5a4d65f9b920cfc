"""The `krita` collector: the Krita plugin's session logs and `nep serve` feedback, bad actions dropped and named."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from app_log_helpers import check_other_domains_empty_logs_and_missing_folders
from nep_core.actions import Action
from nep_core.collector import CollectReport
from nep_core.server.feedback import FeedbackStore, feedback_records
from nep_core.session import Context, Event
from nep_core.sessionlog import SessionLogWriter
from nep_krita.action_space import KritaActionSpace, current_settings
from nep_krita.collectors.krita import KritaLogCollector
from nep_krita.strokes import Stroke

PLUGIN_LOG = Path(__file__).resolve().parents[2] / "nep_core" / "appkit" / "sessionlog.py"  # the plugin ships it as nep_suggest/sessionlog.py
HEADER = {"nep": 1, "domain": "krita", "session": "k1", "created": "2026-11-23T10:00:00Z", "meta": {"app": "Krita 5.1.5"}}
STATE = {"canvas": {"width": 800, "height": 600}, "layer": "Paint Layer 1", "brush": "b) Basic-5 Size", "color": "#000000", "size": 8.0}


def stroke(points, **args) -> dict:
    return {"kind": "stroke", "args": {"points": points, "brush": "b) Basic-5 Size", "color": "#000000", "size": 8.0, "opacity": 1.0, **args}}


GOOD = stroke([[100, 100, 0.5, 0], [200, 120, 0.8, 40], [300, 100, 0.4, 80]])


def write_plugin_log(folder: Path, session_id: str = "k1") -> Path:
    """A log with good and bad actions, as the plugin writes it: line numbers in the comments."""
    path = folder / f"{session_id}.jsonl"
    with SessionLogWriter(path, {**HEADER, "session": session_id}) as log:
        log.append({"t": 0.0, "state": STATE})                                           # line 2
        log.append({"t": 1.0, "action": GOOD})                                           # line 3
        log.append({"t": 2.0, "action": stroke([[10, 10, 0.5, 0]])})                     # line 4: one point
        log.append({"t": 3.0, "action": stroke([[10, 10, 2.0, 0], [20, 20, 0.5, 9]])})   # line 5: pressure 2
        log.append({"t": 4.0, "action": stroke([[900, 700, 1, 0], [950, 720, 1, 9]])})   # line 6: wholly off the canvas
        log.append({"t": 5.0, "action": stroke([[790, 300, 1, 0], [850, 320, 1, 9]])})   # line 7: partly off: kept
        log.append({"t": 6.0, "action": {"kind": "color", "args": {"color": "red"}}})    # line 8: bad colour
        log.append({"t": 7.0, "action": {"kind": "brush", "args": {"brush": "c) Pencil-2"}}})  # line 9
        log.append({"t": 8.0, "action": stroke([[100, 200, 0.6, 0], [150, 260, 0.6, 30]], brush="c) Pencil-2")})  # line 10
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"t": 9.0, "action": {"kind": "stroke", "args": {"points": [[1, 1, NaN, 0], [5, 5, 1, 3]]}}}\n')  # line 11
        handle.write("{not json\n")                                                      # line 12
        handle.write(json.dumps({"t": 10.0, "feedback": {"suggestion": GOOD, "shown_at": 9.5, "accepted": False}}) + "\n")  # line 13
        handle.write('{"t": 11.0, "action": {"kind": "undo"')                            # line 14: torn by a crash
    return path


def collect(argument: str) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(KritaLogCollector(KritaActionSpace()).collect(argument, report)), report


def test_malformed_and_off_canvas_actions_are_dropped_with_file_and_line(tmp_path: Path) -> None:
    path = write_plugin_log(tmp_path)
    (session,), report = collect(str(tmp_path))
    assert report.counts["malformed strokes (dropped)"] == 2
    assert report.counts["strokes off the canvas (dropped)"] == 1
    assert report.counts["strokes partly off the canvas (kept)"] == 1
    assert report.counts["malformed or unknown actions (dropped)"] == 1
    assert report.counts["bad lines skipped"] == 3  # NaN, not JSON, torn
    assert any(w.startswith(f"{path}:4: action.args.points must be a list of at least two points") for w in report.warnings)
    assert any(w.startswith(f"{path}:5: action.args.points[0]: pressure") for w in report.warnings)
    assert any(w.startswith(f"{path}:6: action.args.points: the stroke lies wholly off the 800x600 canvas") for w in report.warnings)
    assert any(w.startswith(f"{path}:8: action color:") for w in report.warnings)
    assert any(w.startswith(f"{path}:11: NaN in the JSON: a session log holds finite numbers only") for w in report.warnings)
    assert any(w.startswith(f"{path}:12: not valid JSON") for w in report.warnings)
    assert any(w.startswith(f"{path}:14: torn line") for w in report.warnings)
    kinds = [event.action.kind if event.action else "state" if event.state else "feedback" for event in session.events]
    assert kinds == ["state", "stroke", "stroke", "brush", "stroke", "feedback"]
    assert [Stroke.from_action(action).brush for action in session.actions() if action.kind == "stroke"] == ["b) Basic-5 Size", "b) Basic-5 Size", "c) Pencil-2"]
    assert session.meta == {"source": "krita", "app": "Krita 5.1.5"}
    assert report.counts["strokes"] == 3


def test_a_brush_larger_than_krita_allows_is_dropped_and_never_reaches_the_rasterizer(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with SessionLogWriter(path, HEADER) as log:
        log.append({"t": 0.0, "state": {**STATE, "size": 1e308}})                        # line 2: ignored, 8 px stays
        log.append({"t": 1.0, "action": {"kind": "size", "args": {"size": 1e308}}})      # line 3
        log.append({"t": 2.0, "action": stroke([[10, 10, 1, 0], [90, 40, 1, 9]], size=1e19)})  # line 4
        log.append({"t": 3.0, "action": GOOD})
    (session,), report = collect(str(tmp_path))
    assert any(w.startswith(f"{path}:3: action size: size must be a number above 0 and at most 10000") for w in report.warnings)
    assert any(w.startswith(f"{path}:4: action.args.size must be a number above 0 and at most 10000") for w in report.warnings)
    assert [action.kind for action in session.actions()] == ["stroke"]
    huge = Context(history=[Event(0.0, state=STATE), Event(0.5, state={"size": 1e308}), Event(1.0, action=Action("size", {"size": 1e308}))])
    assert current_settings(huge)["size"] == 8.0  # what a server request may still hold: ignored, not painted with


def test_a_canvas_of_infinite_size_is_ignored_and_strokes_off_the_last_real_one_dropped(tmp_path: Path) -> None:
    path = tmp_path / "inf.jsonl"
    with SessionLogWriter(path, HEADER) as log:
        log.append({"t": 0.0, "state": STATE})                                           # line 2: 800 x 600
        log.append({"t": 1.0, "action": GOOD})                                           # line 3
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"t": 2.0, "state": {"canvas": {"width": Infinity, "height": 1e400}}}\n')  # line 4: no canvas at all
        handle.write(json.dumps({"t": 3.0, "action": stroke([[900, 700, 1, 0], [950, 720, 1, 9]])}) + "\n")  # line 5
    (session,), report = collect(str(path))
    assert [action.kind for action in session.actions()] == ["stroke"]
    assert any(w.startswith(f"{path}:5: action.args.points: the stroke lies wholly off the 800x600 canvas") for w in report.warnings)


def test_logs_written_by_the_plugins_own_writer_are_read(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("nep_suggest_sessionlog", PLUGIN_LOG)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log = module.SessionLog(str(tmp_path / "p.jsonl"), {**HEADER, "session": "p"})
    log.append({"t": 0.0, "state": STATE})
    log.append({"t": 1.5, "action": GOOD})
    log.append({"t": 2.0, "action": {"kind": "layer.new", "args": {"name": "Paint Layer 2"}}})
    log.close()
    (session,), report = collect(str(tmp_path))
    assert [action.kind for action in session.actions()] == ["stroke", "layer.new"]
    assert Stroke.from_action(session.actions()[0]).points[1] == (200.0, 120.0, 0.8, 40.0)
    assert report.warnings == []


def test_default_folders_merge_the_servers_feedback_into_the_plugins_session(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEP_HOME", str(tmp_path))
    write_plugin_log(tmp_path / "logs" / "krita")
    store = FeedbackStore(tmp_path / "feedback", "krita")
    store.append("k1", feedback_records(t=8.5, accepted=True, suggestion=GOOD, shown_at=8.2, request_id="r1", actual=GOOD))
    store.append("k2", [{"t": 0.0, "state": STATE}, {"t": 1.0, "action": GOOD}])
    store.close()
    sessions, report = collect("")
    by_id = {session.id: session for session in sessions}
    assert set(by_id) == {"k1", "k2"} and report.counts["sessions also in the feedback logs (merged)"] == 1
    feedback = [event for event in by_id["k1"].events if event.feedback is not None]
    assert [event.t for event in feedback] == [8.5, 10.0] and feedback[0].feedback["accepted"] is True
    assert [event.t for event in by_id["k1"].events] == sorted(event.t for event in by_id["k1"].events)
    assert Stroke.from_action(by_id["k2"].actions()[0]).xy[0] == (100.0, 100.0)


def test_other_domains_empty_logs_and_missing_folders(tmp_path: Path, monkeypatch) -> None:
    check_other_domains_empty_logs_and_missing_folders(collect, tmp_path, monkeypatch, "krita")
