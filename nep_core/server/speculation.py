"""Speculation on accept: the next suggestion, computed while the user looks at the current one.

When the server answers a session's request with a suggestion, it queues a ``Speculation``: the same
request as if the user had accepted that suggestion, i.e. the history with the suggested action
appended as an ordinary action event at ``t = last t + accept_delay``. Domains replay their history
(the code domain applies edits to its files, krita and blender read brushes and modes from it), so
appending the action is exactly how a domain sees an accepted suggestion; the core needs to know
nothing about the domain. The request's explicit ``state``, if it had one, is kept as it was.

The session's next request *matches* a speculation when its history is the speculated one's (the same
events, then exactly the suggested action, at any ``t``, with or without a ``context`` the app logs
it with), with the same ``state`` and ``top_k``. Where the app added a context (Blender's add-on logs
the mode and selection an accepted call ran in), the speculated answer is the answer only when the
predictor reads the same prompt from both (``Predictor.prompt_key``), and it is checked again in the
real context. Otherwise, if the action's ``t`` is the assumed one, the speculated answer is the
answer. Otherwise (the usual case) it is the answer when the predictor says the two inputs are the
same (``Predictor.input_key``: a model compares its encoder's ``time_key``, e.g. the pause's time
bucket, without writing the prompt); verifiers that read times (``Verifier.reads_times``) then check the suggestions again in the real context. Anything
else is a miss and is predicted afresh, so an answer from the cache is always the answer a fresh
prediction would give. A hit on a finished speculation that needs neither a prediction nor a
verifier is answered on the server's event loop (``SuggestionService.ready_answer``), without the
hop to a worker thread and back (about half a millisecond).

Bounds: at most ``SpeculationSettings.suggestions`` speculations per session, kept for at most
``max_sessions`` sessions holding at most ``max_events`` history events and ``max_bytes`` bytes in all
(least recently used sessions go first; a session over a whole budget is not speculated on). A
speculation's bytes are its request's history records and explicit state, marshalled (the history
cache's keys give the history's for free); a session's speculations share them. A session's
speculations are replaced
by its next request, whatever it holds; negative feedback drops the one that accepts the suggestion
turned down (all of them when the feedback names none), and when it names the answer it is on
(``request_id``), only if that answer is the one speculated on. Speculations run one at a
time on one background thread, and only once no request has been open for ``SpeculationSettings.quiet``
seconds (``PredictorGate.background``);
a model's speculation stops before its next decoding step as soon as a request waits
(``Predictor.predict_interruptible``); a queued speculation that a request needs before it ran is
dropped and the request predicts itself.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable, Mapping, Sequence

from nep_core.actions import Action
from nep_core.inference.predictor import Prediction
from nep_core.session import Context, Event, latest_state

if TYPE_CHECKING:
    from nep_core.server.gate import PredictorGate

log = logging.getLogger("nep.server")

PENDING, RUNNING, DONE, DROPPED = "pending", "running", "done", "dropped"

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""What the kept speculations may hold, in all: 1024 sessions of up to 64 KB each, fewer larger ones."""


@dataclass(frozen=True)
class SpeculationSettings:
    """``suggestions``: how many of an answer's top suggestions are speculated on (0: none).
    ``accept_delay``: seconds after the newest event at which the accept is assumed to happen.
    ``max_sessions``: sessions whose speculations are kept; ``max_events`` and ``max_bytes``: history
    events and bytes (history and state, marshalled) they may hold in all (a speculation keeps its
    request's history and state). ``quiet``: seconds without a request (none
    open, none arrived or answered) before a speculation starts: a person takes far longer to accept
    a suggestion, and speculation started between two requests of a burst would hold up the second."""

    suggestions: int = 1
    accept_delay: float = 1.5
    max_sessions: int = 1024
    max_events: int = 200_000
    max_bytes: int = DEFAULT_MAX_BYTES
    quiet: float = 0.03


@dataclass
class SpeculativeResult:
    """A finished speculation: the predictor's raw answer, its checked form, and the predictor's input key."""

    raw: Prediction
    checked: Prediction
    dropped: int
    input_key: Hashable | None


