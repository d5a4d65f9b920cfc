"""The local suggestion server: ``create_app(domain, predictor, data_dir=...)`` builds the FastAPI app.

``POST /v1/suggest`` answers checked suggestions for a session's history, ``POST /v1/feedback``
appends what the user did with them to the session's log, ``GET /v1/health`` says what is served (and
``HEAD /v1/health`` answers as GET without the body, for health checks).
Predictions and fsyncs run in threads, so they never block the event loop, and feedback has threads
of its own, so a burst of slow writes never takes the ones suggestions need; a suggest request
takes its place in its session's order on the loop, as it arrives (``nep_core.server.gate``), and
the speculation on its answer is queued only once the answer is sent. docs/serving.md describes the
protocol.
"""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Collection, Mapping

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import FastAPI, Response
from starlette.concurrency import run_in_threadpool

from nep_core import __version__
from nep_core.appkit.sessionlog import ForeignFile
from nep_core.domain import Domain
from nep_core.errors import PluginFault, first_line
from nep_core.inference.predictor import Predictor
from nep_core.plugins import plugin_failure
from nep_core.server.errors import ApiError, install_error_handlers
from nep_core.server.events import parse_action, parse_history, parse_state
from nep_core.server.feedback import FeedbackStore, StoreClosed, feedback_records
from nep_core.server.gate import Superseded, Ticket
from nep_core.server.guard import LOOPBACK_HOSTS, PROTECTED_PREFIX, RequestGuard, check_token
from nep_core.server.limits import BodyLimits
from nep_core.server.schemas import (
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    SpeculationStats,
    SuggestionOut,
    SuggestRequest,
    SuggestResponse,
    outcome_problem,
)
from nep_core.server.defaults import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HISTORY_EVENTS, DEFAULT_MAX_JSON_DEPTH
from nep_core.server.history_cache import ParsedHistories
from nep_core.server.speculation import SpeculationSettings
from nep_core.server.suggest import Answer, SuggestionService, first_time, raise_kind
from nep_core.session import Context, latest_state

SUGGEST_PATH, FEEDBACK_PATH, HEALTH_PATH = "/v1/suggest", "/v1/feedback", "/v1/health"

log = logging.getLogger("nep.server")

FEEDBACK_THREADS = 8
"""Feedback writes at once; more wait on the event loop, not in the threads suggestions run in."""

_feedback_threads: RunVar[CapacityLimiter] = RunVar("nep_feedback_threads")


def feedback_threads() -> CapacityLimiter:
    """The running event loop's limiter for feedback writes (anyio's own default limiter is kept the same way)."""
    try:
        return _feedback_threads.get()
    except LookupError:
        limiter = CapacityLimiter(FEEDBACK_THREADS)
        _feedback_threads.set(limiter)
        return limiter


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    reasons = {
        400: "Bad Host or Content-Length header",
        401: "Missing or wrong bearer token (only when the server has one)",
        409: "Superseded: a newer /v1/suggest request for the same session arrived while this one waited; "
        "for /v1/feedback, the session's log file is not a NEP log of this domain",
        413: "Body over the size limit",
        421: "The request names another domain (`domain`) than the one this server serves",
        415: "Body is not application/json",
        422: "Body is not valid: `detail` says what and where",
        500: "The predictor failed, or the feedback log could not be written",
        503: "The server is shutting down: the feedback was not written",
    }
    return {status: {"model": ErrorResponse, "description": reasons[status]} for status in statuses}


