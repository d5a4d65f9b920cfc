"""The server's request and response bodies (pydantic); they are also its OpenAPI schema.

Events and actions arrive as plain JSON objects in the session-log format (DESIGN.md section 5) and
are parsed by ``nep_core.sessionlog.parse_event`` and ``Action.from_json``, so that the server and
the log reader accept exactly the same things. Their JSON schemas here document that format.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

SESSION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
SESSION_ID_RULE = "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
MAX_TOP_K = 20

ACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Action",
    "description": "One domain action, as in the session log: the domain's docs list its kinds and payloads.",
    "properties": {
        "kind": {"type": "string", "minLength": 1, "description": "The operation, e.g. `open`, `stroke`."},
        "target": {"description": "Where it happens (any JSON value): a file range, an object, a clip."},
        "args": {"type": "object", "description": "Typed arguments; numbers must be finite."},
        "context": {"type": "object", "description": "What the app knew when it happened (mode, selection)."},
        "edit": {"type": "boolean", "default": True, "description": "False for views, selection, navigation."},
    },
    "required": ["kind"],
    "additionalProperties": False,
}

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Event",
    "description": "One session-log event: `t` plus exactly one of `action`, `state` or `feedback`.",
    "properties": {
        "t": {"type": "number", "description": "Seconds since the session started."},
        "action": ACTION_SCHEMA,
        "state": {"type": "object", "description": "A domain state snapshot."},
        "feedback": {
            "type": "object",
            "description": "A feedback record, as /v1/feedback writes it: `accepted`, and optionally `suggestion`, "
            "`shown_at`, `outcome`, `reason`, `request_id` (see FeedbackRequest).",
        },
    },
    "required": ["t"],
    "additionalProperties": False,
}


def _check_session_id(value: str) -> str:
    if not re.fullmatch(SESSION_ID_PATTERN, value):
        raise ValueError(SESSION_ID_RULE)
    return value


SessionId = Annotated[
    str,
    AfterValidator(_check_session_id),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": SESSION_ID_PATTERN,
            "minLength": 1,
            "maxLength": 128,
            "description": "The client's session id; it names the log file, so it " + SESSION_ID_RULE + ".",
        }
    ),
]
def _check_one_line(value: str) -> str:
    if "".join(value.splitlines()) != value:  # what the apps cut a reason at (appkit's feedback_record)
        raise ValueError("must be one line, without a line break")
    return value


ActionJson = Annotated[dict[str, Any], WithJsonSchema(ACTION_SCHEMA)]
EventJson = Annotated[dict[str, Any], WithJsonSchema(EVENT_SCHEMA)]


def _optional_admits_null(schema: dict[str, Any], model: type) -> None:
    """The JSON schema says what ``_Body`` accepts: every optional property may also be null (taken as left out)."""
    required = set(schema.get("required", ()))
    for name, prop in schema.get("properties", {}).items():
        if name in required or {"type": "null"} in prop.get("anyOf", ()):
            continue
        keep = {key: prop.pop(key) for key in ("default", "description", "title") if key in prop}
        inner = dict(prop)
        prop.clear()
        prop.update(anyOf=[inner, {"type": "null"}], **keep)


class _Body(BaseModel):
    """Request bodies: unknown fields are an error, types are not coerced, numbers must be finite, and an
    optional field sent as null is taken as left out (its default)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, json_schema_extra=_optional_admits_null)

    @model_validator(mode="before")
    @classmethod
    def _null_is_left_out(cls, data: Any) -> Any:
        if isinstance(data, dict) and None in data.values():  # a required field's null stays, to be refused
            fields = cls.model_fields
            return {key: value for key, value in data.items()
                    if value is not None or key not in fields or fields[key].is_required()}
        return data


APP_DOMAIN = ("The domain the app records (`blender`); a server of another domain answers 421 (Misdirected Request) naming both, before "
              "it reads the history. Apps pointed at the wrong server's port otherwise got a 422 on their first action.")


class SuggestRequest(_Body):
    session: SessionId
    history: list[EventJson] = Field(description="The session so far, oldest first, in session-log format.")
    state: dict[str, Any] | None = Field(
        None, description="The current state snapshot; defaults to the newest `state` event in `history`."
    )
    top_k: int = Field(3, ge=1, le=MAX_TOP_K, description="How many suggestions to ask the predictor for.")
    domain: str | None = Field(None, max_length=200, description=APP_DOMAIN)


