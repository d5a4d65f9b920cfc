"""Talking to ``nep serve`` from a worker thread, so that the app's UI never waits on the network.

Shipped in the Blender add-on and the Krita plugin as their ``client.py`` (standard library only).
The app's main thread submits jobs and collects results with ``results()`` from its timer; only the
worker thread touches the network, and it never touches the app (``bpy``, Krita). A new suggestion
request replaces one still waiting to be sent (only the newest history matters); feedback is always
sent, in order. Answers are JSON data, checked for shape here and never evaluated.
"""

import http.client
import json
import math
import queue
import signal
import socket
import threading
import time
import urllib.parse
from collections import deque

PATHS = {"suggest": "/v1/suggest", "feedback": "/v1/feedback"}
MAX_LABEL = 200
MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_REQUEST_BYTES = 512 * 1024
"""Most bytes of one request's body: half of what ``nep serve`` accepts by default (1 MiB, 413 above)."""
MAX_ACTION_DEPTH = 32
"""Deepest nesting of a suggested action (dicts and lists, the action itself level 1) that is used: what
``nep serve`` accepts in a request (its ``max_json_depth``); no action space's action comes near it, and a
deeper one (a broken or hostile server's) would exceed Python's recursion limit in code that walks it."""


def encoded_size(value):
    """Bytes of ``value`` as the client sends it (``json.dumps`` with its defaults, UTF-8)."""
    return len(json.dumps(value).encode("utf-8"))


def fit(job, budget=MAX_REQUEST_BYTES):
    """``job`` with its payload at most ``budget`` bytes: its oldest history events dropped (a feedback
    job's ``start`` moved past them), then a feedback's echoed suggestion. Long strokes (Krita) or many
    selected objects named in each event (Blender) would otherwise make every request a 413; the app's
    session log on disk keeps everything."""
    payload = job["payload"]
    if encoded_size(payload) <= budget:
        return job
    history = payload.get("history") or []
    room = budget - encoded_size(dict(payload, history=[]))
    kept, size = 0, 0
    for event in reversed(history):
        size += encoded_size(event) + (2 if kept else 0)  # ", " between two events
        if size > room:
            break
        kept += 1
    dropped = len(history) - kept
    fitted = dict(job, payload=dict(payload, history=history[dropped:]))
    if "start" in job:
        fitted["start"] = job["start"] + dropped
    if job["kind"] == "feedback" and encoded_size(fitted["payload"]) > budget:
        fitted["payload"].pop("suggestion", None)
    return fitted


NOT_RUNNING, SLOW, BUSY = "not running", "slow", "busy"
"""Why a server was not reached (``Result.cause``): nothing answered (refused, a bad address), it
answered past the timeout, or it said it is shutting down (HTTP 503)."""


class Result:
    """One finished job: ``ok`` with ``body``, or ``error`` (one line), whether the server was reachable,
    and when it was not, why (``cause``: NOT_RUNNING, SLOW or BUSY)."""

    def __init__(self, job, ok, body=None, error="", reachable=True, cause=None):
        self.kind = job["kind"]
        self.generation = job.get("generation")
        self.job = job
        self.ok = ok
        self.body = body
        self.error = error
        self.reachable = reachable
        self.cause = None if reachable else cause or NOT_RUNNING


def parse_base_url(url):
    """(scheme, host, port, path prefix) of an ``http://host:port[/prefix]`` URL; ValueError if unusable."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"server URL must look like http://127.0.0.1:8765, not {url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname, port, parts.path.rstrip("/")


SERVE_PORT = 8765
"""``nep serve``'s default port."""


def port_option(url):
    """`` --port N`` for ``nep serve`` to listen where ``url`` points, or "" at the default port.
    ValueError for a URL that is not ``http://host:port`` (``parse_base_url``)."""
    port = parse_base_url(url)[2]
    return "" if port == SERVE_PORT else f" --port {port}"


