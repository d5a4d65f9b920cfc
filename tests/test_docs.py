"""Meta-tests, as in datasette: the docs cannot drift from the code.

Every hook is documented and tested, the plugin tutorial shows exactly the files of
docs/example-plugin, every `nep` command and option is in docs/cli.md, and links resolve.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from nep_core import hookspecs

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
EXAMPLE = DOCS / "example-plugin"
WRITING_PLUGINS = DOCS / "writing-plugins.md"

HOOKS = sorted(name for name, function in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(function, "nep_spec"))
FENCE = re.compile(r"^```([\w-]*)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def code_blocks(markdown: str) -> list[tuple[str, str, str]]:
    """(language, info after the language, body) of every fenced block."""
    return FENCE.findall(markdown)


def section(markdown: str, heading: str) -> str:
    """The text under ``heading`` up to the next heading of the same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    match = re.search(rf"^{re.escape(heading)}[ \t]*$", markdown, re.M)
    assert match, f"heading {heading!r} is missing"
    rest = markdown[match.end():]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def test_there_are_hooks():
    assert set(HOOKS) >= {"register_domains", "register_collectors", "register_verifiers", "register_commands"}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_one_line_docstring(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and "\n" not in doc.strip()


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook):
    hooks_section = section(WRITING_PLUGINS.read_text(), "## Plugin hooks")
    parameters = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    assert re.search(rf"^### {hook}\({re.escape(parameters)}\)[ \t]*$", hooks_section, re.M), (
        f"docs/writing-plugins.md needs a '### {hook}({parameters})' heading under '## Plugin hooks'"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_tested(hook):
    implementations = [
        path.name
        for path in (REPO / "tests").glob("test_*.py")
        if path.name != Path(__file__).name and re.search(rf"\bdef {hook}\(", path.read_text())
    ]
    assert implementations, f"no test in tests/ implements the {hook} hook"


def example_files() -> list[str]:
    ignored = {"__pycache__", "build", "dist"}
    return sorted(
        str(path.relative_to(EXAMPLE))
        for path in EXAMPLE.rglob("*")
        if path.is_file()
        and not any(part in ignored or part.startswith(".") or part.endswith(".egg-info") for part in path.relative_to(EXAMPLE).parts)
    )


def titled_blocks() -> dict[str, list[str]]:
    """Code blocks of the tutorial by their ``title="FILE"``, in order."""
    blocks: dict[str, list[str]] = {}
    for _language, info, body in code_blocks(WRITING_PLUGINS.read_text()):
        title = re.search(r'title="([^"]+)"', info)
        if title:
            blocks.setdefault(title.group(1), []).append(body)
    return blocks


def test_the_example_plugin_has_its_files():
    assert {"pyproject.toml", "nep_turtle.py"} <= set(example_files())


@pytest.mark.parametrize("name", example_files())
def test_the_tutorial_shows_each_example_file_exactly(name):
    """The blocks titled FILE, joined by two blank lines, are the file: the tutorial cannot drift from the code."""
    blocks = titled_blocks().get(name)
    assert blocks, f'docs/writing-plugins.md shows no block titled "{name}"'
    shown = "\n\n\n".join(block.strip("\n") for block in blocks) + "\n"
    assert shown == (EXAMPLE / name).read_text(), f"the tutorial's {name} differs from docs/example-plugin/{name}"


def test_every_titled_block_is_a_real_file():
    assert set(titled_blocks()) <= set(example_files())


def test_the_example_entry_point_is_in_group_nep():
    import tomllib

    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    assert project["entry-points"]["nep"] == {"turtle": "nep_turtle"}


def cli_commands():
    import typer.main

    from nep_core.cli.main import app

    return typer.main.get_command(app).commands


@pytest.mark.parametrize("name", sorted(cli_commands()))
def test_every_command_and_option_is_in_the_cli_reference(name):
    text = section((DOCS / "cli.md").read_text(), f"## nep {name}")
    command = cli_commands()[name]
    for parameter in command.params:
        for option in parameter.opts:
            if option.startswith("--") and option != "--help":
                assert re.search(rf"{re.escape(option)}\b", text), f"docs/cli.md: `nep {name}` does not document {option}"
        longest = max(parameter.opts, key=len)
        rows = [line for line in text.splitlines() if line.startswith(f"| `{longest}`")]
        default = parameter.default
        if rows and isinstance(default, (int, float, str)) and not isinstance(default, bool):
            assert f"| `{default}` |" in rows[0], f"docs/cli.md: `nep {name} {longest}` defaults to {default!r}"


def test_the_session_log_doc_names_every_record_field():
    text = (DOCS / "session-log.md").read_text()
    for field in ('"nep"', '"domain"', '"session"', '"created"', '"meta"', '"t"', '"action"', '"state"', '"feedback"', '"recovered"'):
        assert field in text, f"docs/session-log.md does not mention {field}"


@pytest.mark.parametrize("page", sorted(path.name for path in DOCS.glob("*.md")))
def test_relative_links_resolve(page):
    text = re.sub(r"`[^`\n]*`", "", FENCE.sub("", (DOCS / page).read_text()))  # links, not code
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (DOCS / target).exists(), f"docs/{page} links to {target}, which does not exist"


@pytest.mark.parametrize("page", sorted(path.name for path in DOCS.glob("*.md")))
def test_python_examples_compile(page):
    for number, (language, _info, body) in enumerate(code_blocks((DOCS / page).read_text()), start=1):
        if language == "python":
            compile(body, f"docs/{page}, code block {number}", "exec")


def documented_command_lines() -> list[tuple[str, str]]:
    """(page, command line) of every `nep ...` line in the README and docs: shell blocks (continuations joined) and inline code."""
    lines = []
    for page in [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]:
        text = page.read_text()
        for language, _info, body in code_blocks(text):
            if language in ("", "bash", "sh", "shell", "console"):
                for line in body.replace("\\\n", " ").splitlines():
                    for part in re.split(r"&&|\|\||[|;]", line.split(" #")[0]):
                        part = part.strip().removeprefix("$ ").strip()
                        if part.startswith("nep "):
                            lines.append((page.relative_to(REPO).as_posix(), part))
        lines += [(page.relative_to(REPO).as_posix(), inline) for inline in re.findall(r"`(nep [^`\n]+)`", text)]
    return lines


WRITTEN_IN_THE_TUTORIAL = {"kinds"}
"""Commands that docs/writing-plugins.md shows a plugin author how to add (they exist once written)."""


def test_every_documented_command_line_names_real_commands_and_options():
    import shlex

    import typer.main

    from nep_core.cli.main import app
    from nep_core.plugins import add_plugin_commands

    add_plugin_commands(app)
    root = typer.main.get_command(app)
    wrong = []
    lines = documented_command_lines()
    assert len(lines) > 200
    for page, line in lines:
        try:
            words = shlex.split(line)[1:]
        except ValueError:  # an unclosed quote in prose
            continue
        command, path = root, ["nep"]
        while hasattr(command, "commands") and words and words[0] in command.commands:
            command = command.commands[words[0]]
            path.append(words.pop(0))
        if hasattr(command, "commands"):
            if words and re.fullmatch(r"[a-z][a-z-]+", words[0]) and words[0] not in WRITTEN_IN_THE_TUTORIAL:
                wrong.append(f"{page}: `{line}`: {' '.join(path)} has no command {words[0]}")
            continue
        options = {name for parameter in command.params for name in (*parameter.opts, *parameter.secondary_opts)} | {"--help"}
        wrong += [f"{page}: `{line}`: {' '.join(path)} has no option {word.split('=')[0]}"
                  for word in words if word.startswith("--") and word.split("=")[0] not in options]
    assert not wrong, "\n".join(wrong)
