"""The NEP Neovim plugin in a real headless Neovim: recording, and suggestions from a real `nep serve`.

tests/code/nvim_driver.lua types into Neovim through nvim_feedkeys (mappings included) and writes what
it saw to a JSON file; these tests check that file, the session log and the server's feedback log.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nep_code.cli import NVIM_PLUGIN, app
from nep_code.edits import LineEdit, Workspace
from nep_core.actions import Action
from nep_core.sessionlog import parse_event, read_session
from server_helpers import ServeProcess

DRIVER = Path(__file__).with_name("nvim_driver.lua")
NVIM = shutil.which("nvim")
needs_nvim = pytest.mark.skipif(NVIM is None, reason="nvim is not installed (Debian: apt-get install neovim)")

CALC = "def area(width, height):\n    return width * height\n\n\nprint(area(2, 3))\n"
SIGNATURE = {"kind": "edit", "target": {"file": "calc.py", "line": 1}, "args": {"delete": 1, "insert": "def area(width, height, depth):\n"}}
CALL_SITE = {"kind": "edit", "target": {"file": "calc.py", "line": 5}, "args": {"delete": 1, "insert": "print(area(2, 3, 4))\n"}}
NEW_CALL = {"kind": "edit", "target": {"file": "calc.py", "line": 6}, "args": {"delete": 0, "insert": "print(area(1, 1, 1))\n"}}


def run_driver(scenario: str, folder: Path, file_name: str, server: str, plugin: Path = NVIM_PLUGIN) -> dict:
    """Run the driver in ``nvim --headless -u NONE`` with the plugin on the runtimepath; its JSON result."""
    result = folder / f"result-{scenario}.json"
    env = {**os.environ, "NEP_HOME": str(folder / "home"), "NEP_DRIVER_SCENARIO": scenario, "NEP_DRIVER_FILE": file_name,
           "NEP_DRIVER_SERVER": server, "NEP_DRIVER_RESULT": str(result), "XDG_STATE_HOME": str(folder / "state")}
    env.pop("NEP_SERVER_TOKEN", None)
    completed = subprocess.run(
        [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "--cmd", f"set rtp+={plugin}", "-c", f"luafile {DRIVER}"],
        cwd=folder / "project", env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.exists(), f"the driver wrote no result: rc={completed.returncode} stderr={completed.stderr[-2000:]!r}"
    data = json.loads(result.read_text())
    assert "error" not in data, data["error"]
    return data


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_project(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / name).write_text(text)


@needs_nvim
def test_typing_is_recorded_as_merged_line_edits_that_replay_to_the_buffer(tmp_path):
    make_project(tmp_path, "m.py", "a = 1\nb = 2\nc = 3\n")
    (tmp_path / "project" / "blob.bin").write_bytes(b"\x00\x01binary\x00\n")
    result = run_driver("record", tmp_path, "m.py", f"http://127.0.0.1:{closed_port()}")

    log = Path(result["log_path"])
    assert log.parent == tmp_path / "home" / "logs" / "code" and log.name == f"{result['session']}.jsonl"
    session = read_session(log)
    assert session.domain == "code" and session.meta["source"] == "nvim" and session.meta["app"].startswith("Neovim ")
    assert session.events[0].state == {"files": {"m.py": "a = 1\nb = 2\nc = 3\n"}}
    edits = [LineEdit.from_action(event.action) for event in session.events if event.action is not None]
    assert edits[0] == LineEdit("m.py", 2, 1, "b = 2  # two\n")  # nine keystrokes, one edit
    assert edits[1] == LineEdit("m.py", 4, 0, "\ndef g():\n    return 1\n")  # three typed lines, one edit
    assert edits[2:4] == [LineEdit("m.py", 1, 1, ""), LineEdit("m.py", 1, 0, "a = 1\n")]  # dd, then u
    assert LineEdit("m.py", 3, 1, "x = 'é'\ny = 2\n") in edits  # a plugin's nvim_buf_set_lines
    times = [event.t for event in session.events]
    assert times == sorted(times)
    assert Workspace.from_events(session.events).text("m.py") == result["final_text"]
    assert result["final_text"] == "a = 1\nb = 2  # two\nx = 'é'z\ny = 2\n\ndef g():\n    return 1  # trailing\n    \tt\n"  # autoindent, then a real <Tab>
    assert {event.state and tuple(event.state["files"]) for event in session.events if event.state} == {("m.py",)}
    assert "skipped blob.bin: binary (NUL bytes)" in result["status"] and "1 files skipped" in result["status"]

    # a request sends the last 3 events on top of a snapshot of the file before them; it replays to the buffer too
    history = [parse_event(record) for record in result["request_history"]]
    assert sum(event.action is not None for event in history) == 3 and history[0].state["files"]["m.py"] != "a = 1\nb = 2\nc = 3\n"
    assert Workspace.from_events(history).text("m.py") == result["final_text"]
    assert history[-1].state["cursor"] == {"file": "m.py", "line": 8, "column": 5}

    # the server is down: every request fails, and the user is told once, in one line
    assert result["requests"] >= 2 and result["counts"]["errors"] == result["requests"]
    assert len(result["messages"]) == 1 and "\n" not in result["messages"][0]
    assert "no answer from http://127.0.0.1:" in result["messages"][0] and "nep serve --domain code" in result["messages"][0]
    assert "unreachable" in result["status"] and "recorded: 8 edits" in result["status"]


def serve_calc_ngram(tmp_path: Path) -> ServeProcess:
    """``nep serve`` with an n-gram fitted on sessions that edit calc.py: the signature edit, then the
    call site, then a new call; feedback goes to ``tmp_path/feedback``."""
    fit = tmp_path / "fit"
    fit.mkdir()
    for index in range(10):
        records = [
            {"nep": 1, "domain": "code", "session": f"fit{index}", "created": "", "meta": {"source": "test"}},
            {"t": 0.0, "state": {"files": {"calc.py": CALC}, "cursor": {"file": "calc.py", "line": 1, "column": 0}}},
            {"t": 1.0, "action": SIGNATURE}, {"t": 2.0, "action": CALL_SITE}, {"t": 3.0, "action": NEW_CALL},
        ]
        (fit / f"fit{index}.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    make_project(tmp_path, "calc.py", CALC)
    return ServeProcess("--domain", "code", "--model", "ngram", "--data", str(fit), "--port", "0",
                        "--data-dir", str(tmp_path / "feedback"))


def drive_calc(tmp_path: Path, scenario: str) -> dict:
    """The driver's ``scenario`` on calc.py, against ``serve_calc_ngram``."""
    server = serve_calc_ngram(tmp_path)
    try:
        return run_driver(scenario, tmp_path, "calc.py", server.url)
    finally:
        server.interrupt()


