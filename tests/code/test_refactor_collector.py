"""The `refactor` collector: one refactoring applied site by site, the file parsing after every edit."""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections import Counter
from pathlib import Path

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_core.plugins import get_domain
from nep_code.collectors.refactor import RefactorCollector
from nep_code.collectors.refactorings import KINDS
from nep_code.collectors.pycorpus import stdlib_root
from nep_code.edits import LineEdit, Workspace

GOOD = '''"""A module."""
import os


def walk(root, pattern):
    total = 0
    for folder, _, files in os.walk(root):
        if folder.startswith('.'):
            continue
        total += count(files, pattern)
        print('folder', folder)
    return total


def count(files, pattern):
    matched = [name for name in files if name.endswith(pattern)]
    return len(matched)


def report(root):
    print('python', count(os.listdir(root), '.py'))
    print('text', count(os.listdir(root), '.txt'))
    return walk(root, '.py')


class Counter:
    """Counts."""

    def __init__(self, start):
        self.value = start
        self.steps = []

    def add(self, amount):
        self.value += amount
        self.steps.append(amount)
        return self.value

    def twice(self, amount):
        self.add(amount)
        self.add(amount)
        return self.steps
'''


def collect(argument: str, seed: int = 0) -> tuple[list, CollectReport]:
    report = CollectReport()
    return list(RefactorCollector(None).collect(argument, report, seed=seed)), report


def replay_parses(session) -> Workspace:
    """Replay with ``Workspace``, checking that the file parses after every edit; the final workspace."""
    events = session.events
    for end in range(1, len(events) + 1):
        workspace = Workspace.from_events(events[:end])
        for path in workspace.files:
            ast.parse(workspace.text(path), filename=path)
    return Workspace.from_events(events)


def names(text: str) -> list[tuple[int, str]]:
    return [(token.type, token.string) for token in tokenize.generate_tokens(io.StringIO(text).readline)]


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "good.py").write_text(GOOD)
    return tmp_path


def test_default_corpus_sessions_parse_after_every_edit_and_encode() -> None:
    sessions, report = collect("?sessions=30")
    assert len(sessions) == 30 and report.counts["sessions"] == 30
    space = get_domain("code").action_space
    for session in sessions:
        assert session.domain == "code" and session.meta["source"] == "refactor"
        assert session.meta["source_id"] == f"stdlib/{session.meta['file']}"
        first = session.events[0]
        (path,) = first.state["files"]
        assert first.action is None and first.state["cursor"]["file"] == path
        actions = session.actions()
        assert len(actions) >= 2
        assert first.state["cursor"]["line"] == actions[0].target["line"]
        for action in actions:
            space.validate(action)
            assert space.encode(action)
            edit = LineEdit.from_action(action)
            assert edit.delete == 1 and len(edit.inserted_lines) == 1
        times = [event.t for event in session.events]
        assert times == sorted(times)
        final = replay_parses(session).text(path)
        assert final != first.state["files"][path]
        source = (stdlib_root() / path).read_text(encoding="utf-8").splitlines(keepends=True)
        assert set(first.state["files"][path].splitlines(keepends=True)) <= set(source)  # a window of the real file


def test_every_kind_appears_and_chained_refactorings_follow_a_long_pause() -> None:
    sessions, report = collect("?sessions=150&chain=0.5")
    kinds = Counter(kind for session in sessions for kind in session.meta["refactorings"])
    assert set(kinds) == set(KINDS)
    assert all(report.counts[f"refactorings: {kind}"] == kinds[kind] for kind in KINDS)
    pause = get_domain("code").examples.pause_seconds
    chained = [session for session in sessions if len(session.meta["refactorings"]) == 2]
    assert chained
    for session in sessions:
        gaps = [b.t - a.t for a, b in zip(session.events[1:], session.events[2:])]
        assert sum(gap > pause for gap in gaps) == len(session.meta["refactorings"]) - 1 - session.meta["interleaved"]
        assert all(gap > 0 for gap in gaps)


