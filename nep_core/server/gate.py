"""Who runs the predictor next: requests before speculative work, and only a session's newest request.

Every ``/v1/suggest`` request takes a ``Ticket`` when it arrives (on the event loop, so in arrival
order). A request waits at the gate while another prediction runs (one at a time, unless the
predictor is thread-safe); when a newer request for the same session arrives meanwhile, the waiting
one leaves with ``Superseded`` instead of spending a prediction on a history the client has already
moved past (the server answers it with 409). A prediction that is already running finishes.
Background work (speculation) enters only when no request runs or waits, and none has for a moment
(``background(quiet)``): requests come in bursts (an app asks as its user works), and work started
between two requests of a burst would only hold up the next one.
"""

from __future__ import annotations

import itertools
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator


class Superseded(Exception):
    """A newer request for the same session arrived while this one waited."""

    def __init__(self, session: str):
        super().__init__(f"superseded: a newer request for session '{session}' arrived while this one waited")
        self.session = session


@dataclass(frozen=True)
class Ticket:
    """A request's place in its session's order."""

    session: str
    number: int


class PredictorGate:
    """Admission to the predictor; ``exclusive``: one prediction at a time."""

    def __init__(self, exclusive: bool = True):
        self.exclusive = exclusive
        self._condition = threading.Condition()
        self._numbers = itertools.count(1)
        self._newest: dict[str, int] = {}
        self._open: dict[str, int] = {}
        self._running = 0
        self._waiting = 0
        self._quiet_since = time.monotonic()

    def arrive(self, session: str) -> Ticket:
        """A ticket for a request of ``session``; older waiting requests of the session give up."""
        with self._condition:
            ticket = Ticket(session, next(self._numbers))
            self._quiet_since = time.monotonic()
            self._newest[session] = ticket.number
            self._open[session] = self._open.get(session, 0) + 1
            self._condition.notify_all()
            return ticket

    def leave(self, ticket: Ticket) -> None:
        """The request of ``ticket`` is answered (call it exactly once per ``arrive``)."""
        with self._condition:
            self._quiet_since = time.monotonic()
            self._condition.notify_all()
            left = self._open.get(ticket.session, 1) - 1
            if left <= 0:
                self._open.pop(ticket.session, None)
                self._newest.pop(ticket.session, None)
            else:
                self._open[ticket.session] = left

    @property
    def waiting(self) -> int:
        """Requests waiting for the predictor now."""
        with self._condition:
            return self._waiting

    @property
    def open_sessions(self) -> int:
        """Sessions with a request not yet answered (the gate remembers no others)."""
        with self._condition:
            return len(self._open)

    def superseded(self, ticket: Ticket) -> bool:
        with self._condition:
            return self._is_superseded(ticket)

    def _is_superseded(self, ticket: Ticket) -> bool:
        return self._newest.get(ticket.session, ticket.number) != ticket.number

    @contextmanager
    def request(self, ticket: Ticket | None = None) -> Iterator[None]:
        """Hold the predictor for a request; ``Superseded`` if a newer one of its session came first."""
        with self._condition:
            self._waiting += 1
            try:
                while True:
                    if ticket is not None and self._is_superseded(ticket):
                        raise Superseded(ticket.session)
                    if not (self.exclusive and self._running):
                        break
                    self._condition.wait()
                self._running += 1
            finally:
                self._waiting -= 1
        try:
            yield
        finally:
            self._release()

    @contextmanager
    def background(self, quiet: float = 0.0) -> Iterator[None]:
        """Hold the predictor for background work, once no request is open and none has arrived or
        been answered for ``quiet`` seconds."""
        with self._condition:
            while True:
                if self._running or self._waiting or self._open:
                    self._condition.wait()
                    continue
                left = quiet - (time.monotonic() - self._quiet_since)
                if left <= 0:
                    break
                self._condition.wait(left)
            self._running += 1
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._condition:
            self._running -= 1
            self._condition.notify_all()
