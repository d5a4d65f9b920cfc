"""The `scripts` and `addon` collectors: Blender scripts read with ast, add-on logs read and checked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from nep_core.actions import Action
from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_core.session import Event, Session
from nep_core.sessionlog import read_sessions, write_session

SCRIPT = '''
import bpy
from bpy import ops as O

SIZE = 2.0

def make_table(width):
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0, 0, 0.75))
    bpy.ops.transform.resize(value=(width, 1.0, 0.05))
    for corner in range(4):
        O.object.duplicate_move(TRANSFORM_OT_translate={"value": (1.0, 0.0, 0.0)})
    if width > 1:
        bpy.ops.object.modifier_add(type='BEVEL')
    bpy.ops.mesh.no_such_operator(amount=3)
    bpy.ops.mesh.primitive_cube_add(sise=1.0)
    bpy.ops.mesh.primitive_cube_add(size="huge")

def only_one_call():
    bpy.ops.object.shade_smooth()

bpy.ops.object.select_all(action='DESELECT')
bpy.ops.mesh.primitive_cube_add(size=SIZE, location=(0, 0, 1))

class AddTable:
    def execute(self, context):
        bpy.ops.object.select_all(action='DESELECT')
        bpy.ops.mesh.primitive_cube_add()

class AddLamp:
    def execute(self, context):
        bpy.ops.object.select_all(action='DESELECT')
        bpy.ops.object.light_add(type='POINT')
'''


@pytest.fixture(scope="module")
def domain():
    from nep_core.plugins import get_domain

    return get_domain("blender")


@pytest.fixture
def scripts(tmp_path):
    folder = tmp_path / "scripts"
    (folder / "furniture").mkdir(parents=True)
    (folder / "furniture" / "table.py").write_text(textwrap.dedent(SCRIPT))
    (folder / "broken.py").write_text("import bpy\n\ndef f(:\n    bpy.ops.mesh.primitive_cube_add()\n")
    return folder


def test_scripts_become_sessions_of_their_ops_calls_in_source_order(domain, scripts):
    report = CollectReport()
    collected = list(domain.collectors["scripts"].collect(str(scripts), report))
    assert len({session.id for session in collected}) == len(collected) == 4  # the two execute methods apart
    assert sorted(session.meta["line"] for session in collected if session.meta["function"] == "execute") == [25, 30]
    sessions = {session.meta["function"]: session for session in collected}
    assert set(sessions) == {"make_table", "<module>", "execute"}  # only_one_call has a single call
    table = sessions["make_table"]
    assert [event.action.kind for event in table.events] == [
        "mesh.primitive_cube_add", "transform.resize", "object.duplicate_move", "object.modifier_add",
        "mesh.primitive_cube_add",  # `sise` is no property of it: dropped, the call kept
    ]
    assert table.events[4].action.args == {} and table.events[4].action.context == {"unknown_args": ["sise"]}
    assert table.events[0].action.args == {"size": 1.0, "location": [0, 0, 0.75]}
    assert table.events[2].action.args == {"TRANSFORM_OT_translate": {"value": [1.0, 0.0, 0.0]}}  # the `ops` alias
    assert table.meta["source_id"] == table.meta["file"] == "furniture/table.py"  # one folder: split by file
    assert [event.t for event in table.events] == sorted(event.t for event in table.events)
    module = sessions["<module>"]
    assert not module.events[0].action.edit  # a selection
    assert module.events[1].action.args == {"location": [0, 0, 1]}  # SIZE is a variable: dropped...
    assert module.events[1].action.context == {"unknown_args": ["size"]}  # ...and named
    assert report.counts["calls of operators this Blender does not have"] == 1
    assert report.counts["properties this Blender does not know (dropped)"] == 1
    assert report.counts["arguments that are not literals (dropped)"] == 2  # `width` and `SIZE`
    assert report.counts["calls with ill-typed literal arguments"] == 1
    assert report.counts["files that do not parse"] == 1
    warnings = "\n".join(report.warnings)
    assert f"{scripts / 'broken.py'}:3: does not parse" in warnings
    assert f"{scripts / 'furniture' / 'table.py'}:14: skipped bpy.ops.mesh.no_such_operator" in warnings
    for session in sessions.values():
        for event in session.events:
            domain.action_space.encode(event.action)


def test_a_repositorys_scripts_stay_in_one_split_group(domain, tmp_path):
    from nep_blender.collectors.scripts import MIN_FOLDER_GROUPS
    from nep_core.examples import split_sessions

    two_calls = "import bpy\nbpy.ops.mesh.primitive_cube_add()\nbpy.ops.object.shade_smooth()\n"
    few = tmp_path / "few"
    for name in ("repo_a/gen.py", "repo_a/tools/more.py", "repo_b/make.py", "loose.py"):
        (few / name).parent.mkdir(parents=True, exist_ok=True)
        (few / name).write_text(two_calls)
    many = tmp_path / "many"
    for number in range(MIN_FOLDER_GROUPS):
        for name in ("gen.py", "tools/more.py"):
            (many / f"repo_{number}" / name).parent.mkdir(parents=True, exist_ok=True)
            (many / f"repo_{number}" / name).write_text(two_calls)
    collector = domain.collectors["scripts"]

    def groups(argument) -> dict[str, str]:
        return {s.meta["file"]: s.meta["source_id"] for s in collector.collect(str(argument), CollectReport())}

    by_folder = {"repo_a/gen.py": "repo_a", "repo_a/tools/more.py": "repo_a", "repo_b/make.py": "repo_b", "loose.py": "loose.py"}
    assert groups(f"{few}?group=folder") == by_folder
    assert groups(few) == {name: name for name in by_folder}  # too few folders for three splits: by file
    assert groups(f"{few}?group=file") == groups(few)
    assert set(groups(many).values()) == {f"repo_{number}" for number in range(MIN_FOLDER_GROUPS)}  # by folder
    assert groups(few / "repo_a" / "gen.py") == {"gen.py": "gen.py"}

    sessions = list(collector.collect(str(many), CollectReport()))
    split_of = {s.meta["file"]: name for name, part in split_sessions(sessions, domain.examples).items() for s in part}
    assert all(split_of[f"repo_{n}/gen.py"] == split_of[f"repo_{n}/tools/more.py"] for n in range(MIN_FOLDER_GROUPS))
    with pytest.raises(NepError, match="unknown group 'repo'.*folder, file"):
        list(collector.collect(f"{few}?group=repo", CollectReport()))
    with pytest.raises(NepError, match="unknown option 'grup'"):
        list(collector.collect(f"{few}?grup=file", CollectReport()))


def test_nep_collect_reads_scripts_and_reports_what_it_skipped(scripts, tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", "collect", "--domain", "blender", "--source", f"scripts:{scripts}", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "300"},
    )
    assert result.returncode == 0, result.stderr
    assert "wrote 4 sessions" in result.stdout
    assert "broken.py:3: does not parse" in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert len(list(read_sessions(out, domain="blender"))) == 4
    missing = subprocess.run(
        [sys.executable, "-m", "nep_core.cli.main", "collect", "--domain", "blender", "--source", f"scripts:{tmp_path / 'nope'}", "--out", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=300,
    )
    assert missing.returncode == 2 and "no such file or folder (pass a Python file, a folder of them or a .zip of them)" in missing.stderr


def test_a_zip_of_scripts_reads_like_the_folder_and_copies_of_it_train_only(domain, scripts, tmp_path):
    import dataclasses
    import zipfile

    from nep_core.dataset import collect
    from nep_core.examples import split_sessions

    archive = tmp_path / "scripts.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(scripts.rglob("*.py")):
            zipped.write(path, path.relative_to(scripts).as_posix())
        zipped.writestr("README.txt", "not a script")
    collector = domain.collectors["scripts"]
    from_folder = list(collector.collect(str(scripts), CollectReport()))
    report = CollectReport()
    from_zip = list(collector.collect(str(archive), report))
    assert [(s.id, [e.action for e in s.events]) for s in from_zip] == [(s.id, [e.action for e in s.events]) for s in from_folder]
    assert report.counts["files"] == 1 and report.counts["files that do not parse"] == 1
    assert f"{archive / 'broken.py'}:3: does not parse" in "\n".join(report.warnings)

    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as zipped:
        for number in range(8):
            zipped.writestr(f"script_{number}.py", "import bpy\nbpy.ops.mesh.primitive_cube_add()\nbpy.ops.object.shade_smooth()\n")
    originals = list(collector.collect(str(many), CollectReport()))
    repeated = list(collect(domain, f"scripts:{many} * 3", CollectReport()))  # the core's copies, for any source
    assert len(repeated) == 3 * len(originals) == 24 and len({s.id for s in repeated}) == len(repeated)
    assert all(s.events == original.events for original in originals for s in repeated if s.id.startswith(original.id))
    splits = split_sessions(repeated, dataclasses.replace(domain.examples, split_fractions=(0.5, 0.25, 0.25)))
    split_of = {s.id: name for name, part in splits.items() for s in part}
    assert {split_of[s.id] for s in originals} == {"train", "val", "test"}
    for original in originals:  # copies weigh training only: val and test hold each session once
        copies = [s.id for s in repeated if s.meta.get("copy_of") == original.id]
        assert len(copies) == 2
        expected = [split_of[original.id]] * 2 if split_of[original.id] == "train" else []
        assert [split_of[copy] for copy in copies if copy in split_of] == expected
    with pytest.raises(NepError, match="the count after '\\*' is a whole number from 1 to 1000"):
        list(collect(domain, f"scripts:{archive} * 0", CollectReport()))
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(b"PK not really a zip")
    with pytest.raises(NepError, match=f"{corrupt}: not a readable zip archive"):
        list(collector.collect(str(corrupt), CollectReport()))


def test_the_shipped_example_scripts_all_parse_and_give_sessions(domain):
    from nep_blender.collectors.scripts import example_scripts_archive

    report = CollectReport()
    sessions = list(domain.collectors["scripts"].collect("nep-examples", report))
    assert example_scripts_archive().is_file()
    assert report.counts.get("files that do not parse", 0) == 0 and report.counts["files"] >= 100
    assert len(sessions) >= 100 and len({s.source for s in sessions}) >= 40  # grouped by project folder
    for session in sessions:
        for event in session.events:
            domain.action_space.encode(event.action)


def test_addon_logs_keep_runnable_calls_and_report_the_rest(domain, tmp_path):
    session = Session(
        id="artist-1", domain="blender",
        events=[
            Event(0.0, Action(kind="mesh.primitive_cube_add", args={"size": 1.0}, context={"mode": "OBJECT", "active": "NONE", "selected": 0})),
            Event(1.0, Action(kind="mesh.future_operator", args={}, context={"mode": "OBJECT", "active": "MESH", "selected": 1})),
            Event(2.0, Action(kind="object.modifier_add", args={"type": "NOT_A_TYPE"})),
            Event(3.0, Action(kind="object.modifier_add", args={"type": "BEVEL"})),
        ],
        meta={"app": "Blender 5.0.1", "source": "addon"},
    )
    write_session(tmp_path / "artist-1.jsonl", session)
    with open(tmp_path / "artist-1.jsonl", "a") as log:
        log.write('{"t": 4.0, "action": {"kind": 7}}\n{"t": 5.0, "action": {"kind": "object.shade_smooth"}}\n')
    report = CollectReport()
    (kept,) = domain.collectors["addon"].collect(str(tmp_path), report)
    assert [event.action.kind for event in kept.events] == ["mesh.primitive_cube_add", "object.modifier_add", "object.shade_smooth"]
    assert report.counts["actions this Blender cannot run (skipped)"] == 2
    assert report.counts["bad lines skipped"] == 1
    assert any("artist-1.jsonl:6:" in warning for warning in report.warnings)
    with pytest.raises(NepError, match="no session logs at"):
        list(domain.collectors["addon"].collect(str(tmp_path / "none"), CollectReport()))