def test_a_refactoring_that_still_works_unfinished_may_stop_before_its_last_site() -> None:
    full, _ = collect("?sessions=30&per_file=1&chain=0&interleave=0&stop_early=0&kinds=keywords,quotes,parameter")
    stopped, _ = collect("?sessions=30&per_file=1&chain=0&interleave=0&stop_early=1&kinds=keywords,quotes,parameter")
    assert [session.meta["source_id"] for session in full] == [session.meta["source_id"] for session in stopped]
    cut = 0
    for whole, part in zip(full, stopped):
        edits, kept = whole.actions(), part.actions()
        assert kept == edits[: len(kept)]  # the same refactoring, its first sites
        if len(edits) >= 3:
            assert 2 <= len(kept) < len(edits)
            cut += 1
        else:
            assert kept == edits
        replay_parses(part)
    assert cut > 0
    renames, _ = collect("?sessions=10&per_file=1&chain=0&stop_early=1&kinds=rename")
    assert renames == collect("?sessions=10&per_file=1&chain=0&stop_early=0&kinds=rename")[0]  # a rename is never left half done


def test_two_refactorings_of_different_lines_may_be_made_in_turn_top_to_bottom() -> None:
    sessions, _ = collect("?sessions=30&per_file=1&chain=0&interleave=1")
    in_turn = [session for session in sessions if session.meta["interleaved"]]
    assert len(in_turn) >= 10
    pause = get_domain("code").examples.pause_seconds
    for session in in_turn:
        assert len(session.meta["refactorings"]) == 2
        lines = [action.target["line"] for action in session.actions()]
        assert lines == sorted(lines) and len(set(lines)) == len(lines)  # each line once, top to bottom
        assert all(b.t - a.t <= pause for a, b in zip(session.events[1:], session.events[2:]))  # one stretch of work
        replay_parses(session)
    encoder = get_domain("code").encoder  # somewhere the next edit continues the change before the newest
    from nep_core.examples import make_examples
    older = 0
    for session in in_turn:
        for example in make_examples(session, get_domain("code")):
            view = encoder.layout(example.context).view
            if not example.target.is_no_edit and len(view.repeats) > 1:
                line = example.target.target["line"] - view.region_start
                older += 0 <= line < len(view.region_text) and view.repeat_for(view.region_text[line]) != view.repeats[0] \
                    and view.again_text(line) == example.target.args["insert"]
    assert older > 0
    plain, _ = collect("?sessions=10&per_file=1&interleave=0")
    assert not any(session.meta["interleaved"] for session in plain)


def test_a_rename_changes_exactly_the_occurrences_of_one_name() -> None:
    sessions, _ = collect("?sessions=40&kinds=rename&chain=0&interleave=0")
    assert len(sessions) == 40
    for session in sessions:
        (path,) = session.events[0].state["files"]
        before = session.events[0].state["files"][path]
        after = replay_parses(session).text(path)
        old, new = names(before), names(after)
        assert len(old) == len(new)
        changed = {(a, b) for a, b in zip(old, new) if a != b}
        assert len(changed) == 1
        ((kind_a, name_a), (kind_b, name_b)), = changed
        assert kind_a == kind_b == tokenize.NAME and name_a != name_b
        assert name_b not in {string for _, string in old}
        for action in session.actions():  # every edit writes the new name
            assert re.search(rf"\b{name_b}\b", action.args["insert"])


