"""Baselines on hand-made sessions give the hand-computed answers."""

from __future__ import annotations

import pytest

from nep_core.actions import NO_EDIT, Action
from nep_core.errors import NepError
from nep_core.examples import ExampleConfig, make_examples
from nep_core.inference import MostFrequent, NGram, RepeatLast, load_predictor
from nep_core.session import Context, Event, Session

OPEN_A, OPEN_B, OPEN_C = Action("open", target="a"), Action("open", target="b"), Action("open", target="c")
CLOSE_A, CLOSE_B = Action("close", target="a"), Action("close", target="b")
WRITE_X = Action("write", args={"word": "x"})
SCROLL = Action("scroll", args={"dir": "up"}, edit=False)
NEXT_ACTION = ExampleConfig(horizon_events=1, horizon_seconds=30, pause_seconds=20)


def session(session_id: str, *actions: Action) -> Session:
    return Session(id=session_id, domain="tags", events=[Event(t=float(i), action=a) for i, a in enumerate(actions)])


@pytest.fixture
def train(tags_domain):
    """Nine examples: targets write x (3), close a (2), close b (1), NO_EDIT (3)."""
    sessions = [
        session("s1", OPEN_A, WRITE_X, CLOSE_A),
        session("s2", OPEN_B, WRITE_X, CLOSE_B),
        session("s3", OPEN_A, WRITE_X, CLOSE_A),
    ]
    examples = [example for s in sessions for example in make_examples(s, tags_domain, NEXT_ACTION)]
    assert [example.target for example in examples[:3]] == [WRITE_X, CLOSE_A, NO_EDIT]
    return examples


def history(*actions: Action) -> Context:
    return Context(history=[Event(t=float(i), action=a) for i, a in enumerate(actions)])


def distribution(prediction) -> dict:
    out = {suggestion.action: suggestion.probability for suggestion in prediction.suggestions}
    out[NO_EDIT] = prediction.p_no_edit
    return out


def test_ngram_uses_the_longest_seen_context(tags_domain, train):
    ngram = NGram(tags_domain).fit(train)
    # (open a, write x) was followed by close a twice: score 1; (write x) alone adds close b at 0.4 * 1/3;
    # the unigram adds write x and NO_EDIT at 0.4^2 * 3/9 each. Z = 1 + 0.4/3 + 2 * 0.16/3 = 1.24.
    got = distribution(ngram.predict(history(OPEN_A, WRITE_X), k=3))
    z = 1 + 0.4 / 3 + 2 * 0.16 / 3
    assert got[CLOSE_A] == pytest.approx(1 / z)
    assert got[CLOSE_B] == pytest.approx(0.4 / 3 / z)
    assert got[WRITE_X] == pytest.approx(0.16 / 3 / z)
    assert got[NO_EDIT] == pytest.approx(0.16 / 3 / z)
    assert ngram.predict(history(OPEN_A, WRITE_X), k=3).best == CLOSE_A


def test_ngram_backs_off_past_an_unseen_context(tags_domain, train):
    """After (open c, write x) the trigram is unseen; the bigram (write x) cannot tell which tag to close."""
    ngram = NGram(tags_domain).fit(train)
    got = distribution(ngram.predict(history(OPEN_C, WRITE_X), k=3))
    z = 1 + 2 * 0.4 * 3 / 9
    assert got[CLOSE_A] == pytest.approx(2 / 3 / z)
    assert got[CLOSE_B] == pytest.approx(1 / 3 / z)
    assert got[WRITE_X] == pytest.approx(0.4 * 3 / 9 / z)
    assert got[NO_EDIT] == pytest.approx(0.4 * 3 / 9 / z)


def test_ngram_counts_non_edits_and_session_starts(tags_domain, train):
    ngram = NGram(tags_domain).fit(train)
    # a scroll was never seen: everything backs off to the unigram 3/9, 2/9, 1/9, 3/9
    got = distribution(ngram.predict(history(OPEN_A, WRITE_X, SCROLL), k=3))
    assert got[WRITE_X] == pytest.approx(3 / 9) and got[CLOSE_A] == pytest.approx(2 / 9)
    assert got[CLOSE_B] == pytest.approx(1 / 9) and got[NO_EDIT] == pytest.approx(3 / 9)
    # (<s>, open a) was followed by write x twice
    assert ngram.predict(history(OPEN_A), k=1).best == WRITE_X
    assert ngram.history_keys(history(OPEN_A))[0] == "<s>"