@needs_nvim
def test_suggestions_from_nep_serve_are_shown_accepted_dismissed_and_fed_back(tmp_path):
    feedback_dir = tmp_path / "feedback"
    server = serve_calc_ngram(tmp_path)
    try:
        result = run_driver("serve", tmp_path, "calc.py", server.url)
        in_insert_mode = run_driver("insert", tmp_path, "calc.py", server.url)
    finally:
        server.interrupt()
    # every request was answered by the server (request ids are made there), none went stale
    assert result["counts"]["answers"] == result["counts"]["requests"] >= 4 and result["counts"]["errors"] == 0

    signed = CALC.replace("(width, height)", "(width, height, depth)")
    accepted, dismissed, ignored = result["steps"]
    # the call-site edit, four lines below the cursor: the first <Tab> jumps, the second applies it exactly
    assert accepted["shown"] == CALL_SITE and accepted["before"] == signed and accepted["cursor"] == 1
    assert accepted["jumped_to"] == 5 and accepted["still_shown"]
    assert accepted["after"] == "".join(LineEdit.from_action(Action.from_json(CALL_SITE)).apply(signed.splitlines(True)))
    # accepting asked again at once; <C-]> dismissed that one and left the buffer alone
    assert dismissed["shown"] == NEW_CALL and dismissed["after"] == dismissed["before"] and not dismissed["still_shown"]
    assert ignored["shown"] == NEW_CALL and not ignored["still_shown"]
    assert result["after_two_undos"] == signed  # the accepted edit is one undo step
    # in Insert mode too: <Tab> jumps, <Tab> accepts, and undo takes back the accepted edit alone
    [insert_step] = in_insert_mode["steps"]
    assert insert_step["shown"] == CALL_SITE and insert_step["mode"] == insert_step["mode_after"] == "i"
    assert insert_step["after"] == accepted["after"] and in_insert_mode["after_undo"] == signed
    # with feedback_history, the server's log holds the session up to the feedback: it replays to the buffer then
    whole = read_session(feedback_dir / "code" / f"{in_insert_mode['session']}.jsonl")
    assert [event.feedback["outcome"] for event in whole.events if event.feedback] == ["accepted"]
    assert Workspace.from_events(whole.events).text("calc.py") == signed
    assert result["counts"]["accepted"] == result["counts"]["dismissed"] == 1 and result["counts"]["ignored"] >= 1

    # the client's session log: every edit, the feedback, and it replays to the buffer
    session = read_session(Path(result["log_path"]))
    assert Workspace.from_events(session.events).text("calc.py") == result["final_text"]
    local = [event.feedback for event in session.events if event.feedback is not None]
    assert [record["outcome"] for record in local][:3] == ["accepted", "dismissed", "ignored"]
    assert local[0]["request_id"] == accepted["request_id"] and local[0]["accepted"] is True

    # the server's feedback log: the same outcomes, and what the user did instead of the ignored one
    served = read_session(feedback_dir / "code" / f"{result['session']}.jsonl")
    records = [index for index, event in enumerate(served.events) if event.feedback]
    outcomes = [(served.events[index].feedback["outcome"], served.events[index].feedback["suggestion"]) for index in records]
    assert outcomes[:3] == [("accepted", CALL_SITE), ("dismissed", NEW_CALL), ("ignored", NEW_CALL)]
    assert [served.events[index].feedback["request_id"] for index in records] == [record["request_id"] for record in local]
    assert len({record["request_id"] for record in local}) == len(local)
    actual = served.events[records[2] + 1].action  # what the user did instead of the ignored suggestion
    assert LineEdit.from_action(actual) == LineEdit("calc.py", 2, 1, "    return width * height  # area\n")


