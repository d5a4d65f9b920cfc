"""Fuzzing the server through its own OpenAPI schema: whatever arrives, the answer is a 2xx or a 4xx
with the error shape, never a 5xx, and the server stays up.

Bodies come from the request schemas in /openapi.json (``hypothesis-jsonschema``): valid by the
schema, but with any kinds, payloads and times, so many are refused by the session-log parser. Then
bodies the schema does not allow: any JSON value, deeply nested values, and raw bytes. A real server
on loopback, the real n-gram baseline behind it; derandomized, a fixed number of examples.
"""

from __future__ import annotations

import collections
import json

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from nep_core.inference.factory import load_predictor
from nep_core.server import create_app
from nep_core.server.runner import BackgroundServer

MAX_BODY = 16 * 1024
FUZZ = settings(max_examples=80, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def running(tags_domain, tmp_path_factory):
    app = create_app(tags_domain, load_predictor("ngram", tags_domain), data_dir=tmp_path_factory.mktemp("fuzz"), max_body_bytes=MAX_BODY)
    with BackgroundServer(app) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            yield http


@pytest.fixture(scope="module")
def openapi(running) -> dict:
    return running.get("/openapi.json").json()


def request_schema(openapi: dict, path: str) -> dict:
    """The request body schema of ``path``, with the components its references point to, and arrays and
    objects of at most a few items (so that each example is quick to make; sizes have their own tests)."""
    body = openapi["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return small({**body, "components": openapi["components"]})


def small(schema):
    if isinstance(schema, list):
        return [small(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: small(value) for key, value in schema.items()}
    if out.get("type") == "array":
        out.setdefault("maxItems", 3)
    if out.get("type") == "object" or "properties" in out:
        out.setdefault("maxProperties", 6)
    return out


def check_answer(http: httpx.Client, response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body["detail"], str) and body["detail"] and isinstance(body["errors"], list)
        assert "Traceback" not in response.text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)


ACCEPTED = {
    "/v1/suggest": {"session": "fuzz-known", "history": [{"t": 0.0, "action": {"kind": "open", "target": "a"}}]},
    "/v1/feedback": {"session": "fuzz-known", "accepted": False, "t": 1.0},
}


@pytest.mark.parametrize("path", ["/v1/suggest", "/v1/feedback"])
def test_bodies_the_schema_allows_are_answered_without_a_server_error(running, openapi, path):
    statuses: collections.Counter[int] = collections.Counter()

    @FUZZ
    @given(body=from_schema(request_schema(openapi, path)))
    @example(body=ACCEPTED[path])  # one body known to be accepted, whatever the generator draws
    def fuzz(body):
        response = running.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})
        check_answer(running, response)
        statuses[response.status_code] += 1

    fuzz()
    assert statuses[200] and statuses[422], statuses  # both accepted and refused bodies were reached
    assert running.get("/v1/health").json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/v1/suggest", "/v1/feedback"])
def test_any_json_value_is_answered_without_a_server_error(running, path):
    session = st.sampled_from(["s", "ok-1", "../x", "", "a" * 200])
    bodies = JSON_VALUES | st.fixed_dictionaries(
        {"session": session, "history": st.lists(JSON_VALUES, max_size=4)},
        optional={"accepted": JSON_VALUES, "top_k": JSON_VALUES, "state": JSON_VALUES, "t": JSON_VALUES},
    )

    @FUZZ
    @given(body=bodies)
    def fuzz(body):
        check_answer(running, running.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"}))

    fuzz()
    assert running.get("/v1/health").json()["status"] == "ok"


def test_deep_nesting_and_raw_bytes_are_refused_with_a_4xx(running):
    @FUZZ
    @given(depth=st.integers(min_value=30, max_value=20_000), opener=st.sampled_from(["[", '{"a":']), where=st.sampled_from(["state", "history"]))
    def deep(depth, opener, where):
        closer = "]" if opener == "[" else "}"
        nested = opener * depth + "1" + closer * depth
        if where == "state":
            body = '{"session": "s", "history": [], "state": {"x": ' + nested + "}}"
        else:
            body = '{"session": "s", "history": [{"t": 0, "state": {"x": ' + nested + "}}]}"
        response = running.post("/v1/suggest", content=body, headers={"Content-Type": "application/json"})
        check_answer(running, response)
        assert response.status_code in (413, 422) or depth < 32

    @FUZZ
    @given(raw=st.binary(max_size=300))
    def garbage(raw):
        response = running.post("/v1/suggest", content=raw, headers={"Content-Type": "application/json"})
        check_answer(running, response)
        assert response.status_code in (200, 400, 422)

    deep()
    garbage()
    assert running.get("/v1/health").json()["status"] == "ok"
