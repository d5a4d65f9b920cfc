"""``nep code nvim``: install the NEP Neovim plugin (a folder of Lua), or print where it is and how to load it."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from nep_core.output_folders import make_output_folder
from nep_core.cli.subapp import tools_app
from nep_core.errors import NepError

NVIM_PLUGIN = Path(__file__).resolve().parent / "editor" / "nvim"
PLUGIN_NAME = "nep.nvim"

app = tools_app("code", "Code domain tools: the Neovim plugin that records edits and shows suggestions.")


@app.callback()
def code_commands() -> None:
    """Code domain tools: the Neovim plugin that records edits and shows suggestions."""


def plugin_files(source: Path = NVIM_PLUGIN) -> list[Path]:
    """The plugin's files, relative to its folder: Lua modules, the plugin script and the help file."""
    files = sorted(path.relative_to(source) for path in source.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    if Path("lua/nep/init.lua") not in files:
        raise NepError(f"{source}: not the NEP Neovim plugin (lua/nep/init.lua is missing)")
    return files


def install_plugin(out: Path, source: Path = NVIM_PLUGIN) -> Path:
    """Copy the plugin to ``<out>/nep.nvim`` (replacing an older copy) and return that folder."""
    target = out / PLUGIN_NAME
    if target.exists() and not (target / "lua" / "nep").is_dir():
        raise NepError(f"{target}: exists and is not a NEP plugin folder; choose another --out")
    files = plugin_files(source)
    temporary = out / f".{PLUGIN_NAME}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    for relative in files:
        (temporary / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, temporary / relative)
    older = out / f".{PLUGIN_NAME}.old"
    shutil.rmtree(older, ignore_errors=True)
    if target.exists():
        target.rename(older)  # kept until the new copy is in place: a crash leaves one of the two installed
    temporary.rename(target)
    shutil.rmtree(older, ignore_errors=True)
    return target


def in_package_start_folder(folder: Path) -> bool:
    """Whether ``folder`` is a plugin of a package's ``start`` folder (``.../pack/NAME/start/PLUGIN``):
    Neovim loads it at startup when the folder above ``pack`` is in 'packpath'."""
    parts = folder.parts
    return len(parts) >= 4 and parts[-2] == "start" and parts[-4] == "pack"


def loading_lines(folder: Path) -> list[str]:
    """How to load the plugin from ``folder``: init.lua, init.vim, lazy.nvim and packpath."""
    if in_package_start_folder(folder):
        site = folder.parent.parent.parent.parent
        packpath = (f"packpath:   {folder} is in a package start folder: Neovim loads it at startup when {site} is in"
                    " 'packpath' (~/.local/share/nvim/site is by default); then require(\"nep\").setup({}) in init.lua")
    else:
        packpath = (f"packpath:   cp -r {folder} ~/.local/share/nvim/site/pack/nep/start/nep.nvim"
                    " (then require(\"nep\").setup({}) in init.lua)")
    return [
        f'init.lua:   vim.opt.runtimepath:append("{folder}"); require("nep").setup({{}})',
        f'init.vim:   set runtimepath+={folder} | lua require("nep").setup({{}})',
        f'lazy.nvim:  {{ dir = "{folder}", opts = {{}} }}',
        packpath,
        f"help:       :helptags {folder}/doc   then   :help nep",
        "then start a server with a trained model: nep serve --domain code --model runs/code   (nep train --domain code makes it;"
        " --model ngram answers but never suggests an edit on code: it only checks the connection)",
    ]


@app.command("nvim")
def nvim_command(
    out: Path = typer.Option(None, "--out", "-o", help="Copy the plugin to OUT/nep.nvim (created if missing)."),
) -> None:
    """Install the NEP Neovim plugin (Neovim 0.7 or newer), or print where the installed package keeps it.

    Example: nep code nvim --out ~/.local/share/nvim/site/pack/nep/start

    The plugin records your edits into session logs ($NEP_HOME/logs/code), asks nep serve --domain code for the next edit, shows it as virtual text, accepts it with <Tab> and dismisses it with <C-]>.
    """
    folder = NVIM_PLUGIN
    if out is not None:
        out = out.expanduser().resolve()  # the lines to paste below must work from any folder
        make_output_folder(out, "--out")
        folder = install_plugin(out)
        typer.echo(f"wrote {folder}")
    else:
        plugin_files(folder)
        typer.echo(f"the plugin is in {folder} (copy it with --out DIR)")
    for line in loading_lines(folder):
        typer.echo(line)
