"""`nep serve` as users run it: a subprocess with a baseline on the tags domain, and where it may listen."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from server_helpers import ServeProcess, action_event, nep_command

from nep_core.errors import NepError
from nep_core.server.binding import check_bind_host, is_loopback
from nep_core.sessionlog import read_session

HISTORY = [action_event(0.0, "open", "a"), action_event(1.0, "open", "c"), action_event(2.0, "write", word="y")]


def test_nep_serve_answers_suggestions_and_feedback_with_a_baseline(tmp_path, tags_domain):
    data_dir = tmp_path / "feedback"
    server = ServeProcess("--domain", "tags", "--model", "ngram", "--port", "0", "--data-dir", str(data_dir))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.get("/v1/health").json()["model"] == "ngram"
            body = http.post("/v1/suggest", json={"session": "cli-1", "history": HISTORY, "top_k": 5}).json()
            assert body["suggestions"] and body["domain"] == "tags"
            bad = http.post("/v1/suggest", json={"session": "cli-1", "history": [{"t": 0, "action": {"kind": "nope"}}]})
            assert bad.status_code == 422
            shown = body["suggestions"][0]["action"]
            feedback = http.post(
                "/v1/feedback", json={"session": "cli-1", "suggestion": shown, "shown_at": 2.5, "accepted": True, "actual": shown}
            )
            assert feedback.status_code == 200, feedback.text
    finally:
        status, stderr = server.interrupt()
    assert status == 0, stderr
    assert "Traceback" not in stderr
    events = read_session(data_dir / "tags" / "cli-1.jsonl").events
    assert events[0].feedback["accepted"] is True and events[1].action is not None


def test_nep_serve_stops_cleanly_on_sigterm_as_a_service_manager_sends_it(tmp_path):
    data_dir = tmp_path / "feedback"
    server = ServeProcess("--domain", "tags", "--model", "repeat-last", "--port", "0", "--data-dir", str(data_dir))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            assert http.post("/v1/feedback", json={"session": "term", "accepted": True, "t": 1.0}).status_code == 200
            assert http.post("/v1/suggest", json={"session": "term", "history": HISTORY}).status_code == 200
        maps = Path(f"/proc/{server.process.pid}/maps")
        if maps.exists():  # a baseline runs no network: torch (about 180 MB) stays unloaded
            assert "torch" not in maps.read_text()
    except BaseException:
        server.kill()
        raise
    status, stderr = server.interrupt(signum=signal.SIGTERM)
    assert status == 0, stderr  # not 143: uvicorn's graceful shutdown ran and NEP finished
    assert "nep serve: stopped" in stderr and "Traceback" not in stderr
    assert [event.t for event in read_session(data_dir / "tags" / "term.jsonl").events] == [1.0]


def test_nep_serve_no_speculate_precomputes_nothing(tmp_path):
    server = ServeProcess("--domain", "tags", "--model", "ngram", "--port", "0", "--data-dir", str(tmp_path), "--no-speculate")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            body = http.post("/v1/suggest", json={"session": "quiet", "history": HISTORY}).json()
            assert not body["best_is_no_edit"]
            accepted = {"t": 3.0, "action": body["suggestions"][0]["action"]}
            again = http.post("/v1/suggest", json={"session": "quiet", "history": [*HISTORY, accepted]}).json()
            assert again["speculative"] is False
            assert http.get("/v1/health").json()["speculation"] == {"queued": 0, "run": 0, "gave_way": 0, "hits": 0, "misses": 2, "pending": 0}
    finally:
        server.kill()


def test_acknowledged_feedback_survives_kill_9(tmp_path):
    data_dir = tmp_path / "feedback"
    server = ServeProcess("--domain", "tags", "--model", "repeat-last", "--port", "0", "--data-dir", str(data_dir))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for index in range(40):
                response = http.post("/v1/feedback", json={"session": "crash", "accepted": index % 3 == 0, "t": float(index)})
                assert response.status_code == 200
    finally:
        server.kill()
    events = read_session(data_dir / "tags" / "crash.jsonl").events
    assert [event.t for event in events] == [float(index) for index in range(40)]


def test_nep_serve_refuses_a_non_loopback_host():
    result = subprocess.run(
        [*nep_command(), "serve", "--domain", "tags", "--model", "ngram", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "0.0.0.0" in lines[0] and "--allow-remote" in lines[0]
    assert "listening" not in result.stdout


def test_nep_serve_open_to_other_machines_needs_a_token(monkeypatch):
    """The Host check keeps DNS-rebinding pages off a loopback server; open to the network, only a token can."""
    monkeypatch.delenv("NEP_SERVER_TOKEN", raising=False)
    result = subprocess.run(
        [*nep_command(), "serve", "--domain", "tags", "--model", "ngram", "--host", "0.0.0.0", "--allow-remote", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--allow-remote needs --token (or NEP_SERVER_TOKEN)" in lines[0], result.stderr
    assert "listening" not in result.stdout


@pytest.mark.parametrize("token, problem", [
    (" s3cret", "starts or ends with white space"),
    ("s3cret\n", "starts or ends with white space"),
    ("sécret", "holds 'é'; use printable ASCII only"),
    ("s3\tcret", "holds '\\t'; use printable ASCII only"),
])
def test_a_token_no_client_could_send_is_refused(tags_domain, tmp_path, token, problem):
    """uvicorn reads headers as Latin-1 and the guard strips the presented token: such a token never matched."""
    from nep_core.server import create_app
    from server_helpers import InnermostClose

    with pytest.raises(NepError) as caught:
        create_app(tags_domain, InnermostClose(), data_dir=tmp_path, token=token)
    assert str(caught.value).startswith("--token/NEP_SERVER_TOKEN: the token ") and problem in str(caught.value)
    create_app(tags_domain, InnermostClose(), data_dir=tmp_path, token="s3cret-token_1.2~+/=")


def test_nep_serve_refuses_a_token_from_the_environment_that_no_client_could_send(tmp_path):
    result = subprocess.run(
        [*nep_command(), "serve", "--domain", "tags", "--model", "ngram", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NEP_SERVER_TOKEN": "s3cret "},
    )
    assert result.returncode != 0 and "listening" not in result.stdout
    lines = result.stderr.strip().splitlines()  # refused before the n-gram is fitted, which says so
    assert len(lines) == 1 and lines[0].startswith("error: --token/NEP_SERVER_TOKEN: the token starts or ends with white space"), result.stderr


@pytest.mark.parametrize(("option", "value", "named"), [("--device", "cuda:99", "cuda:99"), ("--device", "tpu", "tpu"), ("--dtype", "float8", "float8")])
def test_nep_serve_refuses_a_device_or_dtype_it_cannot_use(option, value, named):
    result = subprocess.run(
        [*nep_command(), "serve", "--domain", "tags", "--model", "ngram", option, value],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and named in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_nep_serve_says_so_when_the_port_is_taken():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [*nep_command(), "serve", "--domain", "tags", "--model", "ngram", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and f"127.0.0.1:{port}" in result.stderr, result.stderr
    assert "--port" in result.stderr


def test_nep_serve_refuses_a_feedback_folder_it_cannot_write_before_it_listens(tmp_path):
    """It used to start, and then answer every feedback with a 500 and a traceback in its log."""
    (tmp_path / "afile").write_text("")
    for folder, message in ((tmp_path / "afile", f"--data-dir {tmp_path / 'afile' / 'tags'} cannot be made: {tmp_path / 'afile'} is a file"),
                            ("/proc/nep-feedback", "--data-dir /proc/nep-feedback/tags cannot be made")):
        result = subprocess.run([*nep_command(), "serve", "--domain", "tags", "--model", "ngram", "--data-dir", str(folder)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2 and "Traceback" not in result.stderr and "listening" not in result.stdout
        assert result.stderr.strip().count("\n") == 0 and message in result.stderr, result.stderr


@pytest.mark.parametrize("two_stage", [False, True])
def test_nep_serve_names_a_missing_model_folder_alone_before_taking_the_port(tmp_path, two_stage):
    """It said "loading the model in nothing (cpu, float32)" first, as if there were one (with
    --location-model too: "loading the model in nothing after locations from ...")."""
    missing = tmp_path / "nothing"
    stages = ["--location-model", str(tmp_path / "locations")] if two_stage else []
    result = subprocess.run([*nep_command(), "serve", "--domain", "tags", "--model", str(missing), *stages,
                             "--data-dir", str(tmp_path / "feedback")], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith(f"error: --model {missing}: no such model folder, and not a baseline"), result.stderr  # one message, either way
    assert not (tmp_path / "feedback").exists()


def test_nep_serve_help_explains_options_with_an_example():
    result = subprocess.run(
        [*nep_command(), "serve", "--help"], capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"}
    )
    assert result.returncode == 0
    for text in ("--allow-remote", "--token", "NEP_SERVER_TOKEN", "--max-body-bytes", "--data-dir", "Example:", "curl"):
        assert text in result.stdout


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host):
    assert is_loopback(host)
    assert check_bind_host(host, allow_remote=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "2001:db8::1"])
def test_other_hosts_need_allow_remote_and_then_warn(host):
    assert not is_loopback(host)
    with pytest.raises(NepError, match="--allow-remote"):
        check_bind_host(host, allow_remote=False)
    assert "other machines" in check_bind_host(host, allow_remote=True)


@pytest.mark.parametrize("allow_remote", [False, True])
def test_a_host_that_names_no_address_is_said_so_not_taken_for_a_remote_one(allow_remote, monkeypatch):
    def no_such_name(*args, **kwargs):  # as a resolver answers, without asking one
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_name)
    with pytest.raises(NepError, match=r"^cannot resolve --host 999\.1\.1\.1: Name or service not known$"):
        check_bind_host("999.1.1.1", allow_remote=allow_remote)


@pytest.mark.skipif(Path("/proc/sys/net/ipv4/ip_nonlocal_bind").exists()
                    and Path("/proc/sys/net/ipv4/ip_nonlocal_bind").read_text().strip() != "0",
                    reason="this machine lets a socket bind any address (ip_nonlocal_bind)")
def test_a_host_of_another_machine_is_named_not_the_port():
    from nep_core.server.binding import bind_socket

    with pytest.raises(NepError, match=r"^cannot listen on 192\.0\.2\.7:0: .*; --host 192\.0\.2\.7 must be an address of this machine$"):
        bind_socket("192.0.2.7", 0)
