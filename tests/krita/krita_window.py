"""Full Krita in a virtual X display, with NEP Suggest installed from its zip and a probe plugin
(install_probe/) that acts inside it: shared by test_krita_install.py and bench/bench_krita_plugin.py."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Collection

PROBE = Path(__file__).parent / "install_probe"
KRITA = shutil.which("krita")
XVFB_RUN = shutil.which("xvfb-run")


KILLED = "killed after 120 s"
"""The exit status `_run_in_virtual_display` gives a Krita it had to kill."""


class ProbeFailed(RuntimeError):
    """Krita ended without the probe's result, the probe reported an error, or Krita did not quit."""


def prepare_home(home: Path, server_url: str) -> Path:
    """A fresh Krita home with the probe plugin enabled and NEP Suggest set to ask ``server_url``; its pykrita folder."""
    pykrita = home / "data" / "krita" / "pykrita"  # Krita's resource folder on Linux: ~/.local/share/krita
    shutil.copytree(PROBE, pykrita)
    (home / "config").mkdir(parents=True)
    # the docker's Settings... dialog stores the server in the same file
    (home / "config" / "kritarc").write_text(f"[nep_suggest]\nserver_url={server_url}\n\n[python]\nenable_nep_install_probe=true\n")
    return pykrita


def start_krita(home: Path, phase: str, **env: str) -> dict:
    """Start Krita in a virtual display with ``home`` as its user folders; the probe's result for ``phase``."""
    result = home / f"{phase}-{len(list(home.glob(f'{phase}*.json')))}.json"  # a new file for each start
    environment = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"),
                   "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
                   "NEP_HOME": str(home / "nep"), "NEP_PROBE_PHASE": phase, "NEP_PROBE_RESULT": str(result), **env}
    # Krita embeds the system Python and finds its prefix through the first python3 on PATH (see test_krita_plugin.py)
    environment["PATH"] = os.pathsep.join([str(Path(KRITA).parent), environment.get("PATH", "")])
    for name in ("PYTHONHOME", "VIRTUAL_ENV", "PYTHONPATH", "QT_QPA_PLATFORM"):  # Krita's GUI insists on X11 (xcb)
        environment.pop(name, None)
    # Choosing a free display and starting Xvfb on it is not race-free (another test may take it
    # first), and a display can be unusable in ways no check sees: when Krita finds no display, start
    # again on others, never one tried before. Xvfb's own errors go to a file.
    xvfb_errors = home / "xvfb-errors.log"
    tried: set[int] = set()
    for _ in range(3):
        display = free_display(avoid=tried)
        tried.add(display)
        returncode, output = _run_in_virtual_display(
            [XVFB_RUN, "-n", str(display), "-e", str(xvfb_errors), KRITA, "--nosplash"], environment)
        if result.exists() or "could not connect to display" not in output:
            break
    if not result.exists():
        errors = xvfb_errors.read_text(errors="replace")[-1000:] if xvfb_errors.exists() else ""
        raise ProbeFailed(f"the probe wrote no result: rc={returncode} output={output[-3000:]!r} Xvfb: {errors!r}")
    seen = json.loads(result.read_text())
    if "error" in seen:
        raise ProbeFailed(seen["error"])
    if returncode == KILLED:  # the probe quits Krita as soon as it has reported
        raise ProbeFailed(f"Krita did not quit after the probe's {phase} phase (a dialog left open?): {output[-3000:]!r}")
    return seen


def free_display(first: int = 99, last: int = 999, tmp: Path = Path("/tmp"), avoid: Collection[int] = ()) -> int:
    """A display number no X server holds: neither its lock file nor its abstract socket is taken.

    ``xvfb-run -a`` looks only at lock files, so an X server whose lock file is gone (or one in
    another mount namespace, such as a chroot with its own /tmp) still answers on the number it picks,
    and Krita then fails to connect to it. Linux's abstract sockets are shared by every mount namespace.
    ``tmp``: where X servers keep their lock files and sockets; ``avoid``: numbers not to choose.
    """
    count = last - first + 1
    start = random.randrange(count)  # parallel test workers, and the Kritas CI runs side by side, start apart
    for offset in range(count):
        number = first + (start + offset) % count
        if number in avoid or (tmp / f".X{number}-lock").exists() or (tmp / ".X11-unix" / f"X{number}").exists():
            continue
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.bind(f"\0/tmp/.X11-unix/X{number}")  # what Xvfb listens on, besides the file
        except OSError:
            continue
        finally:
            probe.close()
        return number
    raise ProbeFailed(f"no free X display between :{first} and :{last}")


def _run_in_virtual_display(command: list[str], environment: dict) -> tuple[int | str, str]:
    """Run ``command`` (xvfb-run KRITA ...); its exit status and output."""
    # Krita outlives a killed xvfb-run (and a second Krita only hands its arguments to the first): on a
    # timeout, end the whole process group
    with subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as process:
        try:
            output, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            return KILLED, output
    return process.returncode, output