def create_app(
    domain: Domain,
    predictor: Predictor,
    *,
    data_dir: str | Path,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_history_events: int = DEFAULT_MAX_HISTORY_EVENTS,
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH,
    model_name: str | None = None,
    allowed_hosts: Collection[str] | None = LOOPBACK_HOSTS,
    speculation: SpeculationSettings | None = None,
) -> FastAPI:
    """The server app for one domain and one predictor; feedback logs go under ``data_dir/<domain>/``.

    ``allowed_hosts`` are the Host header values served (None: any, for ``--allow-remote``).
    ``speculation``: how the next suggestion is precomputed on accept (default ``SpeculationSettings()``;
    ``SpeculationSettings(suggestions=0)`` turns it off). A token no client could send is a ``NepError``.
    """
    check_token(token)
    model_name = model_name or getattr(predictor, "name", "") or type(predictor).__name__
    service = SuggestionService(domain, predictor, speculation)
    store = FeedbackStore(data_dir, domain.name)
    histories = ParsedHistories()
    space = domain.action_space

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await run_in_threadpool(store.close)  # waits for the appends in progress, off the event loop
        service.close()

    app = FastAPI(
        title="NEP suggestion server",
        version=__version__,
        description=f"Next-edit suggestions for the `{domain.name}` domain from `{model_name}`. See docs/serving.md.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc would load scripts from a CDN into the server's origin
        redoc_url=None,
        redirect_slashes=False,  # `/v1/suggest/` is a 404 in NEP's error shape, not a 307 with an empty body
    )
    app.state.service = service
    app.state.histories = histories
    install_error_handlers(app)
    app.add_middleware(BodyLimits, max_body_bytes=max_body_bytes, json_paths=(SUGGEST_PATH, FEEDBACK_PATH))
    app.add_middleware(RequestGuard, token=token, allowed_hosts=allowed_hosts)
    if token:
        _declare_bearer_auth(app)

    def check_domain(asked: str | None) -> None:
        """Refuse a request from an app of another domain (its port taken by this server), naming both."""
        if asked is not None and asked != domain.name:
            raise ApiError(421, f"this server serves the '{domain.name}' domain, not '{asked[:60]}': start `nep serve --domain "
                                f"{asked[:60]}` (with another --port to keep this one)", "domain")

    def request_context(request: SuggestRequest) -> tuple[Context, Mapping[str, Any] | None, int]:
        """The request's context, its explicit state (None: the history's) and its history's bytes, marshalled."""
        events, history_bytes = histories.parse_sized(request.session, request.history, space, max_events=max_history_events,
                                                      max_depth=max_json_depth, state_problem=domain.encoder.state_problem)
        state = parse_state(request.state, max_depth=max_json_depth, state_problem=domain.encoder.state_problem)
        context = Context(history=events, state=state if state is not None else latest_state(events), session_id=request.session)
        return context, state, history_bytes

    def response_of(answer: Answer, started: float) -> SuggestResponse:
        prediction = answer.prediction
        return SuggestResponse(
            suggestions=[
                SuggestionOut(
                    action=item.action.to_json(),
                    probability=round(item.probability, 6),
                    confidence=round(prediction.confidence(item), 6),
                    label=item.label,
                )
                for item in prediction.suggestions
            ],
            p_no_edit=round(prediction.p_no_edit, 6),
            best_is_no_edit=prediction.best.is_no_edit,
            dropped=answer.dropped,
            speculative=answer.speculative,
            latency_ms=round((time.perf_counter() - started) * 1000.0, 3),
            model=model_name,
            domain=domain.name,
            request_id=answer.request_id,
        )

    def answer_suggest(request: SuggestRequest, ticket: Ticket) -> tuple[SuggestResponse, list]:
        started = time.perf_counter()
        context, state, history_bytes = request_context(request)
        try:
            answer = service.answer(context, state, request.top_k, ticket, history_bytes)
        except Superseded as error:
            raise ApiError(409, str(error), "session") from None
        except Exception as error:  # answered here, so the connection stays open for the next request
            # a plugin's code failed, or broke its contract (NEP's own check says which): name it, and where, as the CLI does
            fault = plugin_failure(error) or (str(error) if isinstance(error, PluginFault) else None)
            if first_time(predictor, raise_kind(error)):  # its traceback once, then a line a request
                log.exception("the predictor failed" + (f": {fault}" if fault else ""))
            else:
                log.error("the predictor failed again: %s (its traceback is logged above)", fault or f"{type(error).__name__}: {first_line(error)}")
            raise ApiError(500, f"the predictor failed: {fault}" if fault else f"the predictor failed ({type(error).__name__}); see the server log") from None
        return response_of(answer, started), answer.follow_ups

    def ready_suggest(request: SuggestRequest) -> tuple[SuggestResponse, list] | None:
        """The answer from a finished speculation when it needs no prediction (see ``ready_answer``),
        given on the event loop without the hop to a worker thread; None: ``answer_suggest`` it."""
        if not service.speculations.has_finished(request.session):
            return None
        started = time.perf_counter()
        context, state, history_bytes = request_context(request)
        try:
            answer = service.ready_answer(context, state, request.top_k, history_bytes)
        except Exception:  # the worker thread's path answers it, and reports what fails there
            log.exception("answering from a finished speculation failed")
            return None
        return None if answer is None else (response_of(answer, started), answer.follow_ups)

    @app.post(SUGGEST_PATH, response_model=SuggestResponse, responses=_errors(400, 401, 409, 413, 415, 421, 422, 500))
    async def suggest(request: SuggestRequest) -> Response:
        """The top-k checked suggestions for what follows the session's history, and P(no edit)."""
        check_domain(request.domain)
        ticket = service.gate.arrive(request.session)
        try:
            ready = ready_suggest(request)
            response, follow_ups = ready if ready is not None else await run_in_threadpool(answer_suggest, request, ticket)
        finally:
            service.gate.leave(ticket)
        if follow_ups:  # queued before the answer leaves, so a client's next request can find them;
            service.speculations.submit(follow_ups)  # they start only after a quiet moment (SpeculationSettings.quiet)
        # Written by pydantic directly: FastAPI would validate the model it was just built from once more
        # and encode it in Python (a few strokes' points make that about half a millisecond).
        return Response(response.model_dump_json(), media_type="application/json")

    @app.post(FEEDBACK_PATH, response_model=FeedbackResponse, responses=_errors(400, 401, 409, 413, 415, 421, 422, 500, 503))
    async def feedback(request: FeedbackRequest) -> FeedbackResponse:
        """Append optional events, the feedback record and the actual next action to the session's log (fsynced)."""
        return await anyio.to_thread.run_sync(write_feedback, request, limiter=feedback_threads())

    def write_feedback(request: FeedbackRequest) -> FeedbackResponse:
        check_domain(request.domain)
        events = parse_history(request.history, space, max_events=max_history_events, max_depth=max_json_depth,
                               state_problem=domain.encoder.state_problem)
        suggestion = actual = suggested = None
        if request.suggestion is not None:
            suggested = parse_action(request.suggestion, space, "suggestion", max_depth=max_json_depth)
            suggestion = suggested.to_json()
        if request.actual is not None:
            actual = parse_action(request.actual, space, "actual", max_depth=max_json_depth).to_json()
        if problem := outcome_problem(request.outcome, request.accepted):
            raise ApiError(422, problem, "outcome")
        t = request.t if request.t is not None else request.shown_at
        if t is None:
            if not events:
                raise ApiError(422, "required when neither shown_at nor history is given", "t")
            t = events[-1].t
        records = [event.to_json() for event in events]
        records += feedback_records(
            t=t,
            accepted=request.accepted,
            suggestion=suggestion,
            shown_at=request.shown_at,
            request_id=request.request_id,
            actual=actual,
            outcome=request.outcome,
            reason=request.reason,
        )
        try:
            path = store.append(request.session, records)
        except StoreClosed:
            raise ApiError(503, "the server is shutting down; nothing was written: send it again once it is back") from None
        except (ForeignFile, IsADirectoryError):  # a file that is no log of the domain, or a folder
            where = store.path(request.session).relative_to(store.data_dir).as_posix()
            log.warning("%s is not a session log of domain %s: feedback for it refused", where, domain.name)
            raise ApiError(409, f"{where} in the server's data folder is not a session log of domain '{domain.name}': "
                                "nothing was written; move it away", "session") from None
        except OSError as error:
            log.exception("writing the feedback log of session %s failed", request.session)
            raise ApiError(500, f"could not write the feedback log ({error.strerror or error})") from None
        if not request.accepted:  # only once it is written: a refused request changes nothing, and is sent again
            service.speculations.discard(request.session, suggested, request.request_id)
        return FeedbackResponse(
            session=request.session, records=len(records), log=path.relative_to(store.data_dir).as_posix()
        )

    @app.get(HEALTH_PATH, response_model=HealthResponse, responses=_errors(400, 401))
    async def health() -> HealthResponse:
        """What this server serves (answered on the event loop: it never blocks)."""
        return HealthResponse(
            status="ok",
            domain=domain.name,
            model=model_name,
            version=__version__,
            speculation=SpeculationStats(**service.speculations.snapshot()),
        )

    # HEAD, as `curl -I`, load balancers and probes ask: FastAPI's routes answer only the methods they
    # name (GET alone is a 405 for HEAD, unlike Starlette's), so the same endpoint answers it, with GET's
    # headers; the HTTP server sends no body for HEAD. Left out of the schema: HEAD is implied by GET.
    app.add_api_route(HEALTH_PATH, health, methods=["HEAD"], response_model=HealthResponse, include_in_schema=False)
    return app


def _declare_bearer_auth(app: FastAPI) -> None:
    """Add the bearer scheme to the OpenAPI schema of the ``/v1/`` endpoints (RequestGuard enforces it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        if "bearer" not in schemes:
            schemes["bearer"] = {"type": "http", "scheme": "bearer"}
            for path, operations in schema.get("paths", {}).items():
                if path.startswith(PROTECTED_PREFIX):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
        return schema

    app.openapi = openapi