def test_each_kind_in_a_small_corpus(corpus: Path) -> None:
    for kind in KINDS:
        sessions, report = collect(f"{corpus}?sessions=3&kinds={kind}&chain=0&interleave=0")
        assert sessions, kind
        for session in sessions:
            assert session.meta["refactorings"] == [kind]
            before = session.events[0].state["files"]["good.py"]
            after = replay_parses(session).text("good.py")
            old, new = names(before), names(after)
            changed = {(a, b) for a, b in zip(old, new) if a != b}
            if kind == "parameter":
                assert len(new) - len(old) >= 3 * len(session.actions())  # ", name=value" at the def and each call
                assert session.actions()[0].args["insert"].lstrip().startswith("def ")
            elif kind == "keywords":
                assert len(new) > len(old) and (len(new) - len(old)) % 2 == 0  # "name=" before positional arguments
                keywords = lambda text: sum(len(node.keywords) for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Call))
                assert keywords(after) - keywords(before) == (len(new) - len(old)) // 2
            elif kind == "quotes":
                assert [t for t, _ in old] == [t for t, _ in new]
                assert ast.dump(ast.parse(before)) == ast.dump(ast.parse(after))
            else:  # rename, attribute: one name for another
                assert len(old) == len(new) and len(changed) == 1


def test_sessions_depend_only_on_the_seed(corpus: Path) -> None:
    as_json = lambda sessions: json.dumps([[event.to_json() for event in session.events] for session in sessions])
    first, second, other = collect("?sessions=8")[0], collect("?sessions=8")[0], collect("?sessions=8", seed=1)[0]
    assert as_json(first) == as_json(second) != as_json(other)
    local = collect(f"{corpus}?sessions=6")[0]
    assert as_json(local) == as_json(collect(f"{corpus}?sessions=6")[0])
    assert len({as_json([session]) for session in local}) == len(local)


def test_bad_files_are_counted_and_skipped(corpus: Path) -> None:
    (corpus / "broken.py").write_text("def f(:\n    pass\n")
    (corpus / "latin.py").write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    (corpus / "plain.py").write_text("import os\nprint(os.sep)\n")
    sessions, report = collect(f"{corpus}?sessions=6&per_file=3")
    assert len(sessions) == 6 and {session.meta["file"] for session in sessions} == {"good.py"}
    assert report.counts["files that do not parse (skipped)"] == 1
    assert report.counts["non-UTF-8 files (skipped)"] == 1
    assert report.counts["files without a refactoring candidate (skipped)"] == 1
    assert any(warning.startswith(f"{corpus / 'broken.py'}:1: does not parse") for warning in report.warnings)
    for session in sessions:
        replay_parses(session)


def test_registered_in_the_code_domain_and_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    assert isinstance(get_domain("code").collectors["refactor"], RefactorCollector)
    with pytest.raises(NepError, match="not a Python file"):
        collect(str(tmp_path / "missing"))
    with pytest.raises(NepError, match="unknown option 'count'"):
        collect("?count=3")
    with pytest.raises(NepError, match="min_sites"):
        collect("?min_sites=5&max_sites=2")
    with pytest.raises(NepError, match="stop_early is a chance, between 0 and 1"):
        collect("?stop_early=2")
    with pytest.raises(NepError, match="interleave is a chance, between 0 and 1"):
        collect("?interleave=-0.5")
    with pytest.raises(NepError, match="unknown kind 'move'"):
        collect("?kinds=rename,move")
    with pytest.raises(NepError, match="no .py files"):
        collect(str(tmp_path))


def test_joined_sources_collected_side_by_side_match_one_after_another() -> None:
    from nep_core.dataset import _collect_side_by_side, collect, split_sources

    def as_json(session):
        return session.header(), [event.to_json() for event in session.events]

    domain = get_domain("code")
    source = "refactor:?sessions=12 + lintseq:?sessions=6 + rename:?sessions=4"
    in_turn, side_by_side = CollectReport(), CollectReport()
    one_after_another = list(collect(domain, source, in_turn, seed=3, workers=1))
    together = list(_collect_side_by_side(domain, split_sources(source), side_by_side, 3, workers=2))
    assert [session.meta["source"] for session in together][:1] == ["refactor"] and len(together) == 22
    assert [as_json(s) for s in together] == [as_json(s) for s in one_after_another]
    assert side_by_side.counts == in_turn.counts and side_by_side.counts["sessions"] == 22
