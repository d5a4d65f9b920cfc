"""Examples: a (context, target) pair at every trigger point of a session; balancing; leak-free splits."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Iterable, Sequence

from nep_core.actions import NO_EDIT, Action, is_finite_number
from nep_core.errors import NepError
from nep_core.session import Context, Session, latest_state

if TYPE_CHECKING:
    from nep_core.domain import Domain

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ExampleConfig:
    """When an example is made and what its target is.

    After each action (each trigger point) the target is the next edit among the next
    ``horizon_events`` actions within ``horizon_seconds``; it is NO_EDIT when there is none, or when
    the user paused longer than ``pause_seconds`` before the next action. ``max_no_edit_share`` and
    ``max_no_jump_share`` cap those shares by deterministic down-sampling (None keeps all).
    """

    horizon_events: int = 3
    horizon_seconds: float = 30.0
    pause_seconds: float = 20.0
    trigger_on_non_edits: bool = True
    max_no_edit_share: float | None = None
    max_no_jump_share: float | None = None
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.horizon_events < 1:
            raise ValueError("horizon_events must be at least 1")
        for name in ("max_no_edit_share", "max_no_jump_share"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        if abs(sum(self.split_fractions) - 1.0) > 1e-6 or min(self.split_fractions) < 0:
            raise ValueError("split_fractions must be three non-negative numbers that add up to 1")


@dataclass(frozen=True)
class Example:
    """One training or evaluation pair."""

    context: Context
    target: Action
    session_id: str
    source: str
    trigger: int
    jump: bool = False


@dataclass
class ExampleReport:
    """Counts before and after balancing, for reports and ``nep.json``."""

    made: int = 0
    kept: int = 0
    no_edit_made: int = 0
    no_edit_kept: int = 0
    jump_made: int = 0
    jump_kept: int = 0
    per_split: dict[str, int] = field(default_factory=dict)
    unwritable_targets: int = 0
    """Next actions the action space cannot write, left out (no example is made at them)."""
    first_unwritable: str = ""
    """The first of those, as ``session 'ID', after event N: reason``."""

    def as_dict(self) -> dict:
        kept = max(self.kept, 1)
        return {
            "examples_made": self.made,
            "examples_kept": self.kept,
            "no_edit_made": self.no_edit_made,
            "no_edit_kept": self.no_edit_kept,
            "no_edit_share": round(self.no_edit_kept / kept, 4),
            "jump_made": self.jump_made,
            "jump_kept": self.jump_kept,
            "jump_share_of_edits": round(self.jump_kept / max(self.kept - self.no_edit_kept, 1), 4),
            "per_split": dict(self.per_split),
            "unwritable_targets": self.unwritable_targets,
        }

    def unwritable_warning(self) -> str | None:
        """One line for the user when targets were left out, else None."""
        if not self.unwritable_targets:
            return None
        return (f"{self.unwritable_targets} next action(s) the action space cannot write were left out, no example made at them "
                f"(first: {self.first_unwritable})")


def make_examples(session: Session, domain: Domain, config: ExampleConfig | None = None, report: ExampleReport | None = None) -> list[Example]:
    """Every trigger point of ``session`` as an example.

    Two ``meta`` keys serve sessions cut from a longer one (a history split in time): the first
    ``meta["context_events"]`` events are context only (no example is made at them), and with
    ``meta["open_end"]`` the session goes on beyond its last event, so a trigger whose target the cut
    hides (NO_EDIT only because the events ran out) makes no example. A malformed value of either is
    a ``NepError`` naming the session and the field.
    """
    config = config or domain.examples
    events = _edits_as_the_space_counts(session.events, domain)
    context_events, open_end = cut_meta(session)
    action_positions = [index for index, event in enumerate(events) if event.action is not None]
    examples = []
    last_edit_location = None
    for order, position in enumerate(action_positions):
        action = events[position].action
        if action.edit:
            last_edit_location = domain.action_space.location(action)
        if (not action.edit and not config.trigger_on_non_edits) or position < context_events:
            continue
        upcoming = action_positions[order + 1 :]
        target = _target_after(events, upcoming, events[position].t, config)
        if open_end and target.is_no_edit and _cut_short(events, upcoming, events[position].t, config):
            continue
        problem = None if target.is_no_edit else _unwritable(domain, target)
        if problem is not None:  # a target the action space cannot write (an operator this app lacks) teaches nothing
            if report is not None:
                report.unwritable_targets += 1
                report.first_unwritable = report.first_unwritable or f"session '{session.id}', after event {position + 1}: {problem}"
            continue
        history = events[: position + 1]
        jump = (
            not target.is_no_edit
            and last_edit_location is not None
            and domain.action_space.location(target) != last_edit_location
        )
        context = Context(history=history, state=latest_state(history), session_id=session.id, meta=session.meta)
        examples.append(Example(context, target, session.id, session.source, position, jump))
    return examples


def cut_meta(session: Session) -> tuple[int, bool]:
    """``meta.context_events`` and ``meta.open_end`` of ``session`` (0 and False when absent), checked."""
    context_events = session.meta.get("context_events", 0)
    if not is_finite_number(context_events) or context_events < 0 or context_events != int(context_events):
        raise NepError(f"session '{session.id}': meta.context_events must be a whole number >= 0, not {context_events!r:.80}")
    open_end = session.meta.get("open_end", False)
    if not isinstance(open_end, bool):
        raise NepError(f"session '{session.id}': meta.open_end must be true or false, not {open_end!r:.80}")
    return int(context_events), open_end


def _unwritable(domain: Domain, action: Action) -> str | None:
    """Why the action space cannot write ``action``, or None when it can."""
    from nep_core.errors import InvalidAction

    try:
        domain.action_space.encode(action)
    except InvalidAction as error:
        return str(error)
    return None


def _edits_as_the_space_counts(events: Sequence, domain: Domain) -> Sequence:
    """``events`` with each action the log marks an edit but the action space counts as none (its first
    token in ``non_edit_start_tokens``: an older app's log may call a save an edit) marked as no edit,
    so it is context, never a trigger or a target, and the next real edit is the target."""
    from nep_core.errors import InvalidAction

    non_edit_starts = domain.action_space.non_edit_start_tokens()
    if not non_edit_starts:
        return events

    def counted_as_edit(action: Action) -> bool:
        try:
            tokens = domain.action_space.encode(action)
        except InvalidAction:
            return True  # a target it cannot write is counted as such (``_unwritable``)
        return not tokens or tokens[0] not in non_edit_starts

    return [replace(event, action=replace(event.action, edit=False))
            if event.action is not None and event.action.edit and not counted_as_edit(event.action) else event
            for event in events]


def _target_after(events, upcoming: Sequence[int], now: float, config: ExampleConfig) -> Action:
    if not upcoming or events[upcoming[0]].t - now > config.pause_seconds:
        return NO_EDIT
    for position in upcoming[: config.horizon_events]:
        event = events[position]
        if event.t - now > config.horizon_seconds:
            break
        if event.action.edit:
            return event.action
    return NO_EDIT


def _cut_short(events, upcoming: Sequence[int], now: float, config: ExampleConfig) -> bool:
    """Whether a NO_EDIT target comes only from the session's end: fewer than ``horizon_events``
    actions follow, none after a pause, all within the horizon."""
    if upcoming and events[upcoming[0]].t - now > config.pause_seconds:
        return False
    return len(upcoming) < config.horizon_events and all(events[position].t - now <= config.horizon_seconds for position in upcoming)


def unit_hash(*parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def balance(examples: list[Example], config: ExampleConfig, report: ExampleReport) -> list[Example]:
    """Down-sample NO_EDIT and no-jump examples to the configured caps, deterministically."""
    report.made += len(examples)
    report.no_edit_made += sum(example.target.is_no_edit for example in examples)
    report.jump_made += sum(example.jump for example in examples)
    kept = _cap(examples, lambda example: example.target.is_no_edit, config.max_no_edit_share, config.seed, "no_edit")
    kept = _cap(
        kept,
        lambda example: not example.target.is_no_edit and not example.jump,
        None if config.max_no_jump_share is None else config.max_no_jump_share,
        config.seed,
        "no_jump",
        among=lambda example: not example.target.is_no_edit,
    )
    report.kept += len(kept)
    report.no_edit_kept += sum(example.target.is_no_edit for example in kept)
    report.jump_kept += sum(example.jump for example in kept)
    return kept


def _cap(examples, is_majority, share, seed, salt, among=lambda example: True):
    if share is None:
        return examples
    pool = [example for example in examples if among(example)]
    majority = [example for example in pool if is_majority(example)]
    minority = len(pool) - len(majority)
    if not majority or share >= 1.0:
        return examples
    allowed = int(share / (1.0 - share) * minority) if share < 1.0 else len(majority)
    if allowed >= len(majority):
        return examples
    ranked = sorted(majority, key=lambda example: unit_hash(seed, salt, example.session_id, example.trigger))
    dropped = {id(example) for example in ranked[allowed:]}
    return [example for example in examples if id(example) not in dropped]


def split_of(source: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0) -> str:
    """The split of a source group (a session, or a repository/project): a stable hash, so it never moves."""
    point = unit_hash("split", seed, source)
    if point < fractions[0]:
        return "train"
    if point < fractions[0] + fractions[1]:
        return "val"
    return "test"


def split_sessions(sessions: Iterable[Session], config: ExampleConfig) -> dict[str, list[Session]]:
    """Sessions by split; every session of one source lands in the same split.

    With few sources a hash can leave a split empty; then sources are dealt by hash order instead,
    so val and test each get at least one source when there are three or more. A source whose
    sessions declare ``meta["split"]`` (a collector that knows time order: older history trains,
    newer tests) goes to that split. A copy (``meta["copy_of"]``, as a source ``SOURCE * N`` makes
    them) stays with its original and is dropped outside the train split.
    """
    sessions = list(sessions)
    sources = sorted({session.source for session in sessions}, key=lambda source: unit_hash("split", config.seed, source))
    assignment = {source: split_of(source, config.split_fractions, config.seed) for source in sources}
    counts = Counter(assignment.values())
    if len(sources) >= 3 and (counts["val"] == 0 or counts["test"] == 0):
        n = len(sources)
        n_test = max(1, round(n * config.split_fractions[2]))
        n_val = max(1, round(n * config.split_fractions[1]))
        for index, source in enumerate(sources):
            assignment[source] = "test" if index < n_test else "val" if index < n_test + n_val else "train"
    for session in sessions:
        if "split" in session.meta:
            if session.meta["split"] not in SPLITS:  # "validation" or "Test" would put a later part of a history in training
                raise NepError(f"session '{session.id}': meta.split must be one of {', '.join(SPLITS)}, not {session.meta['split']!r:.80}")
            assignment[session.source] = session.meta["split"]
    result: dict[str, list[Session]] = {split: [] for split in SPLITS}
    for session in sessions:
        split = assignment[session.source]
        if split != "train" and session.meta.get("copy_of"):
            continue  # a copy only weighs training: evaluation counts each session once
        result[split].append(session)
    return result


def build_examples(
    sessions_by_split: dict[str, list[Session]], domain: Domain, config: ExampleConfig | None = None
) -> tuple[dict[str, list[Example]], ExampleReport]:
    """Examples per split; only the train split is balanced, so evaluation sees the true rates."""
    config = config or domain.examples
    report = ExampleReport()
    out: dict[str, list[Example]] = {}
    for split, sessions in sessions_by_split.items():
        examples = [example for session in sessions for example in make_examples(session, domain, config, report)]
        if split == "train":
            examples = balance(examples, config, report)
        out[split] = examples
        report.per_split[split] = len(examples)
    return out, report
