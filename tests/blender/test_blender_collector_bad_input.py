"""Bad input to the `scripts` and `addon` collectors: each bad file, member, call or line is reported in
one line naming where it is and skipped, the rest is collected, and nothing raises."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import zipfile

import pytest

from nep_core.collector import CollectReport

HUGE = 10**400  # beyond any float
GOOD_SCRIPT = "import bpy\nbpy.ops.mesh.primitive_cube_add(size=1.0)\nbpy.ops.object.shade_smooth()\n"
CONTEXT = {"mode": "OBJECT", "active": "MESH", "selected": 1}


@pytest.fixture(scope="module")
def domain():
    from nep_core.plugins import get_domain

    return get_domain("blender")


def collect(domain, source: str, argument: str) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(domain.collectors[source].collect(argument, report)), report


def write_log(path, calls, session_id="s"):
    """A session log of ``calls`` (kind, args), one per second; its events start on line 2."""
    lines = [{"nep": 1, "domain": "blender", "session": session_id, "created": "", "meta": {}}]
    lines += [{"t": float(t), "action": {"kind": kind, "args": args, "context": CONTEXT}} for t, (kind, args) in enumerate(calls)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")


def test_an_integer_beyond_any_float_is_a_bad_line_or_an_ill_typed_call(domain, tmp_path):
    write_log(tmp_path / "s.jsonl", [("mesh.primitive_cube_add", {}), ("mesh.primitive_circle_add", {"vertices": HUGE}), ("object.shade_smooth", {})])
    (session,), report = collect(domain, "addon", str(tmp_path))
    assert [event.action.kind for event in session.events] == ["mesh.primitive_cube_add", "object.shade_smooth"]
    assert report.warnings == [f'{tmp_path / "s.jsonl"}:3: field "action": action.args.vertices contains a non-finite number; line skipped']

    script = tmp_path / "circle.py"
    script.write_text(f"import bpy\nbpy.ops.mesh.primitive_circle_add(vertices={HUGE})\n{GOOD_SCRIPT}")
    (session,), report = collect(domain, "scripts", str(script))
    assert [event.action.kind for event in session.events] == ["mesh.primitive_cube_add", "object.shade_smooth"]
    assert report.counts["calls with ill-typed literal arguments"] == 1
    (warning,) = report.warnings
    assert warning.startswith(f"{script}:2: skipped bpy.ops.mesh.primitive_circle_add: property 'vertices' must be a finite number, got 1000")
    assert len(warning) < 300


DEEP = {
    "sum.py": "x = " + "+".join(["1"] * 100_000),
    "attributes.py": "x = a" + ".b" * 100_000,
    "calls.py": "x = f" + "()" * 100_000,
    "subscripts.py": "x = a" + "[0]" * 100_000,
    "nots.py": "x = " + "not " * 100_000 + "y",
    "lambdas.py": "x = " + "lambda: " * 3000 + "1",
    "minus.py": "import bpy\nbpy.ops.mesh.primitive_cube_add(size=" + "-" * 100_000 + "1)",
}


def test_deeply_nested_scripts_are_reported_and_skipped(domain, tmp_path):
    for name, text in DEEP.items():
        (tmp_path / name).write_text(text + "\n")
    (tmp_path / "good.py").write_text(GOOD_SCRIPT)
    (tmp_path / "parses_but_deep.py").write_text(GOOD_SCRIPT + "x = a" + ".b" * 900 + "\n")  # parses; too deep for a recursive walk
    sessions, report = collect(domain, "scripts", str(tmp_path))
    assert sorted(session.meta["file"] for session in sessions) == ["good.py", "parses_but_deep.py"]
    assert report.counts["files that do not parse"] == len(DEEP)
    assert sorted(report.warnings) == sorted(f"{tmp_path / name}: nested too deeply to parse; skipped" for name in DEEP)


@pytest.mark.skipif(shutil.which("zip") is None, reason="needs the zip tool, to write an encrypted member")
def test_zip_members_that_cannot_be_read_are_reported_and_skipped(domain, tmp_path, monkeypatch):
    from nep_blender.collectors import scripts

    monkeypatch.setattr(scripts, "MAX_SCRIPT_BYTES", 4096, raising=False)
    archive = tmp_path / "scripts.zip"
    (tmp_path / "locked.py").write_text(GOOD_SCRIPT)
    subprocess.run(["zip", "-q", "-j", "-P", "secret", str(archive), str(tmp_path / "locked.py")], check=True)
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("good.py", GOOD_SCRIPT)
        zipped.writestr("odd_method.py", GOOD_SCRIPT, compress_type=zipfile.ZIP_STORED)
        zipped.writestr("bomb.py", GOOD_SCRIPT + "#" * 10_000)  # deflates to little, unpacks over the limit
    data = bytearray(archive.read_bytes())  # odd_method.py: a compression method Python cannot unpack (99, AES)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            name_at = start + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + 13] == b"odd_method.py":
                data[start + offset : start + offset + 2] = (99).to_bytes(2, "little")
            start += 4
    archive.write_bytes(bytes(data))
    (tmp_path / "big.py").write_text(GOOD_SCRIPT + "#" * 10_000)

    sessions, report = collect(domain, "scripts", str(archive))
    assert [session.meta["file"] for session in sessions] == ["good.py"]
    assert report.counts["files that cannot be read (skipped)"] == 3
    warnings = "\n".join(report.warnings)
    assert f"{archive / 'locked.py'}: cannot be read: encrypted (it needs a password); skipped" in warnings
    assert f"{archive / 'odd_method.py'}: cannot be read: a damaged or unsupported zip member:" in warnings
    assert f"{archive / 'bomb.py'}: cannot be read: {len(GOOD_SCRIPT) + 10_000} bytes unpacked, over the 4096-byte limit" in warnings
    _, report = collect(domain, "scripts", str(tmp_path / "big.py"))
    assert report.warnings == [f"{tmp_path / 'big.py'}: cannot be read: {len(GOOD_SCRIPT) + 10_000} bytes, over the 4096-byte limit for a script; skipped"]


def test_many_unknown_arguments_take_linear_time_and_warnings_stay_short(domain, tmp_path):
    keywords = ", ".join(f"unknown_{number}=1" for number in range(40_000))
    script = tmp_path / "many.py"
    script.write_text(f"import bpy\nbpy.ops.mesh.primitive_cube_add({keywords})\nbpy.ops.object.modifier_add(type='{'X' * 100_000}')\n{GOOD_SCRIPT}")
    started = time.perf_counter()
    (session,), report = collect(domain, "scripts", str(script))
    assert time.perf_counter() - started < 6  # quadratic, it took 12 s
    assert report.counts["properties this Blender does not know (dropped)"] == 40_000
    assert session.events[0].action.context["unknown_args"] == [f"unknown_{number}" for number in range(40_000)]
    assert report.warnings[0] == f"{script}:2: bpy.ops.mesh.primitive_cube_add: no property 'unknown_0' in this Blender (5.0.1); dropped"
    assert report.warnings[1].startswith(f"{script}:3: skipped bpy.ops.object.modifier_add: property 'type' has no item 'XXXX")
    assert max(len(warning) for warning in report.warnings) < 400

    write_log(tmp_path / "long.jsonl", [("object.modifier_add", {"type": "X" * 100_000}), ("object.shade_smooth", {})])
    _, report = collect(domain, "addon", str(tmp_path / "long.jsonl"))
    assert len(report.warnings) == 1 and len(report.warnings[0]) < 400


def test_addon_warnings_name_the_file_line_and_field(domain, tmp_path):
    log = tmp_path / "artist.jsonl"
    write_log(log, [("mesh.primitive_cube_add", {}), ("mesh.future_operator", {}), ("object.modifier_add", {"type": "NOT_A_TYPE"}), ("object.shade_smooth", {})])
    (session,), report = collect(domain, "addon", str(tmp_path))
    assert [event.action.kind for event in session.events] == ["mesh.primitive_cube_add", "object.shade_smooth"]
    assert report.warnings == [
        f'{log}:3: field "action.kind" of mesh.future_operator: Blender 5.0.1 has no operator \'mesh.future_operator\'; action skipped',
        f'{log}:4: field "action.args" of object.modifier_add: property \'type\' has no item \'NOT_A_TYPE\'; action skipped',
    ]


def test_a_whole_float_for_an_integer_property_is_collected_as_an_int(domain, tmp_path):
    script = tmp_path / "cuts.py"
    script.write_text("import bpy\nbpy.ops.mesh.subdivide(number_cuts=3.0, smoothness=1.0)\nbpy.ops.mesh.primitive_circle_add(vertices=8)\n")
    (session,), _ = collect(domain, "scripts", str(script))
    args = [dict(event.action.args) for event in session.events]
    assert args == [{"number_cuts": 3, "smoothness": 1.0}, {"vertices": 8}]
    assert type(args[0]["number_cuts"]) is int and type(args[0]["smoothness"]) is float
    logs = tmp_path / "logs"
    logs.mkdir()
    write_log(logs / "s.jsonl", [("mesh.subdivide", {"number_cuts": 3.0}), ("object.shade_smooth", {})])
    (session,), report = collect(domain, "addon", str(logs))
    assert not report.warnings and session.events[0].action.args == {"number_cuts": 3}
    assert type(session.events[0].action.args["number_cuts"]) is int
    assert '"number_cuts":3}' in json.dumps(session.events[0].action.to_json(), separators=(",", ":"))


def test_a_macro_argument_that_is_not_an_object_says_so(domain, tmp_path):
    script = tmp_path / "macro.py"
    script.write_text("import bpy\nbpy.ops.object.duplicate_move(TRANSFORM_OT_translate=5)\nbpy.ops.object.shade_smooth()\n")
    _, report = collect(domain, "scripts", str(script))
    assert report.warnings == [
        f"{script}:2: bpy.ops.object.duplicate_move: 'TRANSFORM_OT_translate' must be an object of the macro's properties, got 5; dropped"
    ]


def test_a_copied_addon_log_is_reported_and_skipped(domain, tmp_path):
    """A second log of one session (`artist (copy).jsonl`) stopped `nep collect` whole: a duplicate session id
    naming neither file, with advice about collectors run twice."""
    log = tmp_path / "artist.jsonl"
    write_log(log, [("mesh.primitive_cube_add", {}), ("object.shade_smooth", {})], session_id="blender-1")
    shutil.copy(log, tmp_path / "artist (copy).jsonl")
    write_log(tmp_path / "other.jsonl", [("object.shade_flat", {})], session_id="blender-2")
    sessions, report = collect(domain, "addon", str(tmp_path))
    assert sorted(session.id for session in sessions) == ["blender-1", "blender-2"]
    assert report.warnings == [f"{tmp_path / 'artist.jsonl'}:1: session 'blender-1' was read from {tmp_path / 'artist (copy).jsonl'} already; file skipped"]
    assert report.counts["logs of a session already read (skipped)"] == 1
