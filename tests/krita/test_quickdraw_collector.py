"""The `quickdraw` collector: Quick, Draw! ndjson (raw, simplified) and sketch-rnn npz files as sessions; bad input skipped."""

from __future__ import annotations

import gzip
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nep_core.collector import CollectReport
from nep_core.dataset import collect as core_collect
from nep_core.errors import NepError
from nep_krita.action_space import KritaActionSpace
from nep_krita.collectors.quickdraw import MAX_WARNINGS_PER_FILE, QuickDrawCollector
from nep_krita.domain import build_domain
from nep_krita.strokes import Stroke

RAW = {  # a raw drawing: screen pixels and milliseconds
    "key_id": "5891796615823360", "word": "cat", "countrycode": "GB", "recognized": True,
    "timestamp": "2017-03-01 20:41:36.70725 UTC",
    "drawing": [
        [[100, 150, 200, 300], [100, 80, 90, 100], [0, 40, 80, 150]],
        [[100, 300], [200, 200], [900, 1100]],
        [[200, 200, 210], [100, 200, 250], [1500, 1600, 1700]],
    ],
}
SIMPLIFIED = {"key_id": "6000000000000001", "word": "cat", "recognized": False,
              "drawing": [[[0, 255], [0, 0]], [[0, 128, 255], [100, 30, 100]], [[128, 128], [0, 100]]]}


def stroke_points(action) -> list[tuple[float, float]]:
    return Stroke.from_action(action).xy


def write_ndjson(path: Path, *records, raw_lines=()) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
        for line in raw_lines:
            handle.write(line + "\n")
    return path


def sketchrnn_npz(path: Path) -> Path:
    """A sketch-rnn file as its authors saved it: object arrays of (N, 3) int16 stroke-3 moves per split."""
    square = np.array([[10, 10, 0], [40, 0, 0], [0, 40, 0], [-40, 0, 0], [0, -40, 1], [10, 10, 0], [20, 20, 1]], dtype=np.int16)
    line = np.array([[0, 0, 0], [30, 0, 1], [0, 10, 0], [30, 0, 1]], dtype=np.int16)
    dot_only = np.array([[5, 5, 1], [6, 6, 1]], dtype=np.int16)
    train = np.empty(3, dtype=object)
    train[:] = [square, line, dot_only]
    valid, test = np.empty(1, dtype=object), np.empty(1, dtype=object)
    valid[0], test[0] = line, square
    np.savez(path, train=train, valid=valid, test=test)
    return path


def collect(argument: str) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(QuickDrawCollector(KritaActionSpace()).collect(argument, report)), report


def test_a_raw_drawing_keeps_its_timing_and_shape_fitted_onto_the_canvas(tmp_path: Path) -> None:
    (session,), report = collect(str(write_ndjson(tmp_path / "full_raw_cat.ndjson", RAW)) + "?check=1")
    assert session.id == "quickdraw-cat-5891796615823360" and session.domain == "krita"
    assert session.meta["source_id"] == "5891796615823360" and session.meta["word"] == "cat"
    assert session.meta["source"] == "quickdraw" and session.meta["timing"] == "recorded" and session.meta["countrycode"] == "GB"
    assert session.created == "2017-03-01T20:41:36Z"
    assert session.events[0].state["canvas"] == {"width": 1024, "height": 768}
    strokes = [event for event in session.events if event.action]
    assert [event.t for event in strokes] == [0.15, 1.1, 1.7]  # pen-up times of the raw data
    first = Stroke.from_action(strokes[0].action)
    assert [point[3] for point in first.points] == [0.0, 40.0, 80.0, 150.0]
    # the drawing spans 200 x 170 pixels; fitted into 1024x768 less 8% margins, centred, aspect kept
    scale = 768 * 0.84 / 170
    xs = [x for event in strokes for x, _ in stroke_points(event.action)]
    ys = [y for event in strokes for _, y in stroke_points(event.action)]
    assert min(ys) == pytest.approx(768 * 0.08, abs=0.01) and max(ys) == pytest.approx(768 * 0.92, abs=0.01)
    assert max(xs) - min(xs) == pytest.approx(200 * scale, abs=0.02)
    assert (min(xs) + max(xs)) / 2 == pytest.approx(512, abs=0.01)
    assert report.counts == {**report.counts, "sessions": 1, "strokes": 3, "files read": 1}
    assert "strokes the action space cannot write" in report.counts and report.counts["strokes the action space cannot write"] == 0


