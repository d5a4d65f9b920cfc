"""`nep collect`, `nep domains` and user errors at the command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from nep_core.sessionlog import read_sessions


def nep(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "nep_core.cli.main", *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


def test_collect_writes_readable_session_logs(tmp_path):
    result = nep("collect", "--domain", "tags", "--source", "synthetic:12", "--out", str(tmp_path / "data"), "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert "wrote 12 sessions" in result.stdout
    sessions = list(read_sessions(tmp_path / "data", domain="tags"))
    assert len(sessions) == 12 and all(session.events for session in sessions)
    again = nep("collect", "--domain", "tags", "--source", "synthetic:12", "--out", str(tmp_path / "again"), "--seed", "3")
    assert again.returncode == 0
    assert sorted(p.read_text() for p in (tmp_path / "data").iterdir()) == sorted(p.read_text() for p in (tmp_path / "again").iterdir())


def test_collect_from_a_folder_of_logs_reports_bad_lines(tmp_path):
    assert nep("collect", "--domain", "tags", "--source", "synthetic:3", "--out", str(tmp_path / "raw")).returncode == 0
    victim = sorted((tmp_path / "raw").iterdir())[0]
    lines = victim.read_text().splitlines()
    lines.insert(2, "{broken")
    victim.write_text("\n".join(lines) + "\n")
    (tmp_path / "raw" / "notes.jsonl").write_text("these are my notes\n")
    result = nep("collect", "--domain", "tags", "--source", f"logs:{tmp_path / 'raw'}", "--out", str(tmp_path / "clean"))
    assert result.returncode == 0, result.stderr
    assert f"{victim}:3: not valid JSON" in result.stderr.replace("\n", "")
    assert f"{tmp_path / 'raw' / 'notes.jsonl'}:1: no header line (1 unreadable lines skipped)" in result.stderr.replace("\n", "")
    assert "wrote 3 sessions" in result.stdout


def test_a_folder_of_logs_under_the_home_folder_is_read_as_the_docs_write_it(tmp_path):
    """`--source logs:~/nep-logs` (the shell leaves a ~ after ':' alone) was "no such folder of session logs"."""
    env = {**os.environ, "HOME": str(tmp_path)}
    assert nep("collect", "--domain", "tags", "--source", "synthetic:3", "--out", str(tmp_path / "nep-logs"), env=env).returncode == 0
    for number, source in enumerate(("logs:~/nep-logs", "~/nep-logs")):
        result = nep("collect", "--domain", "tags", "--source", source, "--out", str(tmp_path / f"copy{number}"), env=env)
        assert result.returncode == 0, result.stderr
        assert "wrote 3 sessions" in result.stdout


def test_joined_sources_are_collected_together_in_order(tmp_path):
    from nep_core.dataset import load_sessions
    from nep_core.plugins import get_domain

    assert nep("collect", "--domain", "tags", "--source", "synthetic:3", "--out", str(tmp_path / "mine"), "--seed", "7").returncode == 0
    result = nep("collect", "--domain", "tags", "--source", f"{tmp_path / 'mine'} + synthetic:4", "--out", str(tmp_path / "both"))
    assert result.returncode == 0, result.stderr
    assert "wrote 7 sessions" in result.stdout
    domain = get_domain("tags")
    mine = load_sessions(domain, str(tmp_path / "mine"))[0]
    joined = load_sessions(domain, f"{tmp_path / 'mine'} + synthetic:4")[0]
    assert [session.id for session in joined[:3]] == sorted(session.id for session in mine)
    assert len(joined) == 7 and len({session.id for session in joined}) == 7
    bad = nep("collect", "--domain", "tags", "--source", "synthetic:3 + nope:1", "--out", str(tmp_path / "bad"))
    assert bad.returncode != 0 and "unknown source 'nope:1'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_a_source_times_n_gives_copies_that_train_with_their_original(tmp_path):
    from nep_core.dataset import load_sessions
    from nep_core.plugins import get_domain

    assert nep("collect", "--domain", "tags", "--source", "synthetic:3", "--out", str(tmp_path / "mine"), "--seed", "7").returncode == 0
    result = nep("collect", "--domain", "tags", "--source", f"{tmp_path / 'mine'} * 3 + synthetic:4", "--out", str(tmp_path / "weighed"))
    assert result.returncode == 0, result.stderr
    assert "wrote 13 sessions" in result.stdout  # 3 sessions three times, then 4
    domain = get_domain("tags")
    mine = load_sessions(domain, str(tmp_path / "mine"))[0]
    weighed = load_sessions(domain, str(tmp_path / "weighed"))[0]  # the copies, written and read back
    copies = [session for session in weighed if session.meta.get("copy_of")]
    assert sorted(session.meta["copy_of"] for session in copies) == sorted(2 * [session.id for session in mine])
    assert all(copy.events == next(s for s in mine if s.id == copy.meta["copy_of"]).events for copy in copies)
    assert len(load_sessions(domain, f"{tmp_path / 'mine'} * 2")[0]) == 6  # a bare folder of logs takes a count too
    bad = nep("collect", "--domain", "tags", "--source", "synthetic:3 * many", "--out", str(tmp_path / "bad"))
    assert bad.returncode != 0 and "the count after '*' is a whole number from 1 to 1000" in bad.stderr and "Traceback" not in bad.stderr


def test_user_errors_are_one_line_without_traceback(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    cases = [
        (("collect", "--domain", "nope", "--source", "x", "--out", str(tmp_path)), "unknown domain 'nope'"),
        (("collect", "--domain", "tags", "--source", "git:/nowhere", "--out", str(tmp_path)), "unknown source 'git:/nowhere'"),
        (("collect", "--domain", "tags", "--source", "logs:/nowhere", "--out", str(tmp_path)), "no such folder"),
        (("collect", "--domain", "tags", "--source", "synthetic:1", "--out", str(afile)), f"--out {afile} is a file; pass a folder"),
        (("collect", "--domain", "tags", "--source", "synthetic:1", "--out", str(afile / "x")), f"cannot be made: {afile} is a file"),
        (("collect", "--domain", "tags", "--source", "logs:", "--out", str(tmp_path / "a")), "logs: name the folder of session logs to read"),
        (("collect", "--domain", "tags", "--source", "", "--out", str(tmp_path / "b")), "logs: name the folder of session logs to read"),
        (("collect", "--domain", "tags", "--source", "synthetic:1 * 99999999999", "--out", str(tmp_path / "c")), "a whole number from 1 to 1000"),
    ]
    for args, message in cases:
        result = nep(*args)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr
        assert message in result.stderr
        assert result.stderr.strip().startswith("error:")


def test_warnings_are_printed_as_written_brackets_and_all(capsys):
    from nep_core.cli.common import warn_each

    warn_each([f'a.ndjson:{line}: field "drawing" must be [[xs], [ys]] or [[xs], [ys], [ts]]' for line in range(1, 24)])
    printed = capsys.readouterr().err
    assert 'a.ndjson:1: field "drawing" must be [[xs], [ys]] or [[xs], [ys], [ts]]' in printed
    assert "a.ndjson:20:" in printed and "a.ndjson:21:" not in printed and "... and 3 more" in printed


def test_domains_json_lists_the_test_domain():
    result = nep("domains", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["tags"]["collectors"] == ["logs", "synthetic"]
    assert payload["tags"]["verifiers"] == ["nesting"]
    from nep_core.plugins import get_domain

    tags = get_domain("tags")
    assert payload["tags"]["collector_descriptions"] == {name: tags.collectors[name].description for name in ("logs", "synthetic")}
    assert payload["tags"]["collector_descriptions"]["logs"].startswith("session logs")
    assert set(payload["tags"]["verifier_descriptions"]) == {"nesting"}


def test_domains_in_a_narrow_terminal_shows_every_field_whole():
    """A table cut the default data to `synthetic:6…` in 80 columns."""
    result = nep("domains", env={**os.environ, "COLUMNS": "60"})
    assert result.returncode == 0, result.stderr
    from nep_core.plugins import domains

    for name, domain in domains().items():
        assert f"{name}: {domain.description}\n" in result.stdout
        assert f"  collectors    {', '.join(sorted(domain.collectors))}\n" in result.stdout
        assert f"  default data  {domain.default_source or '-'}\n" in result.stdout
    assert "…" not in result.stdout


def test_a_bad_option_value_or_an_unknown_option_or_command_is_one_line_with_status_2(tmp_path):
    cases = [
        (("collect", "--domain", "tags", "--source", "synthetic:3", "--out", str(tmp_path / "d"), "--limit", "-1"),
         "error: Invalid value for '--limit': Input should be greater than or equal to 0 (see `nep collect --help`)"),
        (("train", "--domain", "tags", "--max-steps", "abc"), "error: Invalid value for '--max-steps': "),
        (("train", "--domain", "tags", "--nope"), "error: No such option: --nope (see `nep train --help`)"),
        (("train",), "error: Missing option '--domain' / '-d'. (see `nep train --help`)"),
        (("bogus",), "error: No such command 'bogus'. (see `nep --help`)"),
    ]
    for args, message in cases:
        result = nep(*args)
        lines = result.stderr.splitlines()
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith(message), (args, result.stderr)
    assert not (tmp_path / "d").exists()
    bare = nep()  # no command: the help, as before
    assert bare.returncode == 2 and "Usage: nep [OPTIONS] COMMAND" in bare.stdout + bare.stderr
    assert nep("--version").stdout.startswith("nep ") and nep("collect", "--help").returncode == 0


def test_a_source_that_gives_no_sessions_says_so_in_one_error_line(tmp_path):
    """It printed `wrote 0 sessions to OUT` about a folder it had just removed, and exit status 1."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "notes.jsonl").write_text("these are my notes\n")
    out = tmp_path / "out"
    result = nep("collect", "--domain", "tags", "--source", f"logs:{logs}", "--out", str(out))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"error: logs:{logs}: no sessions to write" in result.stderr.replace("\n", "") and "wrote" not in result.stdout
    assert not out.exists()


