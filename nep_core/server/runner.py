"""Running the app with uvicorn on a bound socket: in the foreground (`nep serve`) or in a thread.

A shutdown (Ctrl-C, SIGTERM, ``BackgroundServer.stop``) stops accepting connections and closes the
idle ones, then waits for every request in flight to be answered, however long it takes: a request
cut off part way would leave its client with an error for feedback that was written. A second
Ctrl-C stops at once.
"""

from __future__ import annotations

import signal
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from nep_core.server.binding import bind_socket, socket_url


KEEP_ALIVE_SECONDS = 5
"""How long an idle keep-alive connection stays open (uvicorn's default); a client reconnects after."""


def make_server(app: FastAPI, *, log_level: str = "warning", keep_alive: float = KEEP_ALIVE_SECONDS) -> uvicorn.Server:
    """A uvicorn server for ``app``; per-request access logs only at ``info`` or ``debug``."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=log_level in ("info", "debug"),
        lifespan="on",
        server_header=False,
        timeout_keep_alive=keep_alive,
        timeout_graceful_shutdown=None,  # the requests in flight are answered, not cut off
    )
    return uvicorn.Server(config)


def serve_forever(app: FastAPI, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Serve ``app`` on ``sock`` until SIGINT or SIGTERM; either raises KeyboardInterrupt after the graceful shutdown.

    uvicorn raises the signal it caught again once it has shut down; SIGTERM's default action would
    then end the process before the caller could finish (say it stopped, exit 0), as a service manager expects."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        make_server(app, log_level=log_level).run(sockets=[sock])
    finally:
        if in_main_thread and previous is not None:  # None: a handler set from C, which Python cannot put back
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt


class BackgroundServer:
    """``with BackgroundServer(app) as server: httpx.get(server.url + "/v1/health")``: a real HTTP server on loopback."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning",
                 keep_alive: float = KEEP_ALIVE_SECONDS):
        self.app = app
        self.host = host
        self.port = port
        self.log_level = log_level
        self.keep_alive = keep_alive
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._sock = bind_socket(self.host, self.port)
        self.url = socket_url(self._sock)
        self._server = make_server(self.app, log_level=self.log_level, keep_alive=self.keep_alive)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="nep-server", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
