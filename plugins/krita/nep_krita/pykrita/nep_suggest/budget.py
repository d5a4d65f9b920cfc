"""Every request to ``nep serve`` under its size limit: ``nep serve`` refuses a body over 1 MiB (HTTP 413).

A request carries history (the newest 64 events with a suggestion request, up to 1,000 with
feedback), and one stroke can hold 4,096 samples, so a few long strokes would make every request
too large. ``fit`` drops a request's oldest history events until its JSON body, as the client encodes
it, is at most ``MAX_REQUEST_BYTES``; a feedback request that is still too large then leaves out the
suggestion it echoes. The session log on disk keeps everything. Plain Python, no Krita or Qt.
"""

import json

from .client import ServerClient

MAX_REQUEST_BYTES = 512 * 1024
"""Most bytes of one request's body: half of what ``nep serve`` accepts by default."""


def encoded_size(value):
    """Bytes of ``value`` as the client sends it (``json.dumps`` with its defaults, UTF-8)."""
    return len(json.dumps(value).encode("utf-8"))


def fit(job, budget=MAX_REQUEST_BYTES):
    """``job`` (for ``ServerClient.submit``) with its payload at most ``budget`` bytes: its oldest history events
    dropped (a feedback job's ``start`` moved past them), then a feedback's echoed suggestion."""
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


class FittingClient(ServerClient):
    """The shared client, each request fitted to ``MAX_REQUEST_BYTES`` on its worker thread, just before
    it is sent (measuring a large history takes milliseconds that Krita's main thread must not spend)."""

    def _do(self, job, url, token):
        return super()._do(fit(job), url, token)
