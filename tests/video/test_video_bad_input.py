"""Bad input files and snapshots: one line naming the file (or log line) and the field, the rest used; never a crash, a traceback or NaN in the output."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import zipfile

import opentimelineio as otio
import pytest

from nep_core.actions import Action
from nep_core.collector import CollectReport
from nep_core.encoder import context_from_events
from nep_core.errors import NepError
from nep_core.session import Event
from nep_video.collectors.editor import EditorLogCollector
from nep_video.collectors.history import HistoryCollector
from nep_video.collectors.synthetic import SyntheticCutCollector
from nep_video.formats import read_timeline
from nep_video.replay import timeline_at
from nep_video.snapshot import timeline_from_state, timeline_state
from nep_video.timeline import timeline_problems, tracks_of
from test_video_formats import MLT
from video_timelines import RT, TR, clip, interview, write

NAN, INF = float("nan"), float("inf")
DEEP = 60_000
"""Levels of JSON nesting at which OTIO's own reader crashes the process."""


def deep_json() -> str:
    return '{"a":' * DEEP + "1" + "}" * DEEP


def test_deeply_nested_otio_json_is_refused_before_otio_reads_it(tmp_path):
    (tmp_path / "deep.otio").write_text(deep_json())
    (tmp_path / "deep.otiod").mkdir()
    (tmp_path / "deep.otiod" / "content.otio").write_text(deep_json())
    with zipfile.ZipFile(tmp_path / "deep.otioz", "w") as bundle:
        bundle.writestr("content.otio", deep_json())
    project = tmp_path / "project"
    project.mkdir()
    write(interview(3), project / "v1.otio")
    (project / "v2.otio").write_text(deep_json())
    write(interview(3), project / "v3.otio")
    script = f"""
from nep_core.actions import Action
from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_core.session import Event
from nep_video.collectors.history import HistoryCollector
from nep_video.formats import read_timeline
for name in ("deep.otio", "deep.otiod", "deep.otioz"):
    try:
        read_timeline({str(tmp_path)!r} + "/" + name)
    except NepError as error:
        print(error)
report = CollectReport()
print(len(list(HistoryCollector().collect({str(project)!r} + "?order=name", report))), report.warnings)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (run.returncode, run.stderr[-500:])  # OTIO's reader ends the process with a segfault (-11)
    lines = run.stdout.splitlines()
    assert lines[:3] == [f"{tmp_path / name}: JSON nested too deeply" for name in ("deep.otio", "deep.otiod", "deep.otioz")]
    assert lines[3] == f"1 ['{project / 'v2.otio'}: JSON nested too deeply; file skipped']"


def test_an_otioz_whose_document_unpacks_past_the_limit_is_refused_unread_and_skipped(tmp_path):
    """A zip bomb: a valid timeline padded with spaces to one byte over the limit packs into a few hundred KB
    (OTIO would read it, whole, into memory); it is refused by its size, naming the file and member."""
    from nep_video.formats import MAX_OTIOZ_DOCUMENT_BYTES

    text = otio.adapters.write_to_string(interview(3), "otio_json").encode()
    project = tmp_path / "project"
    project.mkdir()
    write(interview(3), project / "v1.otio")
    write(interview(3), project / "v3.otio")
    bomb = project / "v2.otioz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as bundle, bundle.open("content.otio", "w") as member:
        member.write(text)
        left = MAX_OTIOZ_DOCUMENT_BYTES + 1 - len(text)
        while left:
            chunk = min(left, 2**20)
            member.write(b" " * chunk)
            left -= chunk
    assert bomb.stat().st_size < MAX_OTIOZ_DOCUMENT_BYTES // 100
    limit = f"over the {MAX_OTIOZ_DOCUMENT_BYTES // 2**20} MiB limit for a bundle's OTIO document"
    with pytest.raises(NepError) as refused:
        read_timeline(bomb)
    assert str(refused.value) == f"{bomb}: content.otio: unpacks to {MAX_OTIOZ_DOCUMENT_BYTES + 1} bytes, {limit}"
    report = CollectReport()
    assert len(list(HistoryCollector().collect(f"{project}?order=name", report))) == 1
    assert f"{bomb}: content.otio: unpacks to {MAX_OTIOZ_DOCUMENT_BYTES + 1} bytes, {limit}; file skipped" in report.warnings


def _clip(timeline, index=1):
    return tracks_of(timeline)[0][index]


def _dissolve(frames=6.0, rate=24.0):
    return otio.schema.Transition(name="Dissolve", in_offset=RT(frames, rate), out_offset=RT(6, rate))


def _nested_clip_of_unknown_length(timeline):
    nested, inner = otio.schema.Stack(name="Nested"), otio.schema.Track(name="inner")
    lost = clip("LOST", 0, 10)
    lost.source_range, lost.media_reference = None, otio.schema.MissingReference()
    inner.append(lost)
    nested.append(inner)
    tracks_of(timeline)[0].append(nested)


BAD_VERSIONS = {
    "nan duration": (lambda t: setattr(_clip(t), "source_range", TR(RT(300, 24), RT(NAN, 24))),
                     r"V1 clip 2 'INT_2': source_range\.duration\.value: nan is not a finite time"),
    "inf duration": (lambda t: setattr(_clip(t), "source_range", TR(RT(300, 24), RT(INF, 24))), r"source_range\.duration\.value: inf is not"),
    "inf start": (lambda t: setattr(_clip(t), "source_range", TR(RT(INF, 24), RT(96, 24))), r"source_range\.start_time\.value: inf is not"),
    "rate 0": (lambda t: setattr(_clip(t), "source_range", TR(RT(300, 0), RT(96, 0))), r"source_range\.start_time\.rate: 0\.0 is not a frame rate"),
    "nan rate": (lambda t: setattr(_clip(t), "source_range", TR(RT(300, NAN), RT(96, NAN))), r"source_range\.start_time\.rate: nan is not a frame rate"),
    "nan gap": (lambda t: tracks_of(t)[0].insert(1, otio.schema.Gap(source_range=TR(RT(0, 24), RT(NAN, 24)))),
                r"V1 gap 2: source_range\.duration\.value: nan"),
    "nan transition": (lambda t: tracks_of(t)[0].insert(1, _dissolve(NAN)), r"V1 transition 'Dissolve' after clip 1 'INT_1': in_offset\.value: nan"),
    "nan media length": (lambda t: setattr(_clip(t).media_reference, "available_range", TR(RT(0, 24), RT(NAN, 24))),
                         r"media available_range\.duration\.value: nan"),
    "media rate 0": (lambda t: setattr(_clip(t).media_reference, "available_range", TR(RT(0, 0), RT(2400, 0))),
                     r"media available_range\.start_time\.rate: 0\.0"),
    "negative media length": (lambda t: setattr(_clip(t).media_reference, "available_range", TR(RT(0, 24), RT(-10, 24))),
                              r"media available_range\.duration\.value: -10\.0 is negative"),
    "nested clip of unknown length": (_nested_clip_of_unknown_length,
                                      r"V1 stack 4 'Nested' > inner clip 1 'LOST': no source_range and no media available_range"),
    "negative duration": (lambda t: setattr(_clip(t), "source_range", TR(RT(300, 24), RT(-30, 24))), r"duration -30 frames is not positive"),
    "zero duration": (lambda t: setattr(_clip(t), "source_range", TR(RT(300, 24), RT(0, 24))), r"duration 0 frames is not positive"),
    "huge transition": (lambda t: tracks_of(t)[0].insert(1, _dissolve(1e6)), r"the transition is longer than the clips around it"),
    "bin record without url": (lambda t: t.metadata.update(nep_bin=[{"name": "B", "start": 0, "duration": 10, "rate": 24}]), r"bin\[0\]\.url: missing"),
}


@pytest.mark.parametrize("case", list(BAD_VERSIONS))
def test_a_version_with_bad_numbers_is_skipped_with_its_file_and_field(tmp_path, case):
    spoil, message = BAD_VERSIONS[case]
    bad = interview(3)
    spoil(bad)
    trimmed = interview(3)
    _clip(trimmed, 0).source_range = TR(RT(104, 24), RT(92, 24))
    for name, timeline in (("v1.otio", interview(3)), ("v2.otio", bad), ("v3.otio", trimmed)):
        write(timeline, tmp_path / name)
    report = CollectReport()
    (session,) = HistoryCollector().collect(f"{tmp_path}?order=name", report)
    assert [(action.kind, action.args) for action in session.actions()] == [("trim_in", {"frames": 4})]
    assert report.counts["files that cannot be read (skipped)"] == 1 and len(report.warnings) == 1
    assert report.warnings[0].startswith(f"{tmp_path / 'v2.otio'}: V1 " if "bin" not in case else f"{tmp_path / 'v2.otio'}: bin")
    assert report.warnings[0].endswith("; file skipped") and "\n" not in report.warnings[0]
    assert re.search(message, report.warnings[0]), report.warnings[0]
    with pytest.raises(NepError, match=message):  # nep video suggest and synthetic?from= read files the same way
        read_timeline(tmp_path / "v2.otio")


def test_transitions_at_a_tracks_ends_or_side_by_side_are_read_as_real_timelines_have_them(tmp_path):
    """OTIO's own sample transition_test.otio fades in at a track's start and out at its end."""
    fades = interview(3)
    tracks_of(fades)[0].insert(0, _dissolve())
    tracks_of(fades)[0].append(_dissolve())
    doubled = interview(3)
    for _ in range(2):
        tracks_of(doubled)[0].insert(1, _dissolve())
    for name, timeline in (("fades.otio", fades), ("doubled.otio", doubled)):
        write(timeline, tmp_path / name)
        read = read_timeline(tmp_path / name)
        assert [type(item).__name__ for item in tracks_of(read)[0]] == [type(item).__name__ for item in tracks_of(timeline)[0]]
        assert any("a transition needs an item on each side" in problem for problem in timeline_problems(read))  # the verifier's view


def test_a_name_that_is_not_utf8_is_refused_not_a_traceback(tmp_path):
    timeline = interview(3)
    _clip(timeline).name = "PLACEHOLDER"
    write(timeline, tmp_path / "cut.otio")
    (tmp_path / "cut.otio").write_bytes((tmp_path / "cut.otio").read_bytes().replace(b"PLACEHOLDER", b"\xff\xfe"))
    with pytest.raises(NepError, match=r"cut\.otio: V1 clip 2 '': a name or media URL is not UTF-8 text"):
        read_timeline(tmp_path / "cut.otio")


@pytest.mark.parametrize("old, new, message", [
    ('frame_rate_num="25"', 'frame_rate_num="nan"', r"profile\.frame_rate_num/frame_rate_den \('nan'/'1'\) is not a frame rate"),
    ('frame_rate_num="25"', 'frame_rate_num="inf"', r"profile\.frame_rate_num/frame_rate_den \('inf'/'1'\) is not a frame rate"),
    ('frame_rate_num="25"', 'frame_rate_num="0"', r"profile\.frame_rate_num/frame_rate_den \('0'/'1'\) is not a frame rate"),
    ('frame_rate_num="25"', 'frame_rate_num="-25"', r"profile\.frame_rate_num/frame_rate_den \('-25'/'1'\) is not a frame rate"),
    ('<blank length="25"/>', '<blank length="-10"/>', r"playlist 'playlist0' blank 1\.length: '-10' is negative"),
    ('<blank length="25"/>', '<blank length="0"/>', r"V1 gap 2: duration 0 frames is not positive"),
    ('in="100" out="195"', 'in="-20" out="-1"', r"playlist 'playlist0' entry 0\.in: '-20' is negative"),
    ('<property name="length">2500</property>', '<property name="length">-5</property>', r"playlist 'playlist0' entry 0 producer length: '-5' is negative"),
])
def test_mlt_rates_and_times_that_are_not_frames_are_one_line_errors(tmp_path, old, new, message):
    assert old in MLT
    (tmp_path / "cut.kdenlive").write_text(MLT.replace(old, new))
    with pytest.raises(NepError, match=r"cut\.kdenlive: " + message) as caught:
        read_timeline(tmp_path / "cut.kdenlive")
    assert "\n" not in str(caught.value)


def test_synthetic_from_skips_timelines_with_bad_numbers_and_writes_only_finite_ones(tmp_path):
    write(interview(8), tmp_path / "a_good.otio")
    for name, spoil in (("b_nan.otio", BAD_VERSIONS["nan duration"][0]), ("c_rate0.otio", BAD_VERSIONS["rate 0"][0])):
        bad = interview(8)
        spoil(bad)
        write(bad, tmp_path / name)
    report = CollectReport()
    sessions = list(SyntheticCutCollector().collect(f"2?from={tmp_path}", report))
    assert len(sessions) == 2 and report.counts["unreadable timelines"] == 2
    assert any(warning.startswith(f"{tmp_path / 'b_nan.otio'}: V1 clip 2") for warning in report.warnings)
    assert any(warning.startswith(f"{tmp_path / 'c_rate0.otio'}: V1 clip 2") for warning in report.warnings)
    for session in sessions:
        json.dumps([event.state for event in session.events if event.state], allow_nan=False)  # ValueError on NaN or Infinity


def _log(tmp_path, snapshots):
    records = [{"nep": 1, "domain": "video", "session": "s1", "created": "", "meta": {"app": "test"}},
               *({"t": float(number), "state": state} for number, state in enumerate(snapshots))]
    path = tmp_path / "s1.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def _snapshot(change):
    state = timeline_state(interview(3))
    change(state["timeline"], state["timeline"]["tracks"][0]["items"])
    return state


def _stack_json(item):
    return json.loads(otio.adapters.write_to_string(item, "otio_json"))


def _stack_of_unknown_length():
    timeline = interview(1)
    _nested_clip_of_unknown_length(timeline)
    return _stack_json(tracks_of(timeline)[0][1])


BAD_SNAPSHOTS = [
    (lambda t, items: t.update(bin=[1]), "state.timeline.bin[0]: must be an object, got 1"),
    (lambda t, items: t.update(bin="abc"), "state.timeline.bin: must be a list of media records, got str"),
    (lambda t, items: t.update(bin=[{"name": "B", "start": 0, "duration": 720, "rate": 24}]), "state.timeline.bin[0].url: missing"),
    (lambda t, items: t.update(bin=[{"name": "B", "url": "file:///b.mov", "start": 0, "duration": 720, "rate": 0}]),
     "state.timeline.bin[0].rate: 0 is not a frame rate"),
    (lambda t, items: items.append({"stack": "hello"}), "state.timeline.tracks[0].items[3].stack: not an OTIO stack (a str)"),
    (lambda t, items: items.append({"stack": _stack_json(otio.schema.Gap(source_range=TR(RT(0, 24), RT(5, 24))))}),
     "state.timeline.tracks[0].items[3].stack: not an OTIO stack (a Gap)"),
    (lambda t, items: items.append({"stack": _stack_of_unknown_length()}),
     "state.timeline: V1 stack 4 'Nested' > inner clip 1 'LOST': no source_range"),
    (lambda t, items: items[0].update(dur=-30), "state.timeline: V1 clip 1 'INT_1': duration -30 frames is not positive"),
    (lambda t, items: items[0].update(dur=0), "state.timeline: V1 clip 1 'INT_1': duration 0 frames is not positive"),
    (lambda t, items: items.insert(1, {"gap": -5}), "state.timeline.tracks[0].items[1].gap: must be positive"),
    (lambda t, items: items.insert(1, {"transition": "D", "in": -5, "out": 5}), "state.timeline: V1 transition 'D' after clip 1 'INT_1': in_offset.value: -5"),
    (lambda t, items: items.insert(1, {"transition": "D", "in": 1e9, "out": 5}), "V1 transition 'D' after clip 1 'INT_1': the transition is longer than the clips around it"),
    (lambda t, items: items[0].update(avail=[0, -10]), "V1 clip 1 'INT_1': media available_range.duration.value: -10.0 is negative"),
    (lambda t, items: items[0].update(rate=1e-300), "V1 clip 1 'INT_1': source_range.start_time.rate: 1e-300 is not a frame rate"),
    (lambda t, items: t.update(rate=1e300), "state.timeline.rate: 1e+300 is not a frame rate"),
    (lambda t, items: t.update(tracks=[]), "state.timeline.tracks: none"),
]


def test_malformed_snapshots_are_dropped_by_the_editor_collector_with_their_line(tmp_path):
    path = _log(tmp_path, [timeline_state(interview(3)), *(_snapshot(change) for change, _ in BAD_SNAPSHOTS)])
    report = CollectReport()
    (session,) = EditorLogCollector().collect(str(tmp_path), report)
    assert len([event for event in session.events if event.state]) == 1
    assert report.counts["malformed timeline snapshots (dropped)"] == len(BAD_SNAPSHOTS)
    for line, (_, message) in enumerate(BAD_SNAPSHOTS, start=3):
        found = [warning for warning in report.warnings if warning.startswith(f"{path}:{line}: ")]
        assert len(found) == 1 and message in found[0] and found[0].endswith("; snapshot dropped"), (line, message, found)


def test_predict_and_eval_refuse_the_same_snapshots_with_a_warning_not_a_traceback(caplog):
    for change, message in BAD_SNAPSHOTS:
        state = _snapshot(change)
        with pytest.raises(NepError) as caught:
            timeline_from_state(state)
        assert message in str(caught.value)
        context = context_from_events([Event(t=0.0, state=state), Event(t=1.0, action=Action("trim_in", {"track": 0, "clip": 0}, {"frames": 4}))],
                                      session_id="s1")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="nep.video"):
            replayed = timeline_at(context)
        assert tracks_of(replayed.timeline) == []
        assert [record.getMessage() for record in caplog.records] == [f"session s1, event 0: {caught.value}; its edits are replayed on an empty timeline"]


def test_the_server_answers_a_snapshot_it_cannot_read_with_422_naming_the_field(tmp_path):
    import httpx

    from nep_core.inference.factory import load_predictor
    from nep_core.plugins import get_domain
    from nep_core.server import create_app
    from nep_core.server.runner import BackgroundServer

    domain = get_domain("video")
    trim = {"t": 1.0, "action": {"kind": "trim_in", "target": {"track": 0, "clip": 0}, "args": {"frames": 4}}}
    app = create_app(domain, load_predictor("repeat-last", domain), data_dir=tmp_path, model_name="repeat-last")
    with BackgroundServer(app) as running, httpx.Client(base_url=running.url, timeout=30) as http:
        for number, (change, message) in enumerate(BAD_SNAPSHOTS):
            state = _snapshot(change)
            for body, where in (({"session": f"h{number}", "history": [{"t": 0.0, "state": state}, trim]}, "history[0].state.timeline"),
                                ({"session": f"s{number}", "history": [trim], "state": state}, "state.timeline")):
                response = http.post("/v1/suggest", json=body)
                assert response.status_code == 422, (message, response.text)
                assert response.json()["detail"].startswith(where) and message.removeprefix("state.timeline") in response.json()["detail"]
        feedback = {"session": "f", "history": [{"t": 0.0, "state": _snapshot(BAD_SNAPSHOTS[0][0])}], "t": 2.0}
        assert http.post("/v1/feedback", json=feedback).status_code == 422
        good = http.post("/v1/suggest", json={"session": "g", "history": [{"t": 0.0, "state": timeline_state(interview(3))}, trim]})
        assert good.status_code == 200, good.text
        assert good.json()["suggestions"] and good.json()["suggestions"][0]["action"]["kind"] == "trim_in"


def test_a_version_that_fails_unexpectedly_is_one_warning_and_the_history_goes_on(tmp_path, monkeypatch):
    """The last line of defence: checks let nothing known through, so a failure is simulated."""
    import nep_video.collectors.history as history

    trimmed = interview(3)
    _clip(trimmed, 0).source_range = TR(RT(104, 24), RT(92, 24))
    for name, timeline in (("v1.otio", interview(3)), ("v2.otio", interview(3)), ("v3.otio", trimmed), ("v4.otio", trimmed)):
        write(timeline, tmp_path / name)
    real_read, real_diff = history.read_timeline, history.diff_timelines

    def read(path, **options):
        if path.name == "v2.otio":
            raise RuntimeError("boom")
        timeline = real_read(path, **options)
        timeline.metadata["version"] = path.stem  # kept by the copies the history diffs
        return timeline

    def diff(before, after):
        if after.metadata["version"] == "v4":
            raise ZeroDivisionError("float division by zero")
        return real_diff(before, after)

    monkeypatch.setattr(history, "read_timeline", read)
    monkeypatch.setattr(history, "diff_timelines", diff)
    report = CollectReport()
    (session,) = HistoryCollector().collect(f"{tmp_path}?order=name", report)
    assert report.warnings == [f"{tmp_path / 'v2.otio'}: cannot read it (RuntimeError: boom); file skipped",
                               f"{tmp_path / 'v4.otio'}: cannot diff it from the version before (ZeroDivisionError: float division by zero); "
                               "a snapshot of this version follows"]
    assert [(action.kind, action.args) for action in session.actions()] == [("trim_in", {"frames": 4})]
    assert session.events[-1].state is not None and report.counts["versions that cannot be diffed (snapshot instead)"] == 1
