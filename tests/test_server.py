"""The suggestion server over real HTTP on loopback: suggestions, validation, limits, token, schema."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from jsonschema import ValidationError
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_openapi_spec
from server_helpers import InnermostClose, action_event

from nep_core.actions import Action
from nep_core.errors import PluginFault
from nep_core.inference.factory import load_predictor
from nep_core.inference.predictor import Prediction, Predictor
from nep_core.server import create_app
from nep_core.server.runner import BackgroundServer
from nep_core.session import Context

REPO = Path(__file__).resolve().parent.parent
MAX_BODY = 64 * 1024
MAX_HISTORY = 100
TOKEN = "s3cret-token"
HISTORY = [action_event(0.0, "open", "a"), action_event(1.0, "open", "b"), action_event(2.0, "write", word="x")]


@pytest.fixture(scope="module")
def server(tags_domain, tmp_path_factory):
    app = create_app(
        tags_domain,
        InnermostClose(),
        data_dir=tmp_path_factory.mktemp("feedback"),
        max_body_bytes=MAX_BODY,
        max_history_events=MAX_HISTORY,
    )
    with BackgroundServer(app) as running:
        yield running


@pytest.fixture()
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def assert_up(client: httpx.Client) -> None:
    assert client.get("/v1/health").json()["status"] == "ok"


def test_health_names_domain_model_and_version(client):
    from nep_core import __version__

    body = client.get("/v1/health").json()
    assert body.pop("speculation").keys() == {"queued", "run", "gave_way", "hits", "misses", "pending"}
    assert body == {"status": "ok", "domain": "tags", "model": "innermost-close", "version": __version__}


def _raw_request(url: str, request: str) -> bytes:
    """Everything the server sends for ``request`` (sent as it is, with Connection: close), read to the end."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=30) as connection:
        connection.sendall(request.encode("ascii"))
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def test_head_on_health_answers_200_with_the_get_headers_and_no_body(server, client):
    """`curl -I`, load balancers and container probes ask with HEAD: it answered 405 (FastAPI's @app.get takes GET only)."""
    received = _raw_request(server.url, "HEAD /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    head, _, body = received.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    assert status == "HTTP/1.1 200 OK", received
    assert body == b""  # read to the close: nothing after the headers
    headers = dict(line.lower().split(": ", 1) for line in lines)
    got = client.get("/v1/health")
    assert headers["content-type"] == got.headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(got.content)  # the length GET's body has, as HEAD promises
    response = client.head("/v1/health")
    assert response.status_code == 200 and response.content == b""
    assert client.head("/v1/suggest").status_code == 405  # HEAD only where GET is


def test_suggest_returns_only_checked_suggestions(client, tags_domain):
    response = client.post("/v1/suggest", json={"session": "s-1", "history": HISTORY})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["suggestions"] == [{"action": {"kind": "close", "target": "b"}, "probability": 0.6, "confidence": 0.6, "label": "close @ b"}]
    assert body["dropped"] == 2
    assert body["p_no_edit"] == 0.1
    assert body["best_is_no_edit"] is False
    assert (body["domain"], body["model"]) == ("tags", "innermost-close")
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert body["latency_ms"] >= 0
    from nep_core.sessionlog import parse_event

    context = Context(history=[parse_event(event) for event in HISTORY])
    for suggestion in body["suggestions"]:
        action = tags_domain.action_space.validate(Action.from_json(suggestion["action"]))
        assert all(verifier.verify(context, action).valid for verifier in tags_domain.verifiers.values())


class DecidesByKind(Predictor):
    """Sure that a close comes next (its kind), unsure which one: as krita is about strokes."""

    name = "by-kind"

    def predict(self, context: Context, k: int = 3) -> Prediction:
        from nep_core.inference.predictor import Suggestion

        return Prediction([Suggestion(Action("close", target="b"), 0.004)], 0.1, kind_probability=0.85)


def test_a_suggestion_decided_by_kind_carries_its_kinds_probability_as_confidence(tags_domain, tmp_path):
    with BackgroundServer(create_app(tags_domain, DecidesByKind(), data_dir=tmp_path)) as running:
        with httpx.Client(base_url=running.url) as http:
            body = http.post("/v1/suggest", json={"session": "s", "history": HISTORY}).json()
    assert body["best_is_no_edit"] is False
    assert [(item["probability"], item["confidence"]) for item in body["suggestions"]] == [(0.004, 0.85)]


def test_suggest_with_nothing_to_do_says_no_edit(client):
    body = client.post("/v1/suggest", json={"session": "s-2", "history": [], "top_k": 2}).json()
    assert body["suggestions"] == []
    assert body["best_is_no_edit"] is True
    assert body["dropped"] == 2


def test_an_app_of_another_domain_is_told_which_domain_the_server_serves(client):
    """Every server defaults to port 8765: a Blender add-on sent to a turtle server got a 422 on an
    operator name of its first action, and before that an empty answer that said its suggestion was dropped."""
    for path, body in (("/v1/suggest", {"history": HISTORY}), ("/v1/feedback", {"accepted": False, "t": 1.0})):
        response = client.post(path, json={"session": "s-domain", "domain": "blender", **body})
        assert response.status_code == 421, response.text  # a 409 means superseded to the clients, which drop it
        assert response.json()["detail"] == ("domain: this server serves the 'tags' domain, not 'blender': start "
                                             "`nep serve --domain blender` (with another --port to keep this one)")
    same = client.post("/v1/suggest", json={"session": "s-domain", "domain": "tags", "history": HISTORY})
    assert same.status_code == 200 and same.json()["domain"] == "tags"


def test_top_k_and_state_are_honoured(client):
    body = client.post(
        "/v1/suggest", json={"session": "s-3", "history": HISTORY, "top_k": 1, "state": {"cursor": 3}}
    ).json()
    assert len(body["suggestions"]) == 1 and body["dropped"] == 0


def test_a_baseline_from_the_factory_serves_valid_suggestions(tags_domain, tags_sessions, tmp_path):
    from nep_core.sessionlog import parse_event

    app = create_app(tags_domain, load_predictor("ngram", tags_domain), data_dir=tmp_path, model_name="ngram")
    history = [event.to_json() for event in tags_sessions[0].events[:8]]
    context = Context(history=[parse_event(event) for event in history])
    with BackgroundServer(app) as running:
        body = httpx.post(f"{running.url}/v1/suggest", json={"session": "n-1", "history": history, "top_k": 5}).json()
    assert body["model"] == "ngram"
    assert body["suggestions"], body
    for suggestion in body["suggestions"]:
        action = tags_domain.action_space.validate(Action.from_json(suggestion["action"]))
        assert all(verifier.verify(context, action).valid for verifier in tags_domain.verifiers.values())


def _json(text: str) -> tuple[str, dict[str, str]]:
    return text, {"Content-Type": "application/json"}


BAD_REQUESTS = [
    pytest.param(*_json("{"), 422, "body: not valid JSON", id="malformed-json"),
    pytest.param(*_json("[]"), 422, "body: must be a JSON object", id="not-an-object"),
    pytest.param(*_json('{"history": []}'), 422, "session: field required", id="missing-session"),
    pytest.param(*_json('{"session": "s"}'), 422, "history: field required", id="missing-history"),
    pytest.param(*_json('{"session": "s", "history": "x"}'), 422, "history: input should be a valid list", id="history-type"),
    pytest.param(*_json('{"session": 7, "history": []}'), 422, "session: input should be a valid string", id="session-type"),
    pytest.param(*_json('{"session": "s", "history": [], "top_k": "3"}'), 422, "top_k: input should be a valid integer", id="top-k-type"),
    pytest.param(*_json('{"session": "s", "history": [], "top_k": 21}'), 422, "top_k: input should be less than or equal to 20", id="top-k-range"),
    pytest.param(*_json('{"session": "s", "history": [], "topk": 2}'), 422, "topk: unexpected field", id="unknown-field"),
    pytest.param(*_json('{"session": "../etc", "history": []}'), 422, "session: must be 1 to 128 letters", id="bad-session"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 1, "action": {"kind": ""}}]}'), 422, "history[0].action.kind: must be a non-empty string", id="empty-kind"),
    pytest.param(
        *_json('{"session": "s", "history": [{"t": 0, "action": {"kind": "open", "target": "a"}}, {"t": 1, "action": {"kind": "explode"}}]}'),
        422, "history[1].action.kind: unknown action kind 'explode'", id="unknown-kind",
    ),
    pytest.param(*_json('{"session": "s", "history": [{"t": "soon", "action": {"kind": "open"}}]}'), 422, "history[0].t: must be a finite number of seconds", id="bad-t"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 1, "action": {"kind": "open", "args": [1]}}]}'), 422, "history[0].action.args: must be an object", id="bad-args"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 1}]}'), 422, 'history[0]: an event has exactly one of "action", "state" or "feedback"', id="empty-event"),
    pytest.param(*_json('{"session": "s", "history": [], "state": {"x": NaN}}'), 422, "state.x: must be a finite number", id="nan"),
    pytest.param(*_json('{"session": "s", "history": [], "state": ' + "[" * 40 + "]" * 40 + "}"), 422, "state: input should be a valid dictionary", id="state-type"),
    pytest.param(*_json('{"session": "s", "history": [], "state": {"a": ' + "[" * 40 + "]" * 40 + "}}"), 422, "state: nested deeper than 32 levels", id="too-deep"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 0, "state": {"a": ' + "[" * 40 + "]" * 40 + "}}]}"), 422, "history[0]: nested deeper than 32 levels", id="event-too-deep"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 0, "action": {"kind": "write", "args": {"word": Infinity}}}]}'), 422, "history[0].action.args.word: must be a finite number", id="infinity"),
    pytest.param(*_json('{"session": "s", "history": [], "state": ' + "[" * 5000 + "]" * 5000 + "}"), 422, "body: JSON nested too deeply", id="recursion"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 0, "action": {"kind": "open", "target": "\\udc00"}}]}'), 422,
                 "history[0].action.target: must be valid Unicode, without the lone surrogate \\udc00", id="lone-surrogate"),
    pytest.param(*_json('{"session": "s", "history": [], "state": {"a": [{"b\\ud800": 1}]}}'), 422,
                 "state.a[0].b\\ud800: field name must be valid Unicode, without the lone surrogate \\ud800", id="lone-surrogate-key"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 1, "action": {"kind": "write", "arsg": {"word": "x"}}}]}'), 422,
                 "history[0].action.arsg: unexpected field (an action has kind, target, args, context, edit)", id="misspelt-action-field"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 1, "action": {"kind": "open", "taget": "a"}}]}'), 422,
                 "history[0].action.taget: unexpected field", id="misspelt-target"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 1, "stat": {"depth": 1}, "action": {"kind": "open", "target": "a"}}]}'), 422,
                 "history[0].stat: unexpected field (an event has t, action, state, feedback)", id="misspelt-event-field"),
    pytest.param(*_json('{"session": "s", "history": [{"t": 1, "feedback": {"accepted": true, "shown": 0.5}}]}'), 422,
                 "history[0].feedback.shown: unexpected field", id="misspelt-feedback-field"),
    pytest.param(b'{"session": "s", "history": [{"t": 1, "action": {"kind": "open", "target": "caf\xe9"}}]}', {"Content-Type": "application/json"}, 422,
                 "body: not UTF-8 text (byte 0xe9 at position 79)", id="latin-1"),
    pytest.param(*_json('{"session": "s", "history": [], "state": {"n": ' + "7" * 5000 + "}}"), 422,
                 "body: holds a number of more than 4300 digits", id="huge-integer"),
    pytest.param('{"session": "s", "history": []}', {"Content-Type": "text/plain"}, 415, "send the body as application/json", id="text-plain"),
    pytest.param('{"session": "s", "history": []}', {}, 415, "got none", id="no-content-type"),
    pytest.param("session=s", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json", id="form"),
]