def test_raw_times_that_run_backwards_are_replaced_and_the_session_says_so(tmp_path: Path) -> None:
    backwards = {**RAW, "drawing": [RAW["drawing"][0], [[100, 300], [200, 200], [50, 60]], RAW["drawing"][2]]}
    (session,), _ = collect(str(write_ndjson(tmp_path / "full_raw_cat.ndjson", backwards)))
    assert session.meta["timing"] == "synthesized"
    assert [event.t for event in session.events if event.action] != [0.15, 0.06, 1.7]


def test_simplified_drawings_get_deterministic_synthesized_timing_and_gzip_is_read(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "cat.ndjson.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(SIMPLIFIED) + "\n")
    (session,), _ = collect(str(tmp_path))
    (again,), _ = collect(str(tmp_path / "cat.ndjson.gz"))
    assert session.meta["timing"] == "synthesized" and session.meta["recognized"] is False
    times = [event.t for event in session.events]
    assert times == sorted(times) and times[1] > 0 and times == [event.t for event in again.events]
    for event in session.events[1:]:
        points = Stroke.from_action(event.action).points
        assert points[0][3] == 0.0 and points[-1][3] > 0 and all(point[2] == 1.0 for point in points)
    assert stroke_points(session.events[1].action) == [(81.92, 215.34), (942.08, 215.34)]  # 255 x 100 fitted to the width, centred


def test_sketchrnn_npz_splits_become_the_cores_splits_and_shapes_are_rebuilt(tmp_path: Path) -> None:
    sessions, report = collect(str(sketchrnn_npz(tmp_path / "sketchrnn_cat.full.npz")))
    by_id = {session.id: session for session in sessions}
    assert set(by_id) == {"quickdraw-cat-train-0", "quickdraw-cat-train-1", "quickdraw-cat-valid-0", "quickdraw-cat-test-0"}
    assert by_id["quickdraw-cat-valid-0"].meta["split"] == "val" and by_id["quickdraw-cat-test-0"].meta["split"] == "test"
    assert by_id["quickdraw-cat-train-0"].meta["source_id"] == "cat-train-0"
    square, diagonal = [stroke_points(event.action) for event in by_id["quickdraw-cat-train-0"].events[1:]]
    assert len(square) == 5 and square[0] == square[-1]  # a closed square
    side = square[1][0] - square[0][0]
    assert side > 0 and square[2] == pytest.approx((square[1][0], square[1][1] + side))
    assert diagonal[1][0] - diagonal[0][0] == pytest.approx(side / 2)
    assert report.counts["drawings with too few strokes (skipped)"] == 1  # two dots
    assert report.counts["strokes dropped (empty, one point, non-finite)"] == 2
    only_test, _ = collect(str(tmp_path) + "?split=test")
    assert [session.id for session in only_test] == ["quickdraw-cat-test-0"]


def test_bad_lines_strokes_and_files_are_reported_and_skipped(tmp_path: Path) -> None:
    ndjson = write_ndjson(
        tmp_path / "dog.ndjson",
        {"key_id": "1", "word": "dog", "drawing": [[[0, 10], [0, 10]], [], [[5], [5]], [[1, 2], [3]], [[0, 50, 90], [0, 40, 0]]]},
        raw_lines=[
            "{not json",
            '{"key_id": "2", "drawing": [[[0, NaN], [0, 1]], [[0, 5], [0, 5]], [[3, 4], [5, 6]]]}',
            '{"key_id": "3", "drawing": "strokes"}',
            '["not", "a", "drawing"]',
            '{"key_id": "4", "drawing": [[[0, 1, 2], [0, 1, 2], [0, "x", 2]], [[0, 9], [0, 9]]]}',
        ],
    )
    with open(ndjson, "ab") as handle:
        handle.write(b'{"key_id": "\xff"}\n')
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 this is not really a zip archive")
    good = sketchrnn_npz(tmp_path / "truncated.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(good[: len(good) // 2])
    packed = gzip.compress("".join(json.dumps({**SIMPLIFIED, "key_id": f"z{index}"}) + "\n" for index in range(400)).encode())
    (tmp_path / "cut.ndjson.gz").write_bytes(packed[: len(packed) // 2])
    sessions, report = collect(str(tmp_path))
    cut = [session for session in sessions if session.meta["file"] == "cut.ndjson.gz"]
    assert 0 < len(cut) < 400 and [session.meta["source_id"] for session in cut] == [f"z{index}" for index in range(len(cut))]
    assert any(w.startswith(f"{tmp_path / 'cut.ndjson.gz'}:{len(cut) + 1}: the file cannot be read past here") for w in report.warnings)
    sessions = [session for session in sessions if session not in cut]
    assert sorted(session.meta["source_id"] for session in sessions) == ["1", "2"]
    dog = next(session for session in sessions if session.meta["source_id"] == "1")
    assert len(dog.actions()) == 2
    warnings = "\n".join(report.warnings)
    assert f"{ndjson}:1: field \"drawing\"[1]: a stroke must be" in warnings
    assert f"{ndjson}:1: field \"drawing\"[2]: single-point stroke" in warnings
    assert f"{ndjson}:1: field \"drawing\"[3]: xs, ys (and ts) of a stroke differ in length" in warnings
    assert f"{ndjson}:2: not valid JSON" in warnings
    assert f"{ndjson}:3: field \"drawing\"[0]: nan is not a finite number" in warnings
    assert f"{ndjson}:4: field \"drawing\" must be a list of strokes" in warnings
    assert f"{ndjson}:6: field \"drawing\"[0]: 'x' is not a finite number" in warnings
    assert f"{ndjson}:7: not UTF-8 text" in warnings
    assert f"{tmp_path / 'corrupt.npz'}: not a zip archive" in warnings
    assert f"{tmp_path / 'truncated.npz'}:" in warnings
    assert report.counts["files that cannot be read (skipped)"] == 2
    assert report.counts["drawings with too few strokes (skipped)"] == 2  # key 4 (one stroke left) and the bare list
    assert report.counts["bad lines or arrays skipped"] == 4  # lines 2, 4 and 7, and the cut gzip file


def test_an_npz_that_asks_to_unpickle_anything_but_arrays_is_refused(tmp_path: Path) -> None:
    victim = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (victim,))

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    payload = np.empty(1, dtype=object)
    payload[0] = Payload()
    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as archive:
        archive.writestr("train.npy", header.getvalue() + pickle.dumps(payload))
    sessions, report = collect(str(tmp_path / "evil.npz"))
    assert sessions == [] and not victim.exists()
    assert any("refuses to unpickle" in warning and "evil.npz" in warning for warning in report.warnings)
    np.load(tmp_path / "evil.npz", allow_pickle=True)["train"]  # numpy's own loader runs the payload
    assert victim.exists()


def padded_npz(path: Path, sizes: dict[str, int]) -> Path:
    """A sketch-rnn file whose members are padded with zeros (which numpy and the unpickler never read) to
    ``sizes`` bytes: deflated, a few hundred KB however large they unpack."""
    with zipfile.ZipFile(sketchrnn_npz(path.with_name("plain.npz"))) as plain:
        arrays = {name: plain.read(name) for name in plain.namelist()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in arrays.items():
            with archive.open(name, "w") as member:
                member.write(data)
                left = max(sizes.get(name, 0) - len(data), 0)
                while left:
                    chunk = min(left, 2**20)
                    member.write(bytes(chunk))
                    left -= chunk
    return path


def test_an_npz_whose_arrays_unpack_past_the_limit_is_refused_unread_and_skipped(tmp_path: Path) -> None:
    from nep_krita.collectors.safe_npz import MAX_NPZ_BYTES

    bomb = padded_npz(tmp_path / "bomb.npz", {"train.npy": MAX_NPZ_BYTES + 1})
    assert bomb.stat().st_size < MAX_NPZ_BYTES // 100
    sessions, report = collect(str(bomb))
    assert sessions == [] and report.counts["files that cannot be read (skipped)"] == 1
    assert report.warnings == [f"{bomb}: train.npy: unpacks to {MAX_NPZ_BYTES + 1} bytes, "
                               f"over the {MAX_NPZ_BYTES // 2**20} MiB limit for an npz's arrays; file skipped"]


def test_the_npz_limit_counts_all_members_and_an_archive_within_it_is_read(tmp_path: Path, monkeypatch) -> None:
    import nep_krita.collectors.safe_npz as safe_npz

    monkeypatch.setattr(safe_npz, "MAX_NPZ_BYTES", 2 * 2**20)
    within = padded_npz(tmp_path / "within.npz", {"train.npy": 2**20, "valid.npy": 2**19})
    assert sorted(safe_npz.load_npz(within)) == ["test", "train", "valid"]
    over = padded_npz(tmp_path / "over.npz", {"train.npy": 2**20, "valid.npy": 2**20 + 1})
    with pytest.raises(ValueError, match=r"^valid\.npy: unpacks to 1048577 bytes, over the 2 MiB limit for an npz's arrays \(with the members before it\)$"):
        safe_npz.load_npz(over)


def test_file_coordinates_kept_with_fit_off_drop_strokes_off_the_canvas(tmp_path: Path) -> None:
    path = write_ndjson(tmp_path / "x.ndjson", {"key_id": "9", "drawing": [[[10, 100], [10, 100]], [[500, 700], [10, 10]], [[-5, 50], [20, 20]], [[20, 30], [40, 50]]]})
    (session,), report = collect(f"{path}?fit=0&width=640&height=480")
    assert [stroke_points(action) for action in session.actions()] == [[(10.0, 10.0), (100.0, 100.0)], [(20.0, 40.0), (30.0, 50.0)]]
    assert report.counts["strokes off the canvas (dropped)"] == 2
    assert f"{path}:1: field \"drawing\"[1]: points off the 640x480 canvas" in "\n".join(report.warnings)


def test_a_point_far_from_the_rest_drops_the_strokes_it_shrinks_to_points(tmp_path: Path) -> None:
    far = {"key_id": "7", "word": "cat", "drawing": [*SIMPLIFIED["drawing"], [[1e12, 1e12 + 5], [0, 0]]]}
    path = write_ndjson(tmp_path / "far.ndjson", far, SIMPLIFIED)
    (session,), report = collect(str(path))  # fitted, the far drawing is a dot: every stroke shrinks to a point
    assert session.meta["source_id"] == SIMPLIFIED["key_id"]
    assert report.counts["strokes that shrink to a point on the canvas (dropped)"] == 4
    assert report.counts["drawings with too few strokes (skipped)"] == 1
    assert f'{path}:1: field "drawing"[0]: the stroke shrinks to a point' in "\n".join(report.warnings)


def test_drawings_no_float_can_place_and_json_nested_too_deeply_are_reported_and_skipped(tmp_path: Path) -> None:
    path = write_ndjson(
        tmp_path / "huge.ndjson", SIMPLIFIED,
        raw_lines=['{"key_id": "h2", "drawing": [[[-1e308, 1e308], [0, 1]], [[0, 1], [0, 1]]]}', "[" * 5000,
                   '{"key_id": "far", "drawing": [[[1e308, 1e308], [0, 9]], [[1e308, 1e308], [5, 9]]]}'],
    )
    train = np.empty(1, dtype=object)
    train[0] = np.array([[1e308, 0, 0], [1e308, 0, 0], [1.0, 1.0, 1]])  # adds up past the largest float
    np.savez(tmp_path / "overflow.npz", train=train)
    sessions, report = collect(str(tmp_path))
    assert [session.meta["source_id"] for session in sessions] == [SIMPLIFIED["key_id"], "far"]
    far = [Stroke.from_action(action) for action in sessions[1].actions()]  # far from the origin, but small: placed
    assert len(far) == 2 and all(0 <= x <= 1024 and 0 <= y <= 768 for stroke in far for x, y in stroke.xy)
    warnings = "\n".join(report.warnings)
    assert f'{path}:2: field "drawing": the coordinates span inf x 1, more than a number can hold; drawing skipped' in warnings
    assert f"{path}:3: JSON nested too deeply; line skipped" in warnings
    assert f"{tmp_path / 'overflow.npz'}" in warnings and report.counts["drawings too wide to fit (skipped)"] == 2
    assert "drawings with too few strokes (skipped)" not in report.counts


def test_words_and_keys_that_differ_only_in_other_characters_keep_different_sessions(tmp_path: Path) -> None:
    cat, dog = {"drawing": SIMPLIFIED["drawing"]}, {"drawing": SIMPLIFIED["drawing"][:2]}
    write_ndjson(tmp_path / "猫.ndjson", cat)
    write_ndjson(tmp_path / "犬.ndjson", dog)
    write_ndjson(tmp_path / "keys.ndjson", {**cat, "key_id": "a.b"}, {**cat, "key_id": "a-b"})
    sessions, report = collect(str(tmp_path))
    assert sorted(session.meta["word"] for session in sessions) == ["keys", "keys", "犬", "猫"]
    assert len({session.id for session in sessions}) == 4 and "duplicate drawings (skipped)" not in report.counts
    assert "quickdraw-keys-a-b" in {session.id for session in sessions}  # plain ids stay as they were


def test_options_limit_recognized_and_warnings_per_file_are_capped(tmp_path: Path) -> None:
    drawings = [{**SIMPLIFIED, "key_id": str(index), "recognized": index % 2 == 0} for index in range(10)]
    path = write_ndjson(tmp_path / "cat.ndjson", *drawings, raw_lines=["{bad"] * (MAX_WARNINGS_PER_FILE + 5))
    assert len(collect(f"{path}?limit=3")[0]) == 3
    sessions, report = collect(f"{path}?recognized=1")
    assert [session.meta["source_id"] for session in sessions] == ["0", "2", "4", "6", "8"]
    assert report.counts["drawings not recognized (skipped)"] == 5
    assert report.counts["bad lines or arrays skipped"] == MAX_WARNINGS_PER_FILE + 5
    assert len(report.warnings) == MAX_WARNINGS_PER_FILE + 1 and report.warnings[-1].endswith("5 more problems not listed (see the counts)")
    assert len(collect(f"{path}?min_strokes=4")[0]) == 0
    for argument, message in ((f"{path}?colour=red", "unknown option 'colour'"), (f"{path}?split=dev", "option 'split'"),
                              (f"{path}?color=red", "bad brush option"), ("", "pass a file or folder"),
                              (f"{path}?margin=0.9", "option 'margin' must be at least 0 and below 0.5, not 0.9"),
                              (str(tmp_path / "missing.ndjson"), "no such file"), (f"{tmp_path}/empty", "no such file")):
        with pytest.raises(NepError, match=message):
            collect(argument)
    (tmp_path / "notes").mkdir()
    with pytest.raises(NepError, match="no .ndjson"):
        collect(str(tmp_path / "notes"))


def test_the_domain_collects_quickdraw_sessions_and_makes_stroke_examples(tmp_path: Path) -> None:
    from nep_core.examples import make_examples

    write_ndjson(tmp_path / "cat.ndjson", RAW, SIMPLIFIED)
    domain = build_domain()
    report = CollectReport()
    sessions = list(core_collect(domain, f"quickdraw:{tmp_path}", report))
    assert len(sessions) == 2
    examples = [example for session in sessions for example in make_examples(session, domain)]
    assert [example.target.kind for example in examples] == ["stroke", "stroke", "no_edit"] * 2
    assert sorted(path.name for path in tmp_path.iterdir()) == ["cat.ndjson"]
