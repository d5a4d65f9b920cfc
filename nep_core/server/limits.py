"""What a request may carry: a JSON body (415 otherwise) of at most ``max_body_bytes`` (413 otherwise).

The size is enforced on the stream, before anything is parsed: a declared Content-Length over the
limit is refused before the body is parsed, and a chunked body as soon as it passes the limit. A
refused body is read and discarded up to ``DRAIN_LIMIT_BYTES`` before the 413 goes out (a client
still sending would otherwise meet a reset connection, not the answer), and the connection is closed.
An accepted body is buffered (it is at most the limit) and handed on unchanged.
"""

from __future__ import annotations

from typing import Collection

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nep_core.server.errors import error_response

BODY_METHODS = ("POST", "PUT", "PATCH")
DRAIN_LIMIT_BYTES = 8 * 1024 * 1024
"""How much of an oversized body is read and discarded so the client sees the 413 answer (a larger
declared one is refused at once; a client that waits for ``100 Continue`` is refused before it sends)."""


def is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class BodyLimits:
    """ASGI middleware enforcing the body size on every request and JSON bodies on ``json_paths``."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, json_paths: Collection[str]):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.json_paths = set(json_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] in BODY_METHODS and scope["path"] in self.json_paths:
            content_type = headers.get("content-type")
            if not is_json_media_type(content_type):
                got = f"'{content_type}'" if content_type else "none"
                response = error_response(415, f"send the body as application/json (got {got})", "headers.content-type")
                await response(scope, receive, send)
                return
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await error_response(400, "Content-Length must be a number of bytes", "headers.content-length")(
                    scope, receive, send
                )
                return
            if int(declared) > self.max_body_bytes:
                if int(declared) <= DRAIN_LIMIT_BYTES and headers.get("expect", "").lower() != "100-continue":
                    await self._drain(receive, True)
                await self._too_large(scope, receive, send, int(declared))
                return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._drain(receive, more)
                await self._too_large(scope, receive, send, None)
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, size: int | None) -> None:
        size_text = f"is {size} bytes" if size is not None else "runs over the limit"
        msg = f"the body {size_text}; this server accepts at most {self.max_body_bytes} bytes (--max-body-bytes)"
        await error_response(413, msg, "body", {"Connection": "close"})(scope, receive, send)

    @staticmethod
    async def _drain(receive: Receive, more: bool) -> None:
        drained = 0
        while more and drained < DRAIN_LIMIT_BYTES:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            drained += len(message.get("body", b""))
            more = message.get("more_body", False)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the buffered body once, then defers to the real one (for disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