@pytest.mark.parametrize("body, headers, status, message", BAD_REQUESTS)
def test_bad_requests_get_a_4xx_that_says_what_is_wrong(client, body, headers, status, message):
    response = client.post("/v1/suggest", content=body, headers=headers)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert message in detail
    assert response.json()["errors"] and "Traceback" not in response.text
    assert_up(client)


def test_history_length_is_limited(client):
    history = [action_event(float(index), "scroll", dir="up") for index in range(MAX_HISTORY + 1)]
    response = client.post("/v1/suggest", json={"session": "s", "history": history})
    assert response.status_code == 422
    assert response.json()["detail"] == f"history: at most {MAX_HISTORY} events are accepted (got {MAX_HISTORY + 1})"


def test_a_history_s_json_types_are_compared_exactly_with_the_session_s_last_request(client):
    """The history cache compared records with ==, where 1 == 1.0 == true: `"t": true` was refused in a new
    session and accepted after a request that had `"t": 1` there, and `1.0` read as the `1` of the request before."""
    def history(t, at):
        return [{"t": t, "action": {"kind": "write", "args": {"word": "x", "at": at}}}]

    assert client.post("/v1/suggest", json={"session": "types", "history": history(1, 1)}).status_code == 200
    response = client.post("/v1/suggest", json={"session": "types", "history": history(True, 1)})
    assert response.status_code == 422 and response.json()["detail"] == "history[0].t: must be a finite number of seconds"
    assert client.post("/v1/suggest", json={"session": "types", "history": history(1, 1.0)}).status_code == 200


