"""Request payloads to core objects: events and actions, checked with the session-log parser.

A bad value is answered with 422 naming where it is, e.g. ``history[3].action.kind: must be a
non-empty string``. Besides what the log format requires, the server refuses JSON nested deeper
than a limit, text holding a lone surrogate (which no log can hold), fields an event, an action or
a feedback record does not have (a misspelt one would be lost from the log) and, for domains with a
closed set of kinds, actions of a kind the domain lacks.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Mapping, Sequence

from pydantic import ValidationError

from nep_core.actions import Action
from nep_core.errors import InvalidAction
from nep_core.server.errors import ApiError, json_path, lone_surrogate, not_unicode, validation_item
from nep_core.server.schemas import ACTION_SCHEMA, EVENT_SCHEMA, FeedbackRecord, outcome_problem
from nep_core.session import Event
from nep_core.sessionlog import parse_event

StateProblem = Callable[[Mapping[str, Any], str], "str | None"]
"""``HistoryEncoder.state_problem``: ``(state, where)`` to ``FIELD: reason`` or None."""

EVENT_FIELDS = EVENT_SCHEMA["properties"].keys()
ACTION_FIELDS = ACTION_SCHEMA["properties"].keys()
FEEDBACK_FIELDS = FeedbackRecord.model_fields.keys()
_FIELD_MESSAGE = re.compile(r'^field "(\w+)"(?:: (.*)| (.*))$', re.DOTALL)
_ACTION_MESSAGE = re.compile(r"^action((?:\.\S+)?) (.*)$", re.DOTALL)


def _locate(message: str) -> tuple[str, str]:
    """A core parser's ``ValueError`` message as (relative path, reason)."""
    match = _FIELD_MESSAGE.match(message)
    if match is None:
        return _locate_action("", message)
    field, nested, reason = match.groups()
    if nested is not None:
        if field == "action":
            return _locate_action("action", nested)
        return field, nested
    return field, reason


def _locate_action(prefix: str, message: str) -> tuple[str, str]:
    match = _ACTION_MESSAGE.match(message)
    if match is None:
        return prefix, message
    return _join(prefix, match.group(1).lstrip(".")), match.group(2)


def _join(base: str, relative: str) -> str:
    if not relative:
        return base
    if not base or relative.startswith("["):
        return base + relative
    return f"{base}.{relative}"


def check_json_value(value: Any, where: str, max_depth: int, named_levels: int = 0) -> None:
    """Refuse values nested deeper than ``max_depth``, holding non-finite numbers, or text (a value
    or a key) with a lone surrogate (iteratively).

    A quick pass finds whether there is a problem; only then a second pass tracks paths to name it.
    Too deep a value is named by ``where`` and its first ``named_levels`` keys (``history[3]``).
    """
    if not json_value_is_sound(value, max_depth):
        _locate_json_problem(value, where, max_depth, named_levels)


