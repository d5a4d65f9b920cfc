"""The `git` collector: real repositories made with git in tmp_path become sessions of hunks as edits."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_code.collectors.git import GitCollector
from nep_code.edits import LineEdit, Workspace, line_edits, split_lines

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
BASE = "".join(f"def f{n}(a):\n    return a + {n}\n\n" for n in range(30))


def git(repo: Path, *args: str, when: int | None = None) -> str:
    env = dict(ENV)
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=env, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def commit(repo: Path, files: dict[str, str | bytes | None], message: str, when: int) -> str:
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, when=when)
    return git(repo, "rev-parse", "HEAD").strip()


def edited(text: str, replacements: dict[int, str]) -> str:
    lines = text.splitlines(keepends=True)
    for index, line in replacements.items():
        lines[index] = line
    return "".join(lines)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"src/app.py": BASE, "notes.txt": "one\n"}, "root", 1_700_000_000)
    return repo


def collect(argument: str, seed: int = 0) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(GitCollector(None).collect(argument, report, seed=seed)), report


def test_a_commit_becomes_its_hunks_applied_to_the_parent(repo: Path) -> None:
    before = BASE
    after = edited(BASE, {1: "    return a * 2\n", 10: "    return a - 3\n"}) + "def g():\n    pass\n"
    sha = commit(repo, {"src/app.py": after, "notes.txt": "one\ntwo\n"}, "two places", 1_700_000_100)
    sessions, report = collect(f"{repo}?max_span=0")
    assert len(sessions) == 1 and report.counts["root commits (skipped)"] == 1
    session = sessions[0]
    assert session.id == f"git-project-{sha[:12]}" and session.domain == "code"
    assert session.meta["commit"] == sha and session.meta["commit_time"] == 1_700_000_100
    assert session.meta["source"] == "git" and session.meta["source_id"].startswith("project#")
    first = session.events[0].state
    assert first["files"] == {"notes.txt": "one\n", "src/app.py": before}
    assert first["cursor"]["file"] == "notes.txt"
    edits = [LineEdit.from_action(event.action) for event in session.events[1:]]
    assert [(edit.file, edit.line, edit.delete) for edit in edits] == [
        ("notes.txt", 2, 0), ("src/app.py", 2, 1), ("src/app.py", 11, 1), ("src/app.py", 91, 0)]
    workspace = Workspace.from_events(session.events)
    assert workspace.text("src/app.py") == after and workspace.text("notes.txt") == "one\ntwo\n"
    times = [event.t for event in session.events]
    assert times == sorted(times) and all(0 < b - a < 20 for a, b in zip(times[1:], times[2:]))


def test_windows_line_ends_are_read_as_an_editor_shows_them(repo: Path) -> None:
    """Neovim shows a CRLF file without its "\r"s; a model that learned them suggested `b = 20^M`."""
    crlf = "a = 1\r\nb = 2\r\n"
    commit(repo, {"win.py": crlf}, "add a CRLF file", 1_700_000_100)
    commit(repo, {"win.py": crlf.replace("b = 2", "b = 20")}, "edit it", 1_700_000_200)
    commit(repo, {"win.py": "a = 1\nb = 20\n"}, "only the line ends change", 1_700_000_300)
    sessions, report = collect(f"{repo}?max_span=0&filters=0")
    (session,) = [session for session in sessions if session.meta["commit_time"] == 1_700_000_200]
    assert session.events[0].state["files"]["win.py"] == "a = 1\nb = 2\n"
    (edit,) = [LineEdit.from_action(event.action) for event in session.events[1:]]
    assert (edit.line, edit.delete, edit.insert) == (2, 1, "b = 20\n")
    assert not [s for s in sessions if s.meta["commit_time"] == 1_700_000_300]
    assert report.counts["files with no line changes (skipped)"] >= 1


def test_filters_of_the_literature_are_on_by_default_and_configurable(repo: Path) -> None:
    big = edited(BASE, {1: "    return 1\n", 4: "    return 1\n" + "".join(f"x{n} = {n}\n" for n in range(7))})  # lines 2 and 5-12
    commit(repo, {"src/app.py": big}, "a hunk of 8 lines", 1_700_000_100)
    spread = edited(big, {1: "    return 2\n", 85: "    return 3\n"})
    commit(repo, {"src/app.py": spread}, "two hunks 85 lines apart", 1_700_000_200)
    commit(repo, {"src/app.py": edited(spread, {1: "    return 4\n"})}, "one hunk", 1_700_000_300)
    sessions, report = collect(str(repo))
    assert sessions == []
    assert report.counts["files with a hunk over 5 lines (skipped)"] == 1
    assert report.counts["files with hunks spread over 80 lines (skipped)"] == 1
    assert report.counts["commits with under 2 hunks (skipped)"] == 3
    loose, _ = collect(f"{repo}?filters=0")
    assert [len(session.events) - 1 for session in loose] == [1, 2, 2]
    assert len(collect(f"{repo}?max_span=100&max_hunk_lines=8")[0]) == 2
    additive, report = collect(f"{repo}?filters=0&additive=1")
    assert additive == [] and report.counts["files with deletions (additive only) (skipped)"] == 3


def test_bad_input_in_history_is_counted_never_fatal(repo: Path, tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    git(sub, "init", "-q")
    commit(sub, {"a.txt": "a\n"}, "sub", 1_700_000_000)
    commit(repo, {"data.bin": b"\x00\x01\x02" * 10, "latin.txt": "caf\xe9\n".encode("latin-1"), "huge.txt": "y\n" * 200_000,
                  "feed.py": "a = 1\n\x0c\nb = 2\n"}, "bad files", 1_700_000_100)
    commit(repo, {"data.bin": b"\x00\x03" * 10, "latin.txt": "caf\xe9s\nt\xe9\n".encode("latin-1"), "huge.txt": "z\n" * 200_000,
                  "feed.py": "a = 1\n\x0c\nb = 3\nc = 4\n"}, "bad files changed", 1_700_000_200)
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "vendor/sub", when=1_700_000_300)
    git(repo, "commit", "-q", "-m", "submodule", when=1_700_000_300)
    git(repo, "mv", "notes.txt", "renamed.txt")
    git(repo, "commit", "-q", "-m", "rename", when=1_700_000_400)
    git(repo, "checkout", "-q", "-b", "side")
    commit(repo, {"src/app.py": edited(BASE, {1: "    return 0\n", 4: "    return 9\n"})}, "side", 1_700_000_500)
    git(repo, "checkout", "-q", "main")
    commit(repo, {"other.py": "x = 1\n"}, "main", 1_700_000_600)
    git(repo, "merge", "-q", "--no-edit", "side", when=1_700_000_700)
    sessions, report = collect(str(repo))
    counts = report.counts
    assert counts["merge commits (skipped)"] == 1
    assert counts["binary files (skipped)"] == 2
    assert counts["non-UTF-8 files (skipped)"] == 2
    assert counts["files over 300000 bytes (skipped)"] == 2
    assert counts["files with form feeds or other unusual line breaks (skipped)"] == 2
    assert counts["submodule changes (skipped)"] == 1
    assert counts["renamed or copied files (skipped)"] == 1
    assert any("latin.txt: not UTF-8" in warning for warning in report.warnings)
    assert [session.meta["subject"] for session in sessions] == ["side"]
    assert counts["commits read"] == 8


def test_a_shallow_clone_skips_its_boundary_commit(repo: Path, tmp_path: Path) -> None:
    text = BASE
    for step in range(4):
        text = edited(text, {1 + 3 * step: f"    return {step}\n", 40 + 3 * step: f"    return {step}\n"})
        commit(repo, {"src/app.py": text}, f"step {step}", 1_700_000_100 + step)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{repo}", str(clone)], check=True, env=ENV)
    sessions, report = collect(str(clone))
    assert len(sessions) == 1 and sessions[0].meta["subject"] == "step 3"
    assert report.counts["shallow-clone boundary commits (skipped)"] == 1
    assert any("shallow clone" in warning for warning in report.warnings)


def test_a_bare_clone_is_read_as_its_work_tree_is_and_a_subject_may_hold_control_characters(repo: Path, tmp_path: Path) -> None:
    text = BASE
    for step in range(3):
        text = edited(text, {1 + 3 * step: f"    return {step}\n", 40 + 3 * step: f"    return {step}\n"})
        commit(repo, {"src/app.py": text}, f"step {step}\x01with\x02controls", 1_700_000_100 + step)  # \x01 split records
    bare = tmp_path / "project.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True, env=ENV)
    sessions, report = collect(str(repo))
    from_bare, bare_report = collect(str(bare))  # was "not a git repository (must be run in a work tree)"
    assert report.counts["commits read"] == 4 and "log records that do not parse" not in report.counts
    assert sorted(session.meta["subject"] for session in sessions) == [f"step {step}\x01with\x02controls" for step in range(3)]
    assert [session.id for session in from_bare] == [session.id for session in sessions]  # project.git is project
    assert [session.events for session in from_bare] == [session.events for session in sessions]
    assert bare_report.counts == report.counts


def test_time_blocks_make_split_groups_oldest_first(repo: Path) -> None:
    text = BASE
    for step in range(10):
        text = edited(text, {1 + 3 * step: f"    return {step}\n", 4 + 3 * step: f"    return -{step}\n"})
        commit(repo, {"src/app.py": text}, f"step {step}", 1_700_000_100 + 100 * step)
    sessions, _ = collect(f"{repo}?blocks=11")  # the root commit, skipped, is block 0
    by_time = sorted(sessions, key=lambda session: session.meta["commit_time"])
    assert [session.meta["time_block"] for session in by_time] == list(range(1, 11))
    assert [session.meta["split"] for session in by_time] == ["train"] * 8 + ["val", "test"]
    assert len({session.source for session in sessions}) == 10
    from nep_core.examples import ExampleConfig, split_sessions

    by_split = split_sessions(sessions, ExampleConfig())
    assert [len(by_split[split]) for split in ("train", "val", "test")] == [8, 1, 1]
    assert max(s.meta["commit_time"] for s in by_split["train"]) < by_split["val"][0].meta["commit_time"] < by_split["test"][0].meta["commit_time"]
    repo_grouped, _ = collect(f"{repo}?group=repo&max_commits=3")
    assert len(repo_grouped) == 3 and {session.source for session in repo_grouped} == {"project"}
    assert not any("split" in session.meta for session in repo_grouped)


def test_sessions_are_deterministic_by_seed(repo: Path) -> None:
    commit(repo, {"src/app.py": edited(BASE, {1: "    return 0\n", 4: "    return 9\n"})}, "two", 1_700_000_100)
    first, second, other = collect(str(repo))[0], collect(str(repo))[0], collect(str(repo), seed=1)[0]
    as_json = lambda sessions: [[event.to_json() for event in session.events] for session in sessions]
    assert as_json(first) == as_json(second) and as_json(first) != as_json(other)


def test_commits_of_one_second_are_spread_over_the_time_blocks_in_history_order(repo: Path) -> None:
    text = BASE
    for number in range(10):  # a script's commits, all in the same second
        text = edited(text, {1: f"    return a * {number + 2}\n", 10: f"    return a - {number + 3}\n"})
        commit(repo, {"src/app.py": text}, f"step {number}", 1_700_000_100)
    sessions, _ = collect(f"{repo}?blocks=5")
    by_subject = {session.meta["subject"]: session.meta["time_block"] for session in sessions}
    # 11 commits with the root: ranks 1..10 in blocks cut at ranks 2, 4, 6, 8 (before, all ten were
    # in the newest block, the test split)
    assert [by_subject[f"step {number}"] for number in range(10)] == [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]


def test_bad_arguments_are_one_line_errors(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(NepError, match="not a git repository"):
        collect(str(tmp_path))
    with pytest.raises(NepError, match="unknown option 'max_hunk'"):
        collect(f"{repo}?max_hunk=3")
    with pytest.raises(NepError, match="'min_hunks' is a whole number"):
        collect(f"{repo}?min_hunks=two")
    with pytest.raises(NepError, match="option 'blocks' must be at least 1, not '0'"):
        collect(f"{repo}?blocks=0")
    with pytest.raises(NepError, match="option 'rev' must be a revision or range"):
        collect(f"{repo}?rev=--output={tmp_path / 'written'}")  # git would take it as an option and write the file
    assert not (tmp_path / "written").exists()
    sessions, report = collect(f"{repo}?rev=HEAD..HEAD")
    assert sessions == [] and any("'HEAD..HEAD' selects no commits" in warning for warning in report.warnings)
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    sessions, report = collect(str(empty))
    assert sessions == [] and "no commits yet" in report.warnings[0]


def test_split_lines_round_trip_holds_on_this_repository_history() -> None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    sessions, report = collect(f"{root}?filters=0&max_commits=15")
    assert report.counts["commits read"] > 0
    for session in sessions:
        workspace = Workspace.from_events(session.events)
        for path in session.events[0].state["files"]:
            blob = git(root, "show", f"{session.meta['commit']}:{path}") if path in workspace.files and workspace.files[path] else ""
            assert workspace.text(path) == "".join(split_lines(blob))


def lockfile(versions: dict[int, str]) -> str:
    """A package-lock-like text: thousands of lines, most of them repeated ("integrity", braces)."""
    return "{\n" + "".join(f'  "pkg{n}": {{\n    "version": "{versions.get(n, "1.0.0")}",\n    "integrity": "sha512-abab"\n  }},\n'
                           for n in range(2500)) + "}\n"


def test_minified_lines_are_skipped_before_any_diff_named_and_configurable(repo: Path, monkeypatch) -> None:
    """One commit to a minified file made the encoder diff a 219,783-character line for minutes in every later prompt."""
    import nep_code.collectors.git as git_collector

    minified = ";".join(f"var a{n}=function(b){{return b+{n}}}" for n in range(200)) + "\n"
    commit(repo, {"app.min.js": minified}, "add minified", 1_700_000_100)
    sha = commit(repo, {"app.min.js": minified.replace("b+7}", "b+8}"), "src/app.py": edited(BASE, {1: "    return 1\n", 4: "    return 2\n"})},
                 "edit minified", 1_700_000_200)
    diffed = []
    monkeypatch.setattr(git_collector, "line_edits", lambda path, *args: diffed.append(path) or line_edits(path, *args))
    sessions, report = collect(str(repo))
    assert [sorted(session.events[0].state["files"]) for session in sessions] == [["src/app.py"]]
    assert report.counts["files with a line over 1000 characters (minified or generated) (skipped)"] == 2
    assert f"{sha[:12]}:app.min.js: a line over 1000 characters (minified or generated); skipped" in report.warnings
    assert "app.min.js" not in diffed
    for argument in ("max_line_chars=0", f"max_line_chars={len(minified)}", "filters=0"):
        kept, _ = collect(f"{repo}?{argument}")
        assert "app.min.js" in kept[0].events[0].state["files"], argument


def test_a_lockfile_is_diffed_fast_and_faithfully_or_not_at_all(repo: Path, monkeypatch) -> None:
    """A 10,000-line lockfile took difflib seconds a commit, diffed even when the span filter then dropped it."""
    import difflib

    import nep_code.edits as edits_module
    import nep_code.collectors.git as git_collector

    commit(repo, {"package-lock.json": lockfile({})}, "lock", 1_700_000_100)
    versions = [{}]
    for step in range(1, 4):
        versions.append({n: f"1.{step}.{n % 3}" for n in range(0, 2500, 7 * step)})
        commit(repo, {"package-lock.json": lockfile(versions[step]), "src/app.py": edited(BASE, {1: f"    return {step}\n", 4: f"    return -{step}\n"})},
               f"bump {step}", 1_700_000_100 + step)
    diffed, matched = [], []
    monkeypatch.setattr(git_collector, "line_edits", lambda path, *args: diffed.append(path) or line_edits(path, *args))
    sessions, report = collect(str(repo))  # the lockfile's changes span its whole text: the span filter drops it undiffed
    assert len(sessions) == 3 and diffed.count("package-lock.json") == 1  # only its addition: nothing to match
    assert report.counts["files with hunks spread over 80 lines (skipped)"] == 3

    class Recorded(difflib.SequenceMatcher):
        def __init__(self, isjunk, a, b, autojunk):
            matched.append((len(a) * len(b), autojunk))
            super().__init__(isjunk, a, b, autojunk)

    monkeypatch.setattr(edits_module.difflib, "SequenceMatcher", Recorded)
    sessions, _ = collect(f"{repo}?filters=0")
    assert len(sessions) == 4
    assert matched and all(cells <= edits_module.DIFFLIB_CELLS for cells, autojunk in matched if not autojunk)
    edit_counts = []
    for session in sessions:  # every edit replayed on the parent gives the commit's text
        workspace = Workspace.from_events(session.events)
        edit_counts.append(len(session.events) - 1)
        for path in session.events[0].state["files"]:
            assert workspace.text(path) == "".join(split_lines(git(repo, "show", f"{session.meta['commit']}:{path}")))
    bumped = [sum(versions[step].get(n) != versions[step - 1].get(n) for n in range(2500)) for step in (3, 2, 1)]
    assert edit_counts[:3] == [2 + count for count in bumped]  # one edit a changed version, as few as can be


def test_a_subject_holding_any_text_keeps_its_commit_and_the_time_blocks(repo: Path) -> None:
    text = BASE
    subjects = ["plain", "marker \x01nep-commit\x02 inside", "\x01nep-commit\x02", "last"]
    for step, subject in enumerate(subjects):
        text = edited(text, {1 + 3 * step: f"    return {step}\n", 40 + 3 * step: f"    return {step}\n"})
        commit(repo, {"src/app.py": text}, subject, 1_700_000_100 + 100 * step)
    sessions, report = collect(f"{repo}?blocks=5")
    assert "log records that do not parse (skipped)" not in report.counts and report.counts["commits read"] == 5
    by_time = sorted(sessions, key=lambda session: session.meta["commit_time"])
    assert [session.meta["subject"] for session in by_time] == subjects
    assert [session.meta["time_block"] for session in by_time] == [1, 2, 3, 4]


def test_a_byte_order_mark_is_dropped_as_an_editor_hides_it(repo: Path) -> None:
    """Neovim shows a file with a BOM without it (the 'bomb' option): a model must never learn to write one."""
    commit(repo, {"bom.py": "\ufeffa = 1\nb = 2\nc = 3\n"}, "add", 1_700_000_100)
    commit(repo, {"bom.py": "\ufeffa = 10\nb = 2\nc = 30\n"}, "edit", 1_700_000_200)
    (session,) = collect(str(repo))[0]
    assert session.events[0].state["files"]["bom.py"] == "a = 1\nb = 2\nc = 3\n"
    assert Workspace.from_events(session.events).text("bom.py") == "a = 10\nb = 2\nc = 30\n"


def test_skipped_files_are_named_a_few_per_reason(repo: Path) -> None:
    binaries = {f"data{n}.bin": b"\x00" + bytes([n]) for n in range(7)}
    commit(repo, binaries, "binaries", 1_700_000_100)
    sha = commit(repo, {name: data + b"\x01" for name, data in binaries.items()}, "binaries changed", 1_700_000_200)
    _, report = collect(str(repo))
    named = [warning for warning in report.warnings if warning.endswith(": binary; skipped")]
    assert report.counts["binary files (skipped)"] == 14 and len(named) == 5
    assert named[0] == f"{sha[:12]}:data0.bin: binary; skipped"
    assert "git: 9 more binary files skipped (the first 5 named above)" in report.warnings


def test_a_limit_that_keeps_no_train_split_says_so_and_points_to_max_commits(repo: Path, tmp_path: Path, monkeypatch) -> None:
    """--limit keeps the newest sessions, and the git collector had made the newest blocks val and test."""
    from typer.testing import CliRunner

    from nep_core.cli.main import app

    text = BASE
    for step in range(10):
        text = edited(text, {1 + 3 * step: f"    return {step}\n", 40 + 3 * step: f"    return {step}\n"})
        commit(repo, {"src/app.py": text}, f"step {step}", 1_700_000_100 + 100 * step)
    monkeypatch.setenv("NEP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "1000")
    limited = CliRunner().invoke(app, ["collect", "--domain", "code", "--source", f"git:{repo}", "--limit", "2", "--out", str(tmp_path / "a")])
    assert limited.exit_code == 0, limited.output
    assert "--limit 2 kept sessions that declare no train split (test: 2)" in limited.output and "max_commits=N" in limited.output
    asked = CliRunner().invoke(app, ["collect", "--domain", "code", "--source", f"git:{repo}?max_commits=3", "--out", str(tmp_path / "b")])
    assert asked.exit_code == 0 and "no train split" not in asked.output


def test_files_that_may_hold_secrets_are_skipped_and_named_unless_private_is_0(repo: Path) -> None:
    """A programmer's `.env`, keys and certificates went into the sessions (and so into a model that may repeat them)."""
    secrets = {".env": "TOKEN=abc\nUSER=me\nHOST=x\n", "deploy/Server.PEM": "-----BEGIN KEY-----\nAAAA\nBBBB\n",
               "config/.env.production": "A=1\nB=2\nC=3\n", "home/id_ed25519": "k1\nk2\nk3\n"}
    commit(repo, secrets, "secrets", 1_700_000_100)
    changed = {name: text.replace("\n", "9\n", 1).replace("3\n", "4\n") for name, text in secrets.items()}
    sha = commit(repo, {**changed, "src/app.py": edited(BASE, {1: "    return a + 100\n", 40: "    return a + 200\n"})},
                 "rotate", 1_700_000_200)
    sessions, report = collect(str(repo))
    files = {edit.file for session in sessions for event in session.events if event.action for edit in [LineEdit.from_action(event.action)]}
    assert files == {"src/app.py"}
    assert report.counts["private files (keys, certificates, credentials, .env) (skipped)"] == 8  # added, then changed
    assert f"{sha[:12]}:.env: may hold secrets (private=0 keeps it); skipped" in report.warnings
    assert all("TOKEN" not in str(event.state) for session in sessions for event in session.events if event.state)
    kept, _ = collect(f"{repo}?private=0")
    assert {edit.file for session in kept for event in session.events if event.action
            for edit in [LineEdit.from_action(event.action)]} == {"src/app.py", *secrets}