@needs_nvim
def test_a_suggestion_below_min_confidence_is_not_shown(tmp_path):
    result = drive_calc(tmp_path, "unsure")
    held_back, shown = result["steps"]
    assert held_back["counts"]["answers"] >= 1 and held_back["counts"]["unsure"] >= 1
    assert not held_back["shown"] and held_back["counts"]["shown"] == 0
    assert "below min_confidence" in held_back["status"]
    assert shown["shown"] == CALL_SITE  # the same answer, shown once the threshold allows it


@needs_nvim
def test_quitting_right_after_ignoring_a_suggestion_still_sends_its_feedback(tmp_path):
    result = drive_calc(tmp_path, "quit")
    [step] = result["steps"]
    assert step["shown"] == CALL_SITE and result["held"]  # typed over: held until its edit is logged
    comment = LineEdit("calc.py", 2, 1, "    return width * height  # area\n")
    local = read_session(Path(result["log_path"]))
    feedback_at = [index for index, event in enumerate(local.events) if event.feedback]
    assert [local.events[index].feedback["outcome"] for index in feedback_at] == ["ignored"]
    assert LineEdit.from_action(local.events[feedback_at[0] + 1].action) == comment
    # the server got it before Neovim quit: the outcome, its request, and what the user did instead
    served = read_session(tmp_path / "feedback" / "code" / f"{result['session']}.jsonl")
    [record] = [index for index, event in enumerate(served.events) if event.feedback]
    assert served.events[record].feedback["outcome"] == "ignored"
    assert served.events[record].feedback["request_id"] == step["request_id"]
    assert LineEdit.from_action(served.events[record + 1].action) == comment