def test_a_collection_that_fails_part_way_leaves_no_files(tmp_path):
    assert nep("collect", "--domain", "tags", "--source", "synthetic:6", "--out", str(tmp_path / "first")).returncode == 0
    out = tmp_path / "joined"
    result = nep("collect", "--domain", "tags", "--source", f"{tmp_path / 'first'} + synthetic:3", "--out", str(out))
    assert result.returncode == 2 and "two sessions have the id" in result.stderr and "a collector run twice with one --seed" in result.stderr
    assert not out.exists()  # neither the six sessions written before the clash nor the folder made for them
    kept = tmp_path / "kept"
    kept.mkdir()
    again = nep("collect", "--domain", "tags", "--source", f"{tmp_path / 'first'} + synthetic:3", "--out", str(kept))
    assert again.returncode == 2 and list(kept.iterdir()) == []  # a folder the user made stays


def test_collecting_into_a_folder_it_reads_is_refused_so_no_skipped_line_is_lost(tmp_path):
    raw = tmp_path / "raw"
    assert nep("collect", "--domain", "tags", "--source", "synthetic:3", "--out", str(raw)).returncode == 0
    victim = sorted(raw.iterdir())[0]
    victim.write_text(victim.read_text() + "{a line the reader skips\n")
    kept = victim.read_bytes()
    env = {**os.environ, "NEP_HOME": str(tmp_path / "home")}
    for source, out, folder in ((f"logs:{raw}", raw, raw), (str(raw), raw / "sub", raw),
                                ("synthetic:3", tmp_path / "home" / "logs" / "tags", tmp_path / "home" / "logs")):
        result = nep("collect", "--domain", "tags", "--source", source, "--out", str(out), env=env)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"--out {out} is inside {folder}" in result.stderr.replace("\n", "")
    assert victim.read_bytes() == kept
    inside = nep("collect", "--domain", "code", "--source", "refactor:?sessions=1", "--out", "data-here", env=env, cwd=tmp_path)
    assert inside.returncode == 0, inside.stderr  # a source that names no folder reads none (not the current one)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "m.py").write_text("def f(a):\n    return a\n\n\ndef g(b):\n    return f(b)\n")
    code = nep("collect", "--domain", "code", "--source", f"refactor:{tmp_path / 'project'}?sessions=1", "--out",
               str(tmp_path / "project" / "data"), env=env)
    assert code.returncode == 0 and "wrote 1 session" in code.stdout, code.stderr  # code is read there, not logs