def as_written(value: Any) -> str:
    """``value`` as canonical JSON text (tuples and lists alike, keys sorted)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def same_event(left: Event, right: Event) -> bool:
    """Equal as the session log writes them (``Event`` equality ignores an action's ``context``)."""
    if left is right:
        return True
    left_json, right_json = left.to_json(), right.to_json()
    return left_json == right_json or as_written(left_json) == as_written(right_json)


def _as_suggested(action: Action) -> dict[str, Any]:
    """An action's JSON without the ``context`` an app logs with it: what a suggestion says."""
    return {key: value for key, value in action.to_json().items() if key != "context"}


@dataclass
class Speculation:
    """One suggestion, speculatively accepted: the request it implies and, once run, its answer.
    ``size``: the bytes of its request's history and explicit state, marshalled (0: not known);
    ``request_id``: the answer that showed the suggestion."""

    session: str
    base: Sequence[Event]
    state: Mapping[str, Any] | None
    k: int
    accepted: Action
    t: float
    size: int = 0
    request_id: str | None = None
    status: str = PENDING
    result: SpeculativeResult | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def after(cls, context: Context, state: Mapping[str, Any] | None, k: int, accepted: Action, delay: float,
              size: int = 0, request_id: str | None = None) -> Speculation:
        """The speculation that ``accepted`` is accepted ``delay`` seconds after ``context``'s newest event."""
        last_t = context.history[-1].t if context.history else 0.0
        return cls(context.session_id, list(context.history), state, k, accepted, last_t + delay, size, request_id)

    @property
    def context(self) -> Context:
        history = [*self.base, Event(t=self.t, action=self.accepted)]
        state = self.state if self.state is not None else latest_state(history)
        return Context(history=history, state=state, session_id=self.session)

    def matches(self, history: Sequence[Event], state: Mapping[str, Any] | None, k: int) -> bool:
        """True when ``history`` is this speculation's (the accepted action at any ``t``), with the same state and k."""
        if k != self.k or len(history) != len(self.base) + 1 or state != self.state:
            return False
        last = history[-1]
        if last.action is None or last.state is not None or last.feedback is not None:
            return False
        if as_written(_as_suggested(last.action)) != as_written(_as_suggested(self.accepted)):
            return False
        return all(same_event(left, right) for left, right in zip(history, self.base))

    def logged_with_context(self, history: Sequence[Event]) -> bool:
        """Whether a matching ``history`` logs the accepted action with another ``context`` than the
        speculated one (an app's mode or selection): the answer then holds only where the predictor
        reads the same prompt from both (``Predictor.prompt_key``)."""
        return dict(history[-1].action.context) != dict(self.accepted.context)

    # -- the life of one speculation -----------------------------------------------------------

    def start(self) -> bool:
        """Mark it running; False when it was dropped (or claimed) before it could run."""
        with self._lock:
            if self.status != PENDING:
                return False
            self.status = RUNNING
            return True

    def finish(self, result: SpeculativeResult | None) -> None:
        with self._lock:
            self.result = result
            self.status = DONE
        self._done.set()

    def drop(self) -> None:
        """Forget it: if it has not started, it never will (callers also stop keeping it)."""
        with self._lock:
            if self.status == PENDING:
                self.status = DROPPED
                self._done.set()

    def finished(self) -> SpeculativeResult | None:
        """Its result when it has run to the end, else None (without waiting)."""
        with self._lock:
            return self.result if self.status == DONE else None

    def claim(self, timeout: float = 60.0) -> SpeculativeResult | None:
        """Its result for a request that matches it: waits when it is running; None when it had not
        started (it is then dropped, and the request predicts itself) or failed."""
        with self._lock:
            if self.status == PENDING:
                self.status = DROPPED
                self._done.set()
                return None
        self._done.wait(timeout)
        with self._lock:
            return self.result if self.status == DONE else None


def held_bytes(speculations: Sequence[Speculation]) -> int:
    """The bytes a session's speculations hold: they share their request's history and state."""
    return max((speculation.size for speculation in speculations), default=0)


class SpeculativeCache:
    """Speculations per session (bounded), and the background thread that runs them.

    ``run`` is called on that thread with each speculation to compute, and returns None when it gave
    way to a request; ``gate`` keeps it out of the way of requests.
    """

    def __init__(
        self,
        gate: PredictorGate,
        run: Callable[[Speculation], SpeculativeResult | None],
        max_sessions: int = 1024,
        max_events: int = 200_000,
        quiet: float = 0.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ):
        self.gate = gate
        self.run = run
        self.quiet = quiet
        self.max_sessions = max_sessions
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._events = 0
        self._bytes = 0
        self._sessions: OrderedDict[str, list[Speculation]] = OrderedDict()
        self._queue: OrderedDict[int, Speculation] = OrderedDict()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._busy = False
        self.stats = {"queued": 0, "run": 0, "gave_way": 0, "hits": 0, "misses": 0}

    def take(self, session: str) -> list[Speculation]:
        """Remove and return the session's speculations (a new request replaces them all). They leave
        the queue too: the caller drops or claims each, so none of them runs, and under steady load (the
        thread waiting for a quiet moment) the queue would otherwise keep every one ever made."""
        with self._condition:
            taken = self._sessions.pop(session, [])
            self._events -= sum(len(speculation.base) for speculation in taken)
            self._bytes -= held_bytes(taken)
            for speculation in taken:
                self._queue.pop(id(speculation), None)
            return taken

    def has_finished(self, session: str) -> bool:
        """Whether one of the session's speculations has run to the end."""
        with self._condition:
            return any(speculation.status == DONE for speculation in self._sessions.get(session, ()))

    def peek(self, session: str) -> list[Speculation]:
        """The session's speculations, left in place."""
        with self._condition:
            return list(self._sessions.get(session, ()))

    def put(self, session: str, speculations: Sequence[Speculation]) -> None:
        """Keep ``speculations`` for ``session`` (replacing what it had); ``submit`` queues them."""
        with self._condition:
            for old in self.take(session):
                old.drop()
            if not speculations:
                return
            events, size = sum(len(speculation.base) for speculation in speculations), held_bytes(speculations)
            if events > self.max_events or size > self.max_bytes:  # more than a whole budget: not kept,
                for speculation in speculations:  # rather than evicting every other session first
                    speculation.drop()
                return
            self._sessions[session] = list(speculations)
            self._events += events
            self._bytes += size
            while self._sessions and (len(self._sessions) > self.max_sessions or self._events > self.max_events
                                      or self._bytes > self.max_bytes):
                evicted_session = next(iter(self._sessions))
                for old in self.take(evicted_session):
                    old.drop()

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def kept_bytes(self) -> int:
        """The bytes the kept speculations hold (at most ``max_bytes``)."""
        return self._bytes

    def discard(self, session: str, turned_down: Action | None = None, request_id: str | None = None) -> None:
        """Drop the session's speculations that accept ``turned_down`` (a suggestion the user did not take; None:
        any), of the answer ``request_id`` (None: any). Only the newest answer's are kept, so feedback naming an
        earlier answer (an editor sends ``ignored`` a moment after the next answer came) drops none; without
        ``request_id``, one on the same suggestion goes whichever answer it is on."""
        written = None if turned_down is None else as_written(_as_suggested(turned_down))
        with self._condition:
            held = self._sessions.get(session, [])
            dropped = [speculation for speculation in held if request_id in (None, speculation.request_id)
                       and (written is None or as_written(_as_suggested(speculation.accepted)) == written)]
            if dropped:
                kept = [speculation for speculation in held if all(speculation is not other for other in dropped)]
                self._events -= sum(len(speculation.base) for speculation in dropped)
                self._bytes += held_bytes(kept) - held_bytes(held)
                for speculation in dropped:
                    self._queue.pop(id(speculation), None)
                if kept:
                    self._sessions[session] = kept
                else:
                    del self._sessions[session]
        for speculation in dropped:
            speculation.drop()

    def submit(self, speculations: Sequence[Speculation]) -> None:
        """Queue ``speculations`` for the background thread; they start once the gate has been quiet for
        ``quiet`` seconds, so queuing them with an answer still being sent does not slow it."""
        with self._condition:
            if self._closed:
                return
            for speculation in speculations:
                if speculation.status == PENDING:
                    self._queue[id(speculation)] = speculation
                    self.stats["queued"] += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="nep-speculation", daemon=True)
                self._thread.start()
            self._condition.notify_all()

    def snapshot(self) -> dict[str, int]:
        """The counters, and ``pending``: speculations queued or running now."""
        with self._condition:
            pending = sum(speculation.status == PENDING for speculation in self._queue.values()) + self._busy
            return {**self.stats, "pending": pending}

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until every queued speculation has run or been dropped; False on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._queue and not self._busy, timeout)

    def count(self, hit: bool) -> None:
        with self._condition:
            self.stats["hits" if hit else "misses"] += 1

    def close(self) -> None:
        with self._condition:
            self._closed = True
            for speculation in self._queue.values():
                speculation.drop()
            self._queue.clear()
            self._condition.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    def _next(self) -> Speculation | None:
        with self._condition:
            self._busy = False
            self._condition.notify_all()
            while True:
                if self._closed:
                    return None
                while self._queue:
                    _, speculation = self._queue.popitem(last=False)
                    if speculation.status == PENDING:
                        self._busy = True
                        return speculation
                self._condition.notify_all()
                self._condition.wait()

    def _work(self) -> None:
        while (speculation := self._next()) is not None:
            with self.gate.background(self.quiet):
                if not speculation.start():
                    continue
                result = None
                try:
                    result = self.run(speculation)
                except Exception:  # a speculation that fails is a miss, never a failed request
                    log.exception("speculation for session %s failed", speculation.session)
                finally:
                    speculation.finish(result)
            with self._condition:
                self.stats["run" if result is not None else "gave_way"] += 1
