"""The `nep` console script itself."""

import subprocess
import sys


def test_ctrl_c_while_the_command_line_imports_ends_quietly():
    """The first half second of every `nep` command is spent importing; a Ctrl-C there printed a traceback."""
    interrupt_on_import = (
        "import sys\n"
        "class Interrupt:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "from nep_core.cli.entry import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", interrupt_on_import], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130
    assert done.stderr.strip() == "interrupted"


def test_the_command_line_starts_without_the_server_or_model_libraries():
    """Every `nep` command imports the whole command line; FastAPI (a quarter second) and torch load only where used."""
    loaded = "import sys, nep_core.cli.main\nprint(sorted(m for m in ('fastapi', 'starlette', 'uvicorn', 'torch', 'lightning') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