def test_a_file_system_that_refuses_a_write_or_a_file_as_nep_home_is_one_line(tmp_path):
    result = nep("eval", "--domain", "tags", "--model", "ngram", "--limit", "5", "--json", "/proc/nep-eval.json")
    assert result.returncode == 2 and result.stderr.strip() == "error: --json /proc/nep-eval.json: its folder /proc cannot be written: No such file or directory"
    too_long = tmp_path / ("x" * 300 + ".json")  # the folder can be written, the file cannot
    result = nep("eval", "--domain", "tags", "--model", "ngram", "--limit", "5", "--json", str(too_long))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].replace("\n", "") == f"error: {too_long}: File name too long"
    debug = nep("eval", "--domain", "tags", "--model", "ngram", "--limit", "5", "--json", str(too_long), env={**os.environ, "NEP_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr and debug.stderr.strip().endswith("File name too long")
    (tmp_path / "home").write_text("a file")
    result = nep("eval", "--domain", "tags", "--model", "ngram", env={**os.environ, "NEP_HOME": str(tmp_path / "home")})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"NEP_HOME={tmp_path / 'home'} is a file; point NEP_HOME at a folder" in result.stderr.replace("\n", "")


def test_a_killed_collections_staging_folder_is_not_read_as_data(tmp_path):
    assert nep("collect", "--domain", "tags", "--source", "synthetic:4", "--out", str(tmp_path / "data")).returncode == 0
    staged = tmp_path / "data" / ".nep-collect-k1ll3d"
    staged.mkdir()
    for path in sorted((tmp_path / "data").glob("*.jsonl"))[:2]:
        (staged / path.name).write_bytes(path.read_bytes())
    assert len(list(read_sessions(tmp_path / "data", domain="tags"))) == 4


def test_training_on_joined_sources_that_repeat_sessions_says_so(tmp_path):
    from nep_core.dataset import load_sessions
    from nep_core.plugins import get_domain

    assert nep("collect", "--domain", "tags", "--source", "synthetic:6", "--out", str(tmp_path / "first")).returncode == 0
    joined = f"{tmp_path / 'first'} + synthetic:3"  # the same collector with the same seed: three ids twice
    sessions, report = load_sessions(get_domain("tags"), joined)
    assert len(sessions) == 9 and len({session.id for session in sessions}) == 6
    assert report.warnings == [f"{joined}: 3 session id(s) come more than once from the joined sources "
                               f"(e.g. '{sessions[0].id}'); each copy is used, as `* 2` would"]
    copied, copied_report = load_sessions(get_domain("tags"), f"{tmp_path / 'first'} * 2")
    assert len(copied) == 12 and copied_report.warnings == []  # copies have ids of their own


def test_two_sessions_with_one_id_are_named_by_the_files_and_lines_they_came_from(tmp_path):
    """`error: two sessions have the id 'turtle-7-0000'` named neither file."""
    from nep_core.session import Session
    from nep_core.sessionlog import write_session

    first, second = tmp_path / "a" / "mine.jsonl", tmp_path / "b" / "theirs.jsonl"
    write_session(first, Session(id="same", domain="tags"))
    write_session(second, Session(id="same", domain="tags"))
    second.write_text("\n" + second.read_text())  # its header on line 2
    out = tmp_path / "out"
    for source in (f"logs:{tmp_path / 'a'} + logs:{tmp_path / 'b'}", f"logs:{tmp_path / 'a'} + logs:{tmp_path / 'b'} + synthetic:1"):
        result = nep("collect", "--domain", "tags", "--source", source, "--out", str(out))
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert (f"error: two sessions have the id 'same' or ids that make one file name, same.jsonl: the first read from {first}:1, "
                f"the second read from {second}:2; ") in result.stderr.replace("\n", ""), result.stderr
        assert not out.exists()
    made = nep("collect", "--domain", "tags", "--source", "synthetic:1 + synthetic:1", "--out", str(out))
    assert made.returncode == 2 and "the first made by a collector, the second made by a collector; " in made.stderr.replace("\n", "")


def test_a_folder_that_holds_session_logs_is_refused_unless_appending_and_replaced_ones_are_named(tmp_path):
    """`nep collect --out x2` into a folder of 5 logs printed `wrote 3 sessions` and left 8 there, same ids replaced, silently."""
    out = tmp_path / "x2"
    assert nep("collect", "--domain", "tags", "--source", "synthetic:5", "--out", str(out)).returncode == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    refused = nep("collect", "--domain", "tags", "--source", "synthetic:3", "--seed", "9", "--out", str(out))
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    named = re.fullmatch(rf"error: --out {re.escape(str(out))} already holds session logs \(such as (\S+)\); pass a new or "
                         r"empty folder, or --append to add these sessions to them \(one with the same id is replaced\)",
                         " ".join(refused.stderr.split()))
    assert named is not None and named.group(1) in before, refused.stderr
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    added = nep("collect", "--domain", "tags", "--source", "synthetic:3", "--seed", "9", "--out", str(out), "--append")
    assert added.returncode == 0 and "warning" not in added.stderr, added.stderr
    summary = added.stdout.replace(" \n", " ").splitlines()[0]  # the console folds long lines after a space
    assert summary.startswith(f"wrote 3 sessions to {out} in ") and summary.endswith(f"; {out} now holds 8"), added.stdout
    again = nep("collect", "--domain", "tags", "--source", "synthetic:2", "--out", str(out), "--append")
    assert again.returncode == 0 and again.stdout.replace(" \n", " ").splitlines()[0].endswith(f"; {out} now holds 8"), again.stderr
    assert again.stderr.replace("\n", "").strip() == (f"warning: 2 session log(s) already in {out} replaced by new ones with the same "
                                                       f"session id: {', '.join(sorted(before)[:2])}")


def test_appending_a_session_held_under_another_file_name_replaces_it(tmp_path):
    """With --append, a same-id log in a subfolder stayed beside the new one: a train on the folder then stopped on the duplicate id."""
    from nep_core.sessionlog import log_files, session_id_of

    out = tmp_path / "logs"
    assert nep("collect", "--domain", "tags", "--source", "synthetic:2", "--out", str(out / "old")).returncode == 0
    old = sorted(path.relative_to(out) for path in log_files(out))
    again = nep("collect", "--domain", "tags", "--source", "synthetic:2", "--out", str(out), "--append")
    assert again.returncode == 0, again.stderr
    assert again.stderr.replace("\n", "").strip() == (f"warning: 2 session log(s) already in {out} replaced by new ones with the same "
                                                        f"session id: {', '.join(map(str, old))}")
    now = log_files(out)
    assert [path.parent for path in now] == [out, out] and len({session_id_of(path) for path in now}) == 2
    assert nep("eval", "--domain", "tags", "--model", "repeat-last", "--data", str(out), "--split", "train").returncode == 0


def test_appending_never_deletes_a_session_it_has_just_written(tmp_path):
    """A file named for one session but holding another's: the second's new file was deleted as its 'old copy'."""
    from nep_core.sessionlog import log_files, session_id_of

    made = tmp_path / "made"
    assert nep("collect", "--domain", "tags", "--source", "synthetic:2", "--out", str(made)).returncode == 0
    first, second = log_files(made)
    out = tmp_path / "logs"
    out.mkdir()
    (out / first.name).write_bytes(second.read_bytes())  # named for the first session, holding the second
    again = nep("collect", "--domain", "tags", "--source", "synthetic:2", "--out", str(out), "--append")
    assert again.returncode == 0, again.stderr
    now = log_files(out)
    assert [path.name for path in now] == [first.name, second.name]
    assert [session_id_of(path) for path in now] == [session_id_of(first), session_id_of(second)]
    assert f"1 session log(s) already in {out} replaced by new ones with the same session id: {first.name}" in " ".join(again.stderr.split())
