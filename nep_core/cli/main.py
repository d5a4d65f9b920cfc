"""``nep``: train, evaluate and serve next-edit prediction models for any installed domain."""

from __future__ import annotations

import os
import sys
import traceback
import warnings

import typer
from rich.markup import escape

from nep_core import __version__
from nep_core.cli import collect, domains, evaluate, plugins, predict, rl, serve, train
from nep_core.cli.common import err_console
from nep_core.cli.help_text import NepTyper, ReflowedGroup
from nep_core.errors import NepError


class Interrupted(Exception):
    """A Ctrl-C during a command that the command did not answer itself (``nep train`` says where it stopped)."""


class RootGroup(ReflowedGroup):
    """``nep`` itself. Typer (0.26 and later) ends a ``KeyboardInterrupt`` as a silent ``Exit(130)`` before
    ``main`` sees it; here it becomes ``Interrupted``, which ``main`` reports as ``interrupted``."""

    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted() from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None


app = NepTyper(
    name="nep",
    help=(
        "NEP: next edit prediction. Suggests a user's next action (or nothing) from their recent actions.\n\n"
        "Typical flow: `nep domains` to see what is installed, `nep train --domain D` to train on the "
        "domain's embedded default data, `nep eval --domain D --model runs/D --baselines` to compare "
        "against baselines, `nep serve --domain D --model runs/D` for the apps."
    ),
    cls=RootGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command("domains")(domains.command)
app.command("plugins")(plugins.command)
app.command("collect")(collect.command)
app.command("train")(train.command)
app.command("rl")(rl.command)
app.command("eval")(evaluate.command)
app.command("predict")(predict.command)
app.command("serve")(serve.command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"nep {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """NEP command line."""


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    err_console.print(f"[yellow]warning:[/yellow] {message}", markup=True, soft_wrap=True)


def os_error_line(error: OSError) -> str:
    """``PATH: reason`` (``/mnt/ro/run: Read-only file system``) for an error the file system gave."""
    from nep_core.errors import first_line

    reason = error.strerror or first_line(error) or type(error).__name__
    return f"{error.filename}: {reason}" if error.filename is not None else reason


def _exit_if_a_plugin_failed(error: BaseException) -> None:
    """When a plugin's code raised ``error`` (its action space, encoder, collector, command...), one line
    that names the plugin and the method, and status 1; the traceback too with NEP_DEBUG or NEP_TRACE_PLUGINS."""
    from nep_core.plugins import plugin_failure

    message = plugin_failure(error)
    if message is None:
        return
    if os.environ.get("NEP_DEBUG") or os.environ.get("NEP_TRACE_PLUGINS"):
        traceback.print_exception(error)
    err_console.print(f"[red]error:[/red] {escape(message)}", markup=True, soft_wrap=True, highlight=False)
    sys.exit(1)


def main() -> None:
    warnings.showwarning = _show_warning
    warnings.filterwarnings("ignore", module="lightning")
    from nep_core.plugins import add_plugin_commands

    try:
        add_plugin_commands(app)
        status = app(prog_name="nep", standalone_mode=False)  # a usage error reaches the handler below, not Rich's box
    except NepError as error:
        err_console.print(f"[red]error:[/red] {escape(str(error))}", markup=True, soft_wrap=True, highlight=False)
        sys.exit(error.exit_code)
    except (KeyboardInterrupt, Interrupted):  # while plugins load, or during a command
        err_console.print("interrupted")
        sys.exit(130)
    except SystemExit as error:  # sys.exit in a plugin's code must not end a command as if it had succeeded
        _exit_if_a_plugin_failed(error)
        raise
    except OSError as error:  # a folder that cannot be written, a full disk: the machine's, not NEP's
        if os.environ.get("NEP_DEBUG"):  # a bug can raise one too: its traceback on request
            traceback.print_exc()
        err_console.print(f"[red]error:[/red] {escape(os_error_line(error))}", markup=True, soft_wrap=True, highlight=False)
        sys.exit(1)
    except Exception as error:
        kinds = {cls.__name__ for cls in type(error).__mro__}  # click's classes, vendored by newer Typers
        if "NoArgsIsHelpError" in kinds:
            error.show()
        elif "ClickException" in kinds:  # a bad option value, an unknown option or command
            where = getattr(getattr(error, "ctx", None), "command_path", None)
            hint = f" (see `{where} --help`)" if "UsageError" in kinds and where else ""
            err_console.print(f"[red]error:[/red] {escape(error.format_message() + hint)}", markup=True, soft_wrap=True, highlight=False)
        elif "Abort" in kinds:
            err_console.print("aborted")
        else:
            _exit_if_a_plugin_failed(error)
            raise  # a bug of NEP's own: its traceback
        sys.exit(getattr(error, "exit_code", 1))
    if isinstance(status, int) and not isinstance(status, bool):  # typer.Exit(code), and Ctrl-C (130)
        sys.exit(status)


if __name__ == "__main__":
    main()