PROBABILITY_SLACK = 1e-6
"""How far above 1 a server's probability may round (float32 sums); it is kept, shown as 1."""


def is_probability(value):
    """Whether ``value`` is a number in [0, 1], give or take ``PROBABILITY_SLACK`` above 1 (NaN is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0 + PROBABILITY_SLACK


def check_suggestions(body):
    """The usable suggestions of a /v1/suggest answer: dicts with an action (finite numbers only, nested at
    most ``MAX_ACTION_DEPTH`` deep), a probability, a confidence (what the app weighs against its minimum
    confidence and shows; the probability from a server that sends none), both within [0, 1], and a label."""
    if not isinstance(body, dict) or not isinstance(body.get("suggestions"), list):
        raise ValueError("the server's answer has no suggestions list")
    out = []
    for item in body["suggestions"]:
        if not isinstance(item, dict):
            continue
        action, probability = item.get("action"), item.get("probability")
        if not isinstance(action, dict) or not isinstance(action.get("kind"), str):
            continue
        if not isinstance(action.get("args", {}), dict) or not _sound(action, MAX_ACTION_DEPTH, True):
            continue
        confidence = item.get("confidence", probability)
        if not (is_probability(probability) and is_probability(confidence)):
            continue
        label = item.get("label")
        label = label[:MAX_LABEL] if isinstance(label, str) and label.strip() else action["kind"]
        out.append({"action": action, "probability": min(float(probability), 1.0), "confidence": min(float(confidence), 1.0), "label": label})
    return out


def all_finite(value):
    """True unless a number inside ``value`` (dicts and lists, any depth) is NaN or infinite, which
    JSON from a server can hold (``1e999``, ``NaN``) and an app's log cannot record."""
    return _sound(value, None, True)


def within_depth(value, max_depth):
    """Whether ``value`` (dicts and lists) is nested at most ``max_depth`` deep: a scalar is 0 deep, ``[]``
    and ``{}`` 1, ``[[1]]`` 2."""
    return _sound(value, max_depth, False)


def _sound(value, max_depth, finite):
    """``within_depth`` (``max_depth`` None: any depth) and, with ``finite``, ``all_finite``. Level by level, never
    recursing (a hostile answer may nest deeper than Python's recursion limit), and quick on the app's main
    thread: a 120,000-point stroke in about 30 ms (a stack of every value took four times as long)."""
    level, depth, isfinite = [value], 0, math.isfinite
    while True:
        containers = []
        for item in level:
            kind = type(item)
            if kind is float:
                if finite and not isfinite(item):
                    return False
            elif kind is list:
                containers.append(item)
            elif kind is dict:
                containers.append(item.values())
            elif kind is int or kind is str or kind is bool or item is None:
                continue
            elif isinstance(item, float):
                if finite and not isfinite(item):
                    return False
            elif isinstance(item, dict):
                containers.append(item.values())
            elif isinstance(item, list):
                containers.append(item)
        if not containers:
            return True
        depth += 1
        if max_depth is not None and depth > max_depth:
            return False
        level = [child for container in containers for child in container]


def keep_broken_connections_from_ending_the_app():
    """Ignore SIGPIPE, as Python does in its own programs (main thread only; a no-op on Windows).

    An app that embeds Python may leave SIGPIPE at its default (Krita does), and then writing a
    request to a kept-alive connection the server has closed ends the whole app, unsaved work and
    all, where this client would get ``BrokenPipeError`` and reconnect. ``http.client`` writes a
    request's headers and body separately, so the body's write meets the server's reset.
    """
    if not hasattr(signal, "SIGPIPE") or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL:
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


class AnswerTooSlow(Exception):
    """The answer kept coming past the client's timeout."""


