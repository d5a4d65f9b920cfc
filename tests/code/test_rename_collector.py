"""The `rename` collector: a module-level name renamed in its module, then in each module that imports it."""

from __future__ import annotations

import ast

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_code.collectors.rename import RenameCollector, module_name
from nep_code.edits import LineEdit, Workspace
from nep_code.substitution import still_has

PACKAGE = {
    "pkg/__init__.py": '"""The package."""\nfrom .core import Parser\n\n__all__ = ["Parser"]\n',
    "pkg/core.py": (
        '"""Parser and parse."""\n\n\nclass Parser:\n    """A Parser."""\n\n    def feed(self, text):\n        return text\n\n\n'
        'def parse(text):\n    return Parser().feed(text)\n\n\nDEFAULT = Parser()\n'
    ),
    "pkg/web.py": "import os\nfrom pkg.core import Parser, parse\n\n\ndef page(text):\n    return parse(text) or Parser()\n",
    "pkg/sub/cli.py": "from ..core import parse\n\n\ndef main(argv):\n    return [parse(arg) for arg in argv]\n",
    "pkg/odd.py": "from .core import parse\n\n\ndef run(parse=None):\n    return parse\n",  # a parameter: not renamed
    "pkg/broken.py": "def (:\n",
}


@pytest.fixture()
def package(tmp_path):
    for name, text in PACKAGE.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def collect(argument, seed=0):
    report = CollectReport()
    return list(RenameCollector().collect(argument, report, seed=seed)), report


def test_each_session_renames_the_name_in_its_module_then_file_by_file_in_the_importers(package):
    sessions, report = collect(f"{package}?sessions=12", seed=3)
    assert len(sessions) == 12 and report.counts["sessions"] == 12
    assert report.counts["files that do not parse (skipped)"] == 1
    renamed = set()
    for session in sessions:
        state, edits = session.events[0].state, [event.action for event in session.events[1:]]
        files = state["files"]
        assert len(files) >= 2 and "pkg/odd.py" not in files
        workspace = Workspace()
        workspace.apply_state(state)
        old, new = session.meta["refactorings"][0].removeprefix("rename ").split(" -> ")
        renamed.add(old)
        assert new.isidentifier() and new != old
        visited = []
        for action in edits:
            edit = LineEdit.from_action(action)
            assert edit.delete == 1 and edit.insert.count("\n") == 1
            before = workspace.files[edit.file][edit.line - 1]
            assert still_has(before, old, new) and not still_has(edit.insert, old, new)
            workspace.apply_edit(edit)
            ast.parse("".join(workspace.files[edit.file]))
            if not visited or visited[-1] != edit.file:
                assert edit.file not in visited  # one file after the other
                visited.append(edit.file)
        for name, lines in workspace.files.items():
            assert not any(still_has(line, old, new) for line in lines), name  # every occurrence, docstrings too
        if "pkg/core.py" in files:
            first = LineEdit.from_action(edits[0])
            assert first.file == "pkg/core.py" and first.insert.startswith(("class ", "def "))
        assert [event.t for event in session.events] == sorted(event.t for event in session.events)
    assert renamed == {"Parser", "parse"}


def test_without_the_definition_a_session_starts_at_the_first_importer(package):
    sessions, _ = collect(f"{package}?sessions=12&no_definition=1")
    without = [session for session in sessions if "pkg/core.py" not in session.events[0].state["files"]]
    assert without
    for session in sessions:
        files = session.events[0].state["files"]
        assert len(files) >= 2  # a lone importer keeps its module
        if session in without:
            assert " import " in LineEdit.from_action(session.events[1].action).insert
        else:
            assert len(files) == 2


def test_relative_imports_resolve_to_their_module():
    from nep_code.collectors.rename import _resolved

    node = ast.parse("from ..core import parse").body[0]
    assert _resolved("pkg/sub/cli.py", node) == "pkg.core"
    assert _resolved("pkg/__init__.py", ast.parse("from .core import Parser").body[0]) == "pkg.core"
    assert _resolved("pkg/a.py", ast.parse("from ....x import y").body[0]) is None
    assert module_name("pkg/sub/__init__.py") == "pkg.sub"


def test_bad_input_is_reported_not_raised(tmp_path):
    with pytest.raises(NepError, match="rename: '.*nowhere' is not"):
        collect(str(tmp_path / "nowhere"))
    (tmp_path / "alone.py").write_text("def f():\n    return 1\n")
    sessions, report = collect(str(tmp_path))
    assert sessions == [] and "no module" in report.warnings[0]
    with pytest.raises(NepError, match="max_importers"):
        collect(f"{tmp_path}?max_importers=0")


def test_the_code_domain_lists_the_collector_and_its_default_data_uses_it():
    from nep_core.plugins import get_domain

    domain = get_domain("code")
    assert "rename" in domain.collectors
    assert "rename:" in domain.default_source
