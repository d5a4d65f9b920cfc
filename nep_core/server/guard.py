"""Who may talk to the server: the Host header (against DNS rebinding) and the optional bearer token.

Both are checked from the headers alone, before any body is read. The API schema (``/openapi.json``)
needs no token; every ``/v1/`` endpoint does when one is set.
"""

from __future__ import annotations

import hmac
from typing import Collection

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from nep_core.server.errors import error_response

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
PROTECTED_PREFIX = "/v1/"


def check_token(token: str | None) -> None:
    """A one-line NepError when a client could never send ``token`` in its Authorization header."""
    from nep_core.errors import NepError

    if not token:
        return
    if token != token.strip():
        raise NepError("--token/NEP_SERVER_TOKEN: the token starts or ends with white space, which no Authorization header carries; remove it")
    odd = next((char for char in token if not (char.isascii() and char.isprintable())), None)
    if odd is not None:
        raise NepError(f"--token/NEP_SERVER_TOKEN: the token holds {odd!r}; use printable ASCII only (letters, digits, -._~+/), "
                       "which an Authorization header carries")


def host_name(header: str) -> str:
    """The host of a Host header, without port or IPv6 brackets, lower-cased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class RequestGuard:
    """ASGI middleware: 400 for a Host outside ``allowed_hosts`` (None: any), 401 without the right token."""

    def __init__(self, app: ASGIApp, *, token: str | None = None, allowed_hosts: Collection[str] | None = LOOPBACK_HOSTS):
        self.app = app
        self._token = token.encode("utf-8") if token else None
        self._allowed_hosts = None if allowed_hosts is None else {host.lower() for host in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self._allowed_hosts is not None:
            host = host_name(headers.get("host", ""))
            if host not in self._allowed_hosts:
                allowed = ", ".join(sorted(self._allowed_hosts))
                response = error_response(400, f"Host '{host}' is not served here (allowed: {allowed})", "headers.host")
                await response(scope, receive, send)
                return
        if self._token is not None and scope["path"].startswith(PROTECTED_PREFIX):
            problem = self._token_problem(headers.get("authorization"))
            if problem:
                response = error_response(401, problem, "headers.authorization", {"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _token_problem(self, authorization: str | None) -> str:
        if not authorization:
            return "a bearer token is required: send 'Authorization: Bearer <token>'"
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return "expected 'Authorization: Bearer <token>'"
        if not hmac.compare_digest(presented.strip().encode("utf-8"), self._token):
            return "the bearer token is wrong"
        return ""
