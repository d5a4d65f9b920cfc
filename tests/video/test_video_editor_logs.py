"""The `editor` collector: session logs as `nep video watch --log` writes them, bad lines and bad actions reported with file:line."""

from __future__ import annotations

import json

from nep_core.collector import CollectReport
from nep_video.collectors.editor import EditorLogCollector
from nep_video.snapshot import timeline_state
from video_timelines import interview


def test_logs_are_read_and_bad_actions_and_snapshots_are_dropped_with_their_line(tmp_path):
    records = [
        {"nep": 1, "domain": "video", "session": "s1", "created": "", "meta": {"app": "test"}},
        {"t": 0.0, "state": timeline_state(interview(3))},
        {"t": 1.0, "action": {"kind": "trim_in", "target": {"track": 0, "clip": 0}, "args": {"frames": 12}}},
        {"t": 2.0, "action": {"kind": "trim_in", "target": {"track": 0}, "args": {"frames": 12}}},
        {"t": 3.0, "state": {"timeline": {"rate": -1, "tracks": []}}},
        {"t": 4.0, "action": {"kind": "playhead", "target": {"track": 0, "clip": 2}, "edit": False}},
    ]
    path = tmp_path / "s1.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records) + "{torn")
    report = CollectReport()
    (session,) = EditorLogCollector().collect(str(tmp_path), report)
    assert [action.kind for action in session.actions()] == ["trim_in", "playhead"]
    assert report.counts["malformed or unknown actions (dropped)"] == 1 and report.counts["malformed timeline snapshots (dropped)"] == 1
    assert any(f"{path}:4: action trim_in: trim_in: target.clip must be a whole number" in warning for warning in report.warnings)
    assert any(f"{path}:5: state.timeline.rate: must be positive" in warning for warning in report.warnings)
    assert session.meta["source"] == "editor"
