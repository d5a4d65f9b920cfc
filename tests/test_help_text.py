"""Help text: prose paragraphs flow to the terminal's width, hand-laid-out ones keep their lines."""

import pytest
from typer.testing import CliRunner

from nep_core.cli.help_text import reflow
from nep_core.cli.main import app


def test_prose_paragraphs_are_joined_and_laid_out_ones_kept():
    text = """First line
    of the summary.

    A paragraph written
    over three
    lines.

    Examples:

      nep train --domain code
      nep eval --domain code

    - a list item
    - another

    1. first
    2. second

    --out DIR    where
    --seed N     which

    nep domains
    nep plugins
    """
    assert reflow(text).split("\n\n") == [
        "First line of the summary.",
        "A paragraph written over three lines.",
        "Examples:",
        "  nep train --domain code\n  nep eval --domain code",
        "- a list item\n- another",
        "1. first\n2. second",
        "--out DIR    where\n--seed N     which",
        "nep domains\nnep plugins",
    ]
    assert reflow(None) is None and reflow("") == ""


@pytest.fixture(autouse=True)
def eighty_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # Rich reads the width from here, not from CliRunner's terminal_width


def help_paragraphs(arguments: list[str], start: str, end: str, cli=app) -> list[list[str]]:
    """The paragraphs of ``ARGUMENTS --help`` in an 80-column terminal between ``start`` and ``end``, as stripped lines."""
    result = CliRunner().invoke(cli, [*arguments, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    paragraphs = [[]]
    for line in result.output.split(start, 1)[1].split(end, 1)[0].splitlines():
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return [lines for lines in paragraphs if lines]


def full_but_last(paragraphs: list[list[str]]) -> bool:
    """Every line but each paragraph's last fills most of the 80 columns: no line ends where the docstring's did."""
    return all(len(line) > 60 for lines in paragraphs for line in lines[:-1])


def test_help_in_an_80_column_terminal_has_no_ragged_lines():
    paragraphs = help_paragraphs(["train"], "Usage: nep train [OPTIONS]", "Examples:")
    assert len(paragraphs) == 2 and full_but_last(paragraphs)
    # the docstring's own line breaks (written at 100 columns) used to end lines after "(config.json," and "logs/ and"
    assert "(config.json, model.safetensors, tokenizer.json, nep.json)" in " ".join(paragraphs[1])
    result = CliRunner().invoke(app, ["train", "--help"], terminal_width=80)
    assert "\n   nep train --domain blender --max-steps 500" in result.output  # examples keep their indent


def test_a_domain_tools_help_is_reflowed_too():
    from nep_krita.cli import app as krita_tools  # made with nep_core.cli.subapp.tools_app, as every domain's

    paragraphs = help_paragraphs(["plugin"], "Example: nep krita plugin --out dist", "Options", cli=krita_tools)
    assert paragraphs[0][0].startswith("Install it in Krita") and full_but_last(paragraphs)


def commands(group, path=()):
    """``(arguments, command)`` for every command and group under ``group``, ``group`` itself first."""
    yield list(path), group
    for name, command in getattr(group, "commands", {}).items():  # a group (Typer has its own copy of Click's classes)
            yield from commands(command, (*path, name))


def shown(name: str, lines: list[str]) -> bool:
    """Whether ``name`` is printed whole, or folded: a cell ends with its start and the lines below go on at that column."""

    def goes_on(rest: str, row: int, column: int) -> bool:
        line = lines[row] if row < len(lines) else ""
        if line[column:column + len(rest)] == rest:
            return line[column + len(rest):column + len(rest) + 1] in ("", " ", ",", "│")  # not the start of a longer name
        cut = len(line[column:].split(" ", 1)[0])  # the part of the cell on this line
        return 0 < cut < len(rest) and line[column:column + cut] == rest[:cut] and goes_on(rest[cut:], row + 1, column)

    return any(goes_on(name, row, column) for row, line in enumerate(lines) for column in range(len(line))
               if line.startswith(name[:2], column) and (column == 0 or line[column - 1] == " "))


@pytest.mark.parametrize("tools", [False, True], ids=["nep", "domain-tools"])
def test_option_tables_in_an_80_column_terminal_show_every_name_and_word_in_full_and_leave_the_help_room(tools):
    import typer

    from nep_core.cli.help_text import NepTyper
    from nep_core.plugins import add_plugin_commands

    cli = app
    if tools:  # every installed domain's tool group, as `nep` adds them when it starts
        cli = NepTyper()
        add_plugin_commands(cli)
    listed = list(commands(typer.main.get_command(cli)))
    assert len(listed) >= (10 if tools else 9)
    for arguments, command in listed:
        result = CliRunner().invoke(cli, [*arguments, "--help"], terminal_width=80)
        assert result.exit_code == 0, (arguments, result.output)
        assert "…" not in result.output, (arguments, result.output)  # Rich's ellipsis: a name or word cut off
        if type(command).__module__.startswith("nep_core.cli."):  # NEP's commands (`nep` itself: main's), not a third party's plain Typer app
            assert "<bool>" not in result.output and "list[" not in result.output, (arguments, result.output)  # a flag takes no value
        expected = {name for param in command.params for name in (*param.opts, *param.secondary_opts) if name.startswith("--")}
        lines = result.output.splitlines()
        assert all(shown(name, lines) for name in expected), (arguments, [name for name in expected if not shown(name, lines)])
        help_row = next(line for line in lines if "--help" in line and "Show this" in line)
        assert len(help_row) - help_row.index("Show this") >= 30, (arguments, result.output)  # the help text's column
