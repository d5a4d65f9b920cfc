"""Error answers: every 4xx and 5xx is ``{"detail": "<one readable line>", "errors": [{"loc", "msg"}]}``."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, Iterable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

log = logging.getLogger("nep.server")

_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ApiError(Exception):
    """A request the server refuses: an HTTP status and what is wrong where."""

    def __init__(self, status: int, msg: str, loc: str = "", headers: dict[str, str] | None = None):
        super().__init__(f"{loc}: {msg}" if loc else msg)
        self.status = status
        self.loc = loc
        self.msg = msg
        self.headers = headers


def error_body(errors: Sequence[tuple[str, str]]) -> dict[str, Any]:
    errors = [(_escaped(loc), _escaped(msg)) for loc, msg in errors]
    detail = "; ".join(f"{loc}: {msg}" if loc else msg for loc, msg in errors)
    return {"detail": detail, "errors": [{"loc": loc, "msg": msg} for loc, msg in errors]}


def error_response(status: int, msg: str, loc: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body([(loc, msg)]), status_code=status, headers=headers)


def _escaped(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (a lone surrogate from the request) as ``\\udc00``."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def lone_surrogate(text: str) -> str | None:
    """The first lone surrogate in ``text`` (JSON's ``"\\udc00"``: no UTF-8 text, so no log, can hold it), or None."""
    if text.isascii():
        return None
    match = _LONE_SURROGATE.search(text)
    return match.group() if match else None


def not_unicode(surrogate: str) -> str:
    return f"must be valid Unicode, without the lone surrogate \\u{ord(surrogate):04x}"


def json_path(parts: Iterable[Any]) -> str:
    """``("history", 3, "action", "kind")`` as ``history[3].action.kind``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def validation_item(error: dict[str, Any]) -> tuple[str, str]:
    loc = list(error.get("loc", ()))
    if loc and loc[0] == "body":
        loc = loc[1:]
    kind = error.get("type", "")
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "JSON decode error")
        where = f" at character {loc[0]}" if loc else ""
        return "body", f"not valid JSON ({reason}{where})"
    if not loc and kind in ("missing", "model_type", "model_attributes_type", "dict_type"):
        return "body", "must be a JSON object"
    if kind == "extra_forbidden":
        return json_path(loc), "unexpected field"
    msg = str(error.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if kind == "missing":
        msg = "field required"
    elif kind == "string_unicode" and isinstance(error.get("input"), str) and (surrogate := lone_surrogate(error["input"])):
        msg = not_unicode(surrogate)  # as the free-form fields say it (events.check_json_value)
    return json_path(loc), msg[:1].lower() + msg[1:]


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    items = [validation_item(error) for error in exc.errors()][:20]
    return JSONResponse(error_body(items), status_code=422)


async def _on_api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.msg, exc.loc, exc.headers)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        msg = f"no such endpoint: {request.url.path} (the API is listed at /openapi.json)"
    elif exc.status_code == 405:
        msg = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(405, msg, headers={"Allow": _allowed_methods(request)})
    elif exc.status_code == 400 and (problem := _body_problem(exc.__cause__)):
        return error_response(422, problem, "body")
    else:
        msg = str(exc.detail)
    return error_response(exc.status_code, msg, headers=getattr(exc, "headers", None))


def _allowed_methods(request: Request) -> str:
    """Every method the request's path answers: Starlette's 405 names only the first route's (GET, not HEAD)."""
    methods = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def _body_problem(cause: BaseException | None) -> str | None:
    """What is wrong with a body FastAPI could not parse (it answers 400 for any error but bad JSON syntax)."""
    if isinstance(cause, RecursionError):
        return "JSON nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{cause.object[cause.start]:02x} at position {cause.start})"
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        return f"holds a number of more than {sys.get_int_max_str_digits()} digits"
    if isinstance(cause, ValueError):
        return f"not valid JSON ({cause})"
    return None


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("error while handling %s %s", request.method, request.url.path)
    return error_response(500, f"internal error ({type(exc).__name__}); see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