class SuggestionOut(BaseModel):
    action: ActionJson
    probability: float = Field(description="The predictor's probability for this exact action.")
    confidence: float = Field(
        description="What an app compares with its minimum confidence and shows the user: `probability`, "
        "or, for a domain that decides by kind of action (krita), the probability of this suggestion's kind."
    )
    label: str = Field(description="A short human label for the action.")


class SuggestResponse(BaseModel):
    suggestions: list[SuggestionOut] = Field(description="Checked suggestions, best first; never NO_EDIT.")
    p_no_edit: float = Field(description="The predictor's probability that the right answer is to suggest nothing.")
    best_is_no_edit: bool = Field(description="True when `p_no_edit` beats every suggestion: show nothing.")
    dropped: int = Field(description="Suggestions refused by the action space or a verifier.")
    speculative: bool = Field(
        False,
        description="True when the answer was computed ahead, while the previous suggestion was shown, as "
        "if it were accepted (this history ends with exactly that action); it is what a fresh prediction gives.",
    )
    latency_ms: float = Field(description="Server time for this request: parsing, prediction and checks.")
    model: str
    domain: str
    request_id: str = Field(description="Send it back with /v1/feedback to link feedback to this answer.")


class FeedbackRecord(_Body):
    """What became of a suggestion: the fields of a session log's ``feedback`` record."""

    accepted: bool = Field(description="Whether the user accepted the suggestion.")
    suggestion: ActionJson | None = Field(None, description="The suggestion that was shown.")
    shown_at: float | None = Field(None, description="Session time (seconds) when it was shown.")
    request_id: str | None = Field(
        None, max_length=64, description="The `request_id` of the /v1/suggest answer that was shown."
    )
    outcome: Literal["accepted", "dismissed", "refused", "ignored"] | None = Field(
        None,
        description="What became of the suggestion: accepted; dismissed by the user; refused by the app "
        "(it cannot run it); ignored (the user did something else). `accepted` must agree with it.",
    )
    reason: Annotated[str, Field(max_length=500), AfterValidator(_check_one_line)] | None = Field(
        None, description="Why the app refused the suggestion, in one line."
    )


def outcome_problem(outcome: str | None, accepted: Any) -> str | None:
    """Why ``outcome`` and ``accepted`` disagree, or None."""
    if outcome is not None and (outcome == "accepted") != accepted:
        return f"outcome '{outcome}' contradicts accepted={str(accepted).lower()}"
    return None


class FeedbackRequest(FeedbackRecord):
    session: SessionId
    domain: str | None = Field(None, max_length=200, description=APP_DOMAIN)
    t: float | None = Field(
        None, description="Session time of the feedback; defaults to `shown_at`, else the last `history` event."
    )
    actual: ActionJson | None = Field(None, description="What the user really did next; logged as an action event.")
    history: list[EventJson] = Field(
        default_factory=list, description="Events to append to the session log before the feedback record."
    )


class FeedbackResponse(BaseModel):
    session: str
    records: int = Field(description="Records appended (and fsynced) to the session log.")
    log: str = Field(description="The log file, relative to the server's data folder.")


class SpeculationStats(BaseModel):
    queued: int = Field(description="Speculations queued since the server started.")
    run: int = Field(description="Speculations the background thread computed.")
    gave_way: int = Field(description="Speculations stopped part way because a request came (or that failed).")
    hits: int = Field(description="Suggest requests answered from a speculation.")
    misses: int = Field(description="Suggest requests predicted afresh.")
    pending: int = Field(description="Speculations queued or running now.")


class HealthResponse(BaseModel):
    status: Literal["ok"]
    domain: str
    model: str
    version: str
    speculation: SpeculationStats


class ErrorItem(BaseModel):
    loc: str = Field(description="Where in the request, e.g. `history[3].action.kind`; empty for the whole request.")
    msg: str


class ErrorResponse(BaseModel):
    detail: str = Field(description="One readable line: what is wrong.")
    errors: list[ErrorItem] = Field(default_factory=list)