def test_oversized_body_is_refused_with_413_before_parsing(client):
    big = {"session": "s", "history": [], "state": {"blob": "x" * MAX_BODY}}
    response = client.post("/v1/suggest", json=big)
    assert response.status_code == 413
    assert f"at most {MAX_BODY} bytes" in response.json()["detail"]
    assert_up(client)


def test_oversized_chunked_body_is_refused_with_413(client):
    def chunks():
        for _ in range(4 * MAX_BODY // 4096):
            yield b" " * 4096

    response = client.post("/v1/suggest", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "runs over the limit" in response.json()["detail"]
    assert_up(client)


def test_a_client_still_sending_an_oversized_body_gets_the_413(server):
    """A declared Content-Length over the limit was answered and the connection closed without reading
    the body: clients still sending it (Python's http.client, Node's fetch) met a reset connection instead."""
    import http.client

    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    body = b" " * (7 * 1024 * 1024)  # under the 8 MiB that are read and discarded
    for _ in range(3):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("POST", "/v1/suggest", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 413
        assert f"at most {MAX_BODY} bytes" in json.loads(response.read())["detail"]
        connection.close()


def test_the_documented_client_works_across_the_servers_idle_timeout(tags_domain, tmp_path):
    """docs/serving.md's client in a few lines: uvicorn closes a connection idle for 5 s, and the snippet
    then failed for good (BrokenPipeError, then CannotSendRequest at every call)."""
    text = (REPO / "docs" / "serving.md").read_text()
    snippet = re.search(r"^## A client in a few lines\n.*?^```python\n(.*?)^```", text, re.M | re.S).group(1)
    app = create_app(tags_domain, InnermostClose(), data_dir=tmp_path)
    with BackgroundServer(app, keep_alive=0.2) as running:
        namespace: dict = {}
        exec(snippet.replace("8765", running.url.rsplit(":", 1)[1]), namespace)
        for _ in range(3):
            assert namespace["ask"]("doc-client", HISTORY)["action"] == {"kind": "close", "target": "b"}
            time.sleep(0.5)  # the server closes the idle connection meanwhile


def test_a_body_just_under_the_limit_is_read(client):
    body = '{"session": "s", "history": []}'
    padded = body + " " * (MAX_BODY - len(body))
    response = client.post("/v1/suggest", content=padded, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def test_unknown_paths_and_methods(client):
    assert client.get("/v1/nothing").status_code == 404
    response = client.get("/v1/suggest")
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert "not allowed" in response.json()["detail"]


def test_a_405_allows_every_method_the_path_answers(client):
    """`Allow` named the first route's methods only: GET, for a path that answers HEAD too."""
    response = client.post("/v1/health", json={})
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
    assert response.json()["detail"] == "method POST is not allowed on /v1/health"


@pytest.mark.parametrize("method, path", [("POST", "/v1/suggest/"), ("POST", "/v1/feedback/"), ("GET", "/v1/health/")])
def test_a_path_with_a_trailing_slash_is_a_404_that_says_so(client, method, path):
    """It was FastAPI's 307 redirect to the path without the slash, with an empty body: no error a client could show."""
    response = client.request(method, path, json={"session": "s", "history": []})
    assert response.status_code == 404
    assert response.json() == {"detail": f"no such endpoint: {path} (the API is listed at /openapi.json)",
                               "errors": [{"loc": "", "msg": f"no such endpoint: {path} (the API is listed at /openapi.json)"}]}


def test_an_optional_field_sent_as_null_is_taken_as_left_out_and_a_required_one_is_refused(client):
    """`"state": null` was taken as left out and `"top_k": null` was a 422."""
    left_out = client.post("/v1/suggest", json={"session": "nulls", "history": HISTORY}).json()
    nulls = client.post("/v1/suggest", json={"session": "nulls", "history": HISTORY, "top_k": None, "state": None})
    assert nulls.status_code == 200, nulls.text
    assert nulls.json()["suggestions"] == left_out["suggestions"]
    for field, message in (("session", "session: input should be a valid string"), ("history", "history: input should be a valid list")):
        response = client.post("/v1/suggest", json={"session": "nulls", "history": HISTORY, field: None})
        assert response.status_code == 422 and response.json()["detail"] == message


def test_a_foreign_host_header_is_refused(client):
    response = client.get("/v1/health", headers={"Host": "attacker.example:8765"})
    assert response.status_code == 400
    assert "attacker.example" in response.json()["detail"]


def test_openapi_schema_is_valid_and_complete(client):
    schema = client.get("/openapi.json").json()
    validate_openapi_spec(schema)
    assert set(schema["paths"]) == {"/v1/suggest", "/v1/feedback", "/v1/health"}
    names = set(schema["components"]["schemas"])
    for name in ("SuggestRequest", "SuggestResponse", "FeedbackRequest", "FeedbackResponse", "HealthResponse", "ErrorResponse"):
        assert name in names
    for path in ("/v1/suggest", "/v1/feedback"):
        responses = schema["paths"][path]["post"]["responses"]
        assert {"200", "413", "415", "422"} <= set(responses)
        assert responses["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    event = schema["components"]["schemas"]["SuggestRequest"]["properties"]["history"]["items"]
    assert event["required"] == ["t"] and "action" in event["properties"]


def test_answers_match_the_openapi_schema(client):
    schema = client.get("/openapi.json").json()

    def check(instance, name):
        OAS31Validator({"$ref": f"#/components/schemas/{name}", "components": schema["components"]}).validate(instance)

    check(client.post("/v1/suggest", json={"session": "s", "history": HISTORY}).json(), "SuggestResponse")
    check(client.get("/v1/health").json(), "HealthResponse")
    check(client.post("/v1/suggest", content="{", headers={"Content-Type": "application/json"}).json(), "ErrorResponse")
    check({"session": "s", "history": HISTORY, "top_k": 2}, "SuggestRequest")
    # null is an optional field left out (the server takes it): the schema a client is generated from says so
    with_nulls = {"SuggestRequest": {"session": "s", "history": HISTORY, "top_k": None, "state": None},
                  "FeedbackRequest": {"session": "s", "accepted": False, "history": None, "t": 3.0, "shown_at": None, "actual": None,
                                      "suggestion": None, "outcome": None, "reason": None}}
    for name, body in with_nulls.items():
        response = client.post("/v1/" + name[:-len("Request")].lower(), json=body)
        assert response.status_code == 200, response.text
        check(body, name)
    with pytest.raises(ValidationError):  # a required field's null is refused, by the server and the schema alike
        check({"session": None, "history": HISTORY}, "SuggestRequest")


class Broken(Predictor):
    """A predictor with a bug."""

    name = "broken"

    def predict(self, context: Context, k: int = 3) -> Prediction:
        raise ZeroDivisionError("bug")


def test_a_failing_predictor_gives_a_500_and_the_server_stays_up(tags_domain, tmp_path, caplog):
    """Its traceback is logged once; each later failure of the same kind is one line (a traceback a request flooded the log)."""
    with caplog.at_level(logging.ERROR, logger="nep.server"), BackgroundServer(create_app(tags_domain, Broken(), data_dir=tmp_path)) as running:
        with httpx.Client(base_url=running.url) as http:
            for _ in range(3):
                response = http.post("/v1/suggest", json={"session": "s", "history": HISTORY})
                assert response.status_code == 500
                assert response.json()["detail"] == "the predictor failed (ZeroDivisionError); see the server log"
            assert http.get("/v1/health").status_code == 200
    failures = [record for record in caplog.records if "the predictor failed" in record.getMessage()]
    assert [record.exc_info is not None for record in failures] == [True, False, False], [record.getMessage() for record in failures]
    assert failures[-1].getMessage() == "the predictor failed again: ZeroDivisionError: bug (its traceback is logged above)"


class BrokenContract(Predictor):
    """A predictor whose domain's plugin broke a contract NEP checks (an encoder returning no token strings)."""

    name = "contract"

    def predict(self, context: Context, k: int = 3) -> Prediction:
        raise PluginFault("plugin 'x' (nep-x) failed in XEncoder.encode: returned a dict, not a list of token strings")


def test_a_plugin_breaking_a_contract_in_a_prediction_is_named_in_the_500(tags_domain, tmp_path):
    """NEP's own check names the plugin; the 500 said only `the predictor failed (PluginFault)`."""
    with BackgroundServer(create_app(tags_domain, BrokenContract(), data_dir=tmp_path)) as running:
        response = httpx.post(f"{running.url}/v1/suggest", json={"session": "s", "history": HISTORY})
    assert response.status_code == 500
    assert response.json()["detail"] == ("the predictor failed: plugin 'x' (nep-x) failed in XEncoder.encode: returned a dict, "
                                         "not a list of token strings")


class ConcurrencyProbe(Predictor):
    """Counts how many predictions run at once (it should be one: the server holds a lock)."""

    name = "probe"

    def __init__(self):
        self.active = 0
        self.most = 0

    def predict(self, context: Context, k: int = 3) -> Prediction:
        self.active += 1
        self.most = max(self.most, self.active)
        time.sleep(0.005)
        self.active -= 1
        return Prediction([], 1.0)


def test_a_predictor_that_is_not_thread_safe_runs_one_request_at_a_time(tags_domain, tmp_path):
    probe = ConcurrencyProbe()
    failures = []
    with BackgroundServer(create_app(tags_domain, probe, data_dir=tmp_path)) as running:

        def worker(session):
            with httpx.Client(base_url=running.url) as http:
                for _ in range(5):
                    response = http.post("/v1/suggest", json={"session": session, "history": HISTORY})
                    if response.status_code != 200:
                        failures.append(response.text)

        threads = [threading.Thread(target=worker, args=(f"c-{index}",)) for index in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert probe.most == 1


@pytest.fixture(scope="module")
def token_server(tags_domain, tmp_path_factory):
    app = create_app(tags_domain, InnermostClose(), data_dir=tmp_path_factory.mktemp("feedback"), token=TOKEN)
    with BackgroundServer(app) as running:
        yield running


@pytest.mark.parametrize(
    "authorization, problem",
    [
        (None, "a bearer token is required"),
        ("Bearer wrong", "the bearer token is wrong"),
        (f"Bearer {TOKEN}x", "the bearer token is wrong"),
        (f"Basic {TOKEN}", "expected 'Authorization: Bearer <token>'"),
        ("Bearer", "expected 'Authorization: Bearer <token>'"),
    ],
)
def test_token_is_required_when_set(token_server, authorization, problem):
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(base_url=token_server.url, headers=headers) as http:
        for response in (
            http.post("/v1/suggest", json={"session": "s", "history": HISTORY}),
            http.post("/v1/feedback", json={"session": "s", "accepted": True, "t": 1.0}),
            http.get("/v1/health"),
            http.post("/v1/suggest", content="{not json", headers={"Content-Type": "application/json"}),
        ):
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert problem in response.json()["detail"]


def test_the_right_token_is_let_in(token_server):
    with httpx.Client(base_url=token_server.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        assert http.post("/v1/suggest", json={"session": "s", "history": HISTORY}).status_code == 200
        assert http.get("/v1/health").status_code == 200
        assert http.head("/v1/health").status_code == 200
    assert httpx.head(f"{token_server.url}/v1/health").status_code == 401  # HEAD needs the token as GET does
    schema = httpx.get(f"{token_server.url}/openapi.json").json()
    validate_openapi_spec(schema)
    assert schema["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert schema["paths"]["/v1/suggest"]["post"]["security"] == [{"bearer": []}]


def test_verifiers_too_slow_for_serving_are_not_asked(tags_domain):
    from dataclasses import replace

    from nep_core.server.suggest import SuggestionService
    from nep_core.verifier import Verdict, Verifier

    class Slow(Verifier):
        name, serving, calls = "slow", False, 0

        def verify(self, context, predicted, reference=None):
            Slow.calls += 1
            return Verdict(False, 0.0)

    from nep_core.sessionlog import parse_event

    context = Context(history=[parse_event(event) for event in HISTORY])
    slow = Slow()
    domain = replace(tags_domain, verifiers={**tags_domain.verifiers, "slow": slow})
    checked, dropped = SuggestionService(domain, InnermostClose()).suggest(context, 3)
    assert [item.action for item in checked.suggestions] == [Action("close", target="b")] and dropped == 2
    assert Slow.calls == 0
    slow.serving = True
    checked, dropped = SuggestionService(domain, InnermostClose()).suggest(context, 3)
    assert checked.suggestions == [] and dropped == 3 and Slow.calls >= 1


@pytest.mark.parametrize(
    ("verdict", "logged"),
    [
        ("raise", "verifier 'broken' of domain 'tags' raised KeyError: 'x' (test_server.py:"),
        ("tuple", "verifier 'broken' of domain 'tags' returned tuple, not a Verdict; the suggestions it judges are dropped"),
        ("nan", "verifier 'broken' of domain 'tags' gave the reward nan, not a finite number"),
    ],
)
def test_a_broken_verifier_drops_suggestions_and_is_logged_once_per_kind_without_a_traceback(tags_domain, caplog, verdict, logged):
    """A verifier returning a tuple was a 500; one that raised logged a traceback for every suggestion."""
    import logging
    from dataclasses import replace

    from nep_core.server.suggest import SuggestionService
    from nep_core.sessionlog import parse_event
    from nep_core.verifier import Verdict, Verifier

    class Broken(Verifier):
        name = "broken"

        def verify(self, context, predicted, reference=None):
            if verdict == "raise":
                raise KeyError("x")
            return (True, 1.0) if verdict == "tuple" else Verdict(True, float("nan"))

    context = Context(history=[parse_event(event) for event in HISTORY])
    service = SuggestionService(replace(tags_domain, verifiers={"broken": Broken()}), InnermostClose())
    with caplog.at_level(logging.INFO, logger="nep.server"):
        for _ in range(3):
            checked, dropped = service.suggest(context, 3)
            assert checked.suggestions == [] and dropped == 3
    records = [record for record in caplog.records if record.name == "nep.server"]
    assert len(records) == 1, [record.getMessage() for record in records]
    assert records[0].exc_info is None and "\n" not in records[0].getMessage()
    assert logged in records[0].getMessage()