def _read_by(response, timeout: float, limit: int = MAX_ANSWER_BYTES, deadline=None) -> bytes:
    """Up to ``limit + 1`` bytes of ``response``; ``AnswerTooSlow`` after ``timeout`` seconds, or past
    ``deadline`` (a ``time.monotonic()`` time) when one is given (a server sending a byte a second would
    otherwise hold the client for as long as it likes)."""
    chunks, size = [], 0
    deadline = time.monotonic() + timeout if deadline is None else deadline
    while size <= limit:
        if time.monotonic() > deadline:
            raise AnswerTooSlow(f"the server's answer took longer than {timeout:g} s")
        chunk = response.read1(min(65536, limit + 1 - size))
        if not chunk:
            response.close()  # read() closes a finished response; read1 does not, and the kept-alive connection then refuses the next request
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class Deadline:
    """One time limit over a whole exchange with the server: connecting, sending, the answer's headers
    and its body. A socket's timeout bounds each read alone, so a server sending a header byte just
    inside it would hold the worker for as long as it liked; here a timer thread shuts the connection's
    socket down when the time is up, which ends the read or write the worker is blocked in.

    The timer shuts down a duplicate of the socket's descriptor that only this object closes (in ``stop``,
    under the lock the timer takes), so it never touches a descriptor the worker closed and the
    process reused."""

    def __init__(self, seconds):
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched = None
        self._stopped = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self):
        """Seconds until the deadline (0 once past)."""
        return max(self.at - time.monotonic(), 0.0)

    def watch(self, sock):
        """Shut ``sock`` (a connected socket) down when the deadline passes, or now if it has."""
        try:
            duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, ValueError, AttributeError):  # no descriptor to duplicate: each read's timeout and _read_by still bound it
            duplicate = None
        with self._lock:
            self._release()
            if self._stopped:
                if duplicate is not None:
                    duplicate.close()
                return
            self._watched = duplicate
            if self.expired:
                self._shut()

    def stop(self):
        """Disarm the timer; whether the deadline passed first (the socket is then shut down: disconnect)."""
        self._timer.cancel()
        with self._lock:
            self._stopped = True
            self._release()
            return self.expired

    def _expire(self):
        with self._lock:
            if self._stopped:
                return
            self.expired = True
            self._shut()

    def _shut(self):
        if self._watched is not None:
            try:
                self._watched.shutdown(socket.SHUT_RDWR)
            except OSError:  # already closed by the server
                pass

    def _release(self):
        if self._watched is not None:
            self._watched.close()
            self._watched = None


