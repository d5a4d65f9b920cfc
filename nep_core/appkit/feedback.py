"""Feedback on a suggestion the app showed: the record for its own log and the job for ``nep serve``.

Shipped in the Blender add-on and the Krita plugin as their ``feedback.py`` (standard library
only). Every outcome (accepted, dismissed, refused, ignored) goes both to the session's own log
(``feedback_record``) and to the server's ``/v1/feedback`` with the events the server has not had
yet (``feedback_job``); events whose feedback could not reach the server are sent again with the
next feedback of the same session (``resend_from``). ``FeedbackMixin`` does all three for an app's
runtime.
"""

FEEDBACK_HISTORY_EVENTS = 1000
"""Most events a feedback request carries (after a long outage the older ones stay in the local log only)."""
MAX_REASON = 500


def feedback_record(suggestion, accepted, outcome, reason="", now=None):
    """The ``feedback`` object of a log record: the action shown, when, and what became of it.

    ``reason`` (why a suggestion was refused) is cut to its first line; ``now`` stands in for a
    suggestion that has no ``shown_at``.
    """
    action = suggestion["action"]
    shown = {key: action[key] for key in ("kind", "args", "target") if isinstance(action, dict) and key in action}
    record = {"suggestion": shown, "shown_at": suggestion.get("shown_at", now), "accepted": accepted, "outcome": outcome}
    if reason:
        record["reason"] = reason.splitlines()[0][:MAX_REASON]
    if suggestion.get("request_id"):
        record["request_id"] = suggestion["request_id"]
    return record


def feedback_job(session_id, generation, events, sent_upto, t, record, actual=None, most=FEEDBACK_HISTORY_EVENTS):
    """``(job for ServerClient.submit, new sent_upto)``: the feedback ``record`` with the events from
    ``sent_upto`` on (at most ``most``); ``actual`` is the index of the event of what the user did."""
    end = actual if actual is not None else len(events)
    start = max(sent_upto, end - most)
    payload = {"session": session_id, "t": t, "history": events[start:end]}
    payload.update(record)
    if actual is not None:
        payload["actual"] = events[actual]["action"]
        end = actual + 1
    return {"kind": "feedback", "generation": (session_id, generation), "start": start, "payload": payload}, end


def resend_from(result, session_id, sent_upto):
    """The new ``sent_upto`` after a feedback job failed: its events go again when the server was not
    reached and the session is still the one it was sent for."""
    if not result.reachable and result.generation[0] == session_id:
        return min(sent_upto, result.job["start"])
    return sent_upto


class FeedbackMixin:
    """The feedback side of an app's runtime (one session at a time, one ``ServerClient``).

    The runtime provides ``client`` (a ServerClient, or None before the first tick), ``session_id``,
    ``generation`` (its count of events), ``events`` (the session's event records), ``sent_upto``
    (events before it are with the server), ``feedback_sent``, ``outcome`` (the line its panel
    shows), ``now()`` (seconds into the session) and ``write(record)`` (to its session log).
    """

    def write_feedback(self, t, suggestion, accepted, outcome, reason=""):
        """The feedback record in this session's own log."""
        self.write({"t": t, "feedback": feedback_record(suggestion, accepted, outcome, reason, self.now())})

    def send_feedback(self, t, suggestion, accepted, outcome, reason="", actual=None):
        """Send the outcome with the events the server has not had yet (``actual``: index of what the user did)."""
        if self.client is None:
            return
        record = feedback_record(suggestion, accepted, outcome, reason, self.now())
        job, end = feedback_job(self.session_id, self.generation, self.events, self.sent_upto, t, record, actual)
        self.client.submit(job)
        self.sent_upto = end

    def feedback_result(self, result):
        """Take a finished feedback job; True when it failed (the panel shows why)."""
        if result.ok:
            self.feedback_sent += 1
            return False
        self.sent_upto = resend_from(result, self.session_id, self.sent_upto)
        self.outcome = f"Feedback not sent: {result.error}"
        return True