@needs_nvim
def test_an_edit_in_another_open_file_is_pointed_at_then_opened_then_applied(tmp_path):
    core, web = "class Parser:\n    pass\n", "import os\nfrom core import Parser\n"
    rename = {"kind": "edit", "target": {"file": "core.py", "line": 1}, "args": {"delete": 1, "insert": "class BaseParser:\n"}}
    carried = {"kind": "edit", "target": {"file": "web.py", "line": 2}, "args": {"delete": 1, "insert": "from core import BaseParser\n"}}
    fit = tmp_path / "fit"
    fit.mkdir()
    for index in range(5):
        records = [
            {"nep": 1, "domain": "code", "session": f"fit{index}", "created": "", "meta": {"source": "test"}},
            {"t": 0.0, "state": {"files": {"core.py": core, "web.py": web}}}, {"t": 1.0, "action": rename}, {"t": 2.0, "action": carried},
        ]
        (fit / f"fit{index}.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    make_project(tmp_path, "core.py", core)
    (tmp_path / "project" / "web.py").write_text(web)
    server = ServeProcess("--domain", "code", "--model", "ngram", "--data", str(fit), "--port", "0")
    try:
        result = run_driver("crossfile", tmp_path, "core.py", server.url)
    finally:
        server.interrupt()
    [step] = result["steps"]
    assert step["shown"] == carried and step["elsewhere"] is True
    assert sorted(step["sent_files"]) == ["core.py", "web.py"]  # the other open file goes with the request
    assert "NEP: edit web.py:2" in step["hint"] and "from core import BaseParser" in step["hint"]
    # the first <Tab> opens web.py at the edit and keeps it shown; the second applies it, one accept
    assert step["buffer_after_first"] == "web.py" and step["cursor_after_first"] == 2 and step["still_shown"]
    assert step["after"] == "import os\nfrom core import BaseParser\n" and step["accepted"] == 1


class _CraftedServer:
    """A hostile or broken server on loopback: every /v1/suggest gets ``answer`` (bytes)."""

    def __init__(self, answer: bytes):
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _suggesting(action) -> bytes:
    return json.dumps({"suggestions": [{"action": action, "probability": 0.9, "confidence": 0.9}], "p_no_edit": 0.01,
                       "best_is_no_edit": False, "request_id": "r1"}).encode()


@needs_nvim
def test_a_hostile_servers_suggestions_never_run_commands_open_other_files_or_freeze(tmp_path):
    """Found by a review: a file name holding a newline ended the :edit command and ran the next line as
    Ex (here `touch PWNED`); any readable file could be opened, edited and then sent to the server."""
    make_project(tmp_path, "core.py", "class Parser:\n    pass\n")
    project = tmp_path / "project"
    trap = "x\nlet@a=system('touch PWNED')"
    (project / trap).write_text("a\n")
    outside = tmp_path / "secret.env"
    outside.write_text("SECRET=1\n")
    os.mkfifo(project / "pipe.py")
    edit = lambda file, line=1, insert="y\n": {"kind": "edit", "target": {"file": file, "line": line}, "args": {"delete": 0, "insert": insert}}
    answers = {
        "newline in the name": _suggesting(edit(trap)),
        "a file outside the project": _suggesting(edit(str(outside))),
        "a file the session never opened": _suggesting(edit("pipe.py")),
        "a fractional line": _suggesting(edit("core.py", 1.5)),
        "a NUL in the insert": _suggesting(edit("core.py", 1, "z\u0000\n")),
        "an answer over 4 MiB": _suggesting(edit("core.py", 1, "a\n" * 2_200_000)),
    }
    for case, answer in answers.items():
        server = _CraftedServer(answer)
        try:
            result = run_driver("hostile", tmp_path, "core.py", server.url)
        finally:
            server.close()
        [step] = result["steps"]
        assert not step["shown"] and step["accepted"] == 0, (case, step)
        assert step["buffers"] == ["core.py"], (case, step)
        assert step["answers"] + step["errors"] >= 1, (case, step)  # the answer came, and was turned down
        assert not (project / "PWNED").exists(), case
        assert outside.read_text() == "SECRET=1\n"


@needs_nvim
def test_nep_code_nvim_installs_a_plugin_that_loads(tmp_path):
    result = CliRunner().invoke(app, ["nvim", "--out", str(tmp_path / "site")], terminal_width=200)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "site" / "nep.nvim"
    assert f"wrote {folder}" in result.output and f'{{ dir = "{folder}", opts = {{}} }}' in result.output
    assert f"set runtimepath+={folder}" in result.output
    shipped = sorted(path.relative_to(NVIM_PLUGIN) for path in NVIM_PLUGIN.rglob("*") if path.is_file())
    assert sorted(path.relative_to(folder) for path in folder.rglob("*") if path.is_file()) == shipped
    assert Path("doc/nep.txt") in shipped and Path("plugin/nep.lua") in shipped
    again = CliRunner().invoke(app, ["nvim", "--out", str(tmp_path / "site")])  # a reinstall replaces the copy
    assert again.exit_code == 0, again.output

    status = tmp_path / "status.txt"
    completed = subprocess.run(
        [NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-n", "--cmd", f"set rtp+={folder}", "-c", "runtime plugin/nep.lua",
         "-c", "NepEnable", "-c", f"lua vim.fn.writefile(vim.split(require('nep').status(), '\\n'), '{status}')",
         "-c", "NepDisable", "-c", "helptags " + str(folder / "doc"), "-c", "qall!"],
        cwd=tmp_path, env={**os.environ, "NEP_HOME": str(tmp_path / "home")}, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    assert status.read_text().startswith("nep: enabled, server http://127.0.0.1:8765")
    assert "*nep-settings*" in (folder / "doc" / "tags").read_text() or "nep-settings" in (folder / "doc" / "tags").read_text()


def test_nep_code_nvim_refuses_a_folder_that_is_not_the_plugin(tmp_path):
    (tmp_path / "nep.nvim").mkdir()
    (tmp_path / "nep.nvim" / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["nvim", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert (tmp_path / "nep.nvim" / "notes.txt").read_text() == "mine"


def test_nep_eval_scores_code_suggestions_as_the_client_shows_them():
    """The code domain's min_confidence, which `nep eval` applies, is the client's default setting."""
    import re

    from nep_core.plugins import get_domain

    config = (NVIM_PLUGIN / "lua" / "nep" / "config.lua").read_text(encoding="utf-8")
    default = re.search(r"^\s*min_confidence = ([0-9.]+),", config, re.MULTILINE)
    assert default is not None, "config.lua has no min_confidence default"
    assert get_domain("code").min_confidence == float(default.group(1)) > 0