def test_ngram_probabilities_sum_to_one_and_lower_orders(tags_domain, train, tags_sessions):
    unigram = NGram(tags_domain, order=1).fit(train)
    got = distribution(unigram.predict(history(OPEN_A, WRITE_X), k=5))
    assert got == pytest.approx({WRITE_X: 3 / 9, CLOSE_A: 2 / 9, CLOSE_B: 1 / 9, NO_EDIT: 3 / 9})
    ngram = NGram(tags_domain).fit(train)
    for context in (history(), history(OPEN_B, WRITE_X), history(CLOSE_B, SCROLL, OPEN_A)):
        prediction = ngram.predict(context, k=10)
        assert sum(distribution(prediction).values()) == pytest.approx(1.0)
        probabilities = [suggestion.probability for suggestion in prediction.suggestions]
        assert probabilities == sorted(probabilities, reverse=True)


def test_repeat_last(tags_domain, train):
    repeat = RepeatLast(tags_domain).fit(train)
    prediction = repeat.predict(history(OPEN_A, WRITE_X, SCROLL), k=3)
    assert [s.action for s in prediction.suggestions] == [WRITE_X]
    assert prediction.suggestions[0].probability == pytest.approx(6 / 9)
    assert prediction.p_no_edit == pytest.approx(3 / 9)
    assert prediction.suggestions[0].label == "write (word=x)"
    nothing_yet = repeat.predict(history(SCROLL), k=3)
    assert nothing_yet.suggestions == [] and nothing_yet.p_no_edit == 1.0 and nothing_yet.best.is_no_edit


def test_most_frequent(tags_domain, train):
    frequent = MostFrequent(tags_domain).fit(train)
    prediction = frequent.predict(history(OPEN_B), k=2)
    assert [(s.action, s.probability) for s in prediction.suggestions] == [
        (WRITE_X, pytest.approx(3 / 9)),
        (CLOSE_A, pytest.approx(2 / 9)),
    ]
    assert prediction.p_no_edit == pytest.approx(3 / 9)
    assert prediction.best.is_no_edit  # a tie goes to NO_EDIT: suggesting nothing is the safe choice


def test_baselines_refuse_empty_training_sets_and_unknown_names(tags_domain):
    with pytest.raises(NepError, match="no training examples"):
        NGram(tags_domain).fit([])
    with pytest.raises(NepError, match="not a baseline"):
        load_predictor("no-such-baseline", tags_domain, train_examples=[])


def test_load_predictor_fits_on_the_default_training_split(tags_domain):
    ngram = load_predictor("ngram:2", tags_domain)
    assert ngram.name == "ngram:2" and ngram.order == 2 and ngram.fitted
    assert ngram.predict(history(OPEN_A, WRITE_X), k=3).suggestions


def test_the_ngram_order_is_capped_before_anything_is_fitted(tags_domain):
    """`ngram:99999` stored each example's history once per order and was killed for memory (22 GB)."""
    from nep_core.inference.baselines import MAX_NGRAM_ORDER
    from nep_core.inference.factory import make_baseline

    assert make_baseline(f"ngram:{MAX_NGRAM_ORDER}", tags_domain).order == MAX_NGRAM_ORDER == 16
    for spec in ("ngram:17", "ngram:99999"):
        with pytest.raises(NepError, match=f"'{spec}': the n-gram order must be at most 16"):
            make_baseline(spec, tags_domain)
    with pytest.raises(NepError, match="the n-gram order must be a positive whole number"):
        make_baseline("ngram:\u00b2", tags_domain)  # a superscript 2 is a digit to str.isdigit, not to int()
    with pytest.raises(NepError, match="n-gram order must be from 1 to 16, got 99999"):
        NGram(tags_domain, order=99999)