class ServerClient:
    """A worker thread with one keep-alive connection to the server. ``max_answer_bytes``: a longer answer is an
    error, never decoded (decoding holds Python's lock, so the app's UI thread waits on it: 4 MB, tens of ms)."""

    def __init__(self, url, token="", timeout=5.0, thread_name="nep-suggest-client", max_answer_bytes=MAX_ANSWER_BYTES):
        keep_broken_connections_from_ending_the_app()
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self._condition = threading.Condition()
        self._jobs = deque()
        self._results = queue.SimpleQueue()
        self._stopping = False
        self._connection = None
        self.configure(url, token)
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def configure(self, url, token=""):
        """Use another URL or token from the next job on (the preferences changed)."""
        with self._condition:
            self.url = url
            self.token = token or ""

    def submit(self, job):
        """Queue a job: ``{"kind": "suggest"|"feedback", "payload": {...}, ...}``."""
        with self._condition:
            if job["kind"] == "suggest":
                self._jobs = deque(item for item in self._jobs if item["kind"] != "suggest")
            self._jobs.append(job)
            self._condition.notify()

    def results(self):
        """The results finished since the last call (main thread)."""
        out = []
        while True:
            try:
                out.append(self._results.get_nowait())
            except queue.Empty:
                return out

    def busy(self):
        with self._condition:
            return bool(self._jobs)

    def close(self, wait=1.0):
        """Stop the worker, waiting at most ``wait`` seconds for a request on the wire (0: not at all; the
        worker, a daemon thread, then ends when that request does); jobs not yet sent and the answer to
        the one on the wire are dropped."""
        with self._condition:
            self._stopping = True
            self._jobs.clear()
            self._condition.notify()
        self._thread.join(wait)

    def _run(self):
        while True:
            with self._condition:
                while not self._jobs and not self._stopping:
                    self._condition.wait()
                if self._stopping:
                    break
                job = self._jobs.popleft()
                url, token = self.url, self.token
            result = self._do(job, url, token)
            if self._stopping:
                break
            self._results.put(result)
        self._disconnect()

    def _do(self, job, url, token):
        try:
            job = fit(job)  # here on the worker: measuring a long history takes milliseconds the app's UI must not spend
            body = json.dumps(job["payload"]).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as error:  # never the end of the worker thread
            return Result(job, False, error=f"the request cannot be written as JSON: {str(error)[:200]}")
        try:
            scheme, host, port, prefix = parse_base_url(url)
        except ValueError as error:
            return Result(job, False, error=str(error), reachable=False)
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = self.timeout
        deadline = Deadline(timeout)  # the whole exchange, not only each read, must come within the timeout
        try:
            outcome = self._exchange(job, body, (scheme, host, port), prefix + PATHS[job["kind"]], headers, deadline)
        finally:
            expired = deadline.stop()
        if expired:  # the timer shut the socket down: what was read (or failed) after that is cut short
            self._disconnect()
            return Result(job, False, error=f"the server's answer took longer than {timeout:g} s", reachable=False, cause=SLOW)
        if isinstance(outcome, Result):
            return outcome
        response, data = outcome
        if len(data) > self.max_answer_bytes:
            self._disconnect()
            return Result(job, False, error=f"the server's answer is over {self.max_answer_bytes} bytes")
        try:
            answer = json.loads(data.decode("utf-8")) if data else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            answer = None
        if response.status != 200:
            detail = answer.get("detail") if isinstance(answer, dict) else None
            # 503: the server is shutting down and took nothing, so the job counts as not delivered (feedback is sent again)
            return Result(job, False, body=answer, error=f"HTTP {response.status}: {str(detail or response.reason)[:300]}",
                          reachable=response.status != 503, cause=BUSY)
        if answer is None:
            return Result(job, False, error="the server's answer is not JSON")
        return Result(job, True, body=answer)

    def _exchange(self, job, body, address, path, headers, deadline):
        """(response, data) of one request, or the failed job's ``Result``; ``deadline`` watches the socket."""
        for attempt in (0, 1):  # a kept-alive connection the server closed: reconnect once
            try:
                connection = self._connect(*address)
                if connection.sock is None:
                    connection.timeout = max(deadline.left(), 0.001)  # connecting, too, within what is left
                    try:
                        connection.connect()
                    finally:
                        connection.timeout = self.timeout
                    connection.sock.settimeout(self.timeout)
                deadline.watch(connection.sock)
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                return response, _read_by(response, self.timeout, self.max_answer_bytes, deadline.at)
            except AnswerTooSlow as error:
                self._disconnect()
                return Result(job, False, error=str(error), reachable=False, cause=SLOW)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self._disconnect()
                if attempt or deadline.expired:
                    return Result(job, False, error=f"the server closed the connection ({error})", reachable=False)
            except (OSError, http.client.HTTPException) as error:
                self._disconnect()
                return Result(job, False, error=_network_error(error), reachable=False,
                              cause=SLOW if isinstance(error, (TimeoutError, socket.timeout)) else NOT_RUNNING)
        raise AssertionError("unreachable")

    def _connect(self, scheme, host, port):
        key = (scheme, host, port)
        if self._connection is None or self._connection[0] != key:
            self._disconnect()
            factory = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            self._connection = (key, factory(host, port, timeout=self.timeout))
        return self._connection[1]

    def _disconnect(self):
        if self._connection is not None:
            self._connection[1].close()
            self._connection = None


def _network_error(error):
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, (TimeoutError, socket.timeout)):  # one class from Python 3.10; Krita 5.1 may embed an older one
        return "no answer within the timeout"
    return str(error) or type(error).__name__