def json_value_is_sound(value: Any, max_depth: int) -> bool:
    """True when ``value`` is nested at most ``max_depth`` deep and holds finite numbers and Unicode text only."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if not all(map(str.isascii, item)) and any(map(lone_surrogate, item)):
                return False
            item = item.values()
        elif isinstance(item, str):
            if lone_surrogate(item):
                return False
            continue
        elif not isinstance(item, list):
            if isinstance(item, float) and not math.isfinite(item):
                return False
            continue
        if depth >= max_depth:
            return False
        stack.extend((child, depth + 1) for child in item)
    return True


def _locate_json_problem(value: Any, where: str, max_depth: int, named_levels: int) -> None:
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ApiError(422, "must be a finite number", _join(where, json_path(path)))
        if isinstance(item, str) and (surrogate := lone_surrogate(item)):
            raise ApiError(422, not_unicode(surrogate), _join(where, json_path(path)))
        if isinstance(item, (dict, list)):
            if len(path) >= max_depth:
                limit = max_depth - named_levels
                raise ApiError(422, f"nested deeper than {limit} levels", _join(where, json_path(path[:named_levels])))
            for key in item if isinstance(item, dict) else ():
                if surrogate := lone_surrogate(key):
                    raise ApiError(422, "field name " + not_unicode(surrogate), _join(where, json_path((*path, key))))
            children = item.items() if isinstance(item, dict) else enumerate(item)
            stack.extend((child, (*path, key)) for key, child in children)


def check_fields(record: Mapping[str, Any], fields, what: str, where: str) -> None:
    """Refuse a key of ``record`` that is not one of ``fields`` (``what``: "an action" names them)."""
    if not record.keys() <= fields:
        unknown = next(key for key in record if key not in fields)
        raise ApiError(422, f"unexpected field ({what} has {', '.join(fields)})", _join(where, unknown))


def check_kind(action: Action, action_space, where: str) -> None:
    """Refuse an action of a kind a closed action space does not have (open spaces, and no space, take any kind)."""
    if action_space is not None and not action.is_no_edit:
        try:
            action_space.check_kind(action.kind)
        except InvalidAction as error:
            raise ApiError(422, str(error), _join(where, "kind")) from None


def parse_history(
    records: Sequence[Mapping[str, Any]],
    action_space,
    *,
    max_events: int,
    max_depth: int,
    known_events: Sequence[Event] = (),
    state_problem: StateProblem | None = None,
) -> list[Event]:
    """Events from ``history`` objects; ``ApiError`` (422) names the first bad one.

    ``known_events``: the events of the leading records, parsed from the same JSON before
    (``ParsedHistories``); they are reused, the same objects, and those records not parsed again.
    """
    if len(records) > max_events:
        raise ApiError(422, f"at most {max_events} events are accepted (got {len(records)})", "history")
    reused = len(known_events)
    if not json_value_is_sound(records[reused:], max_depth + 1):
        check_json_value(records, "history", max_depth + 1, named_levels=1)
    events = list(known_events)
    for index in range(reused, len(records)):
        events.append(_parse_event(records[index], f"history[{index}]", action_space, max_depth, state_problem))
    return events


def _parse_event(record: Mapping[str, Any], where: str, action_space, max_depth: int, state_problem: StateProblem | None) -> Event:
    check_fields(record, EVENT_FIELDS, "an event", where)
    if isinstance(record.get("action"), dict):
        check_fields(record["action"], ACTION_FIELDS, "an action", f"{where}.action")
    try:
        event = parse_event(dict(record))
    except ValueError as error:
        path, reason = _locate(str(error))
        raise ApiError(422, reason, _join(where, path)) from None
    if event.action is not None:
        check_kind(event.action, action_space, f"{where}.action")
    if event.state is not None and state_problem is not None:
        check_state(event.state, state_problem, f"{where}.state")
    if event.feedback is not None:
        check_feedback_record(event.feedback, action_space, f"{where}.feedback", max_depth=max_depth)
    return event


def check_feedback_record(record: Mapping[str, Any], action_space, where: str, *, max_depth: int) -> None:
    """Refuse a ``feedback`` record that /v1/feedback would not write (422 naming its field)."""
    check_fields(record, FEEDBACK_FIELDS, "a feedback record", where)
    try:
        FeedbackRecord.model_validate(record)
    except ValidationError as error:
        loc, msg = validation_item(error.errors()[0])
        raise ApiError(422, msg, _join(where, loc)) from None
    problem = outcome_problem(record.get("outcome"), record["accepted"])
    if problem:
        raise ApiError(422, problem, f"{where}.outcome")
    if record.get("suggestion") is not None:
        parse_action(record["suggestion"], action_space, f"{where}.suggestion", max_depth=max_depth)


def parse_action(data: Mapping[str, Any], action_space, where: str, *, max_depth: int) -> Action:
    """An action from its JSON object; ``ApiError`` (422) names the bad field under ``where``."""
    check_json_value(data, where, max_depth)
    check_fields(data, ACTION_FIELDS, "an action", where)
    try:
        action = Action.from_json(dict(data))
    except ValueError as error:
        path, reason = _locate_action("", str(error))
        raise ApiError(422, reason, _join(where, path)) from None
    check_kind(action, action_space, where)
    return action


def parse_state(state: Mapping[str, Any] | None, *, max_depth: int, state_problem: StateProblem | None = None) -> Mapping[str, Any] | None:
    if state is not None:
        check_json_value(state, "state", max_depth)
        if state_problem is not None:
            check_state(state, state_problem, "state")
    return state


def check_state(state: Mapping[str, Any], state_problem: StateProblem, where: str) -> None:
    """Refuse a snapshot the domain cannot read (422 naming its field)."""
    problem = state_problem(state, where)
    if problem:
        field, separator, reason = problem.partition(": ")
        raise ApiError(422, reason, field) if separator else ApiError(422, problem, where)
