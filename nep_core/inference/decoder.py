"""The model predictor: grammar-constrained best-first beam search over a KV cache.

One ``predict`` call:

1. writes the prompt ``<bos> context <sep>`` with the domain's encoder;
2. prefills a ``DynamicCache`` with it, reusing the cache of the session's previous request (or, for
   a session not seen lately, of the newest request) for the prompt prefix the two share (a session's
   history grows append-only, so usually all but the last few tokens);
3. searches the grammar: all live hypotheses have the same length, so each step is one batched
   single-token forward on the cache, whose rows are re-selected to follow the surviving hypotheses;
   it computes only the logits of the tokens some live hypothesis may take next (``_rows``: the
   output layer is often the model's largest matrix), the others being -inf under the grammar anyway.

Probabilities. At each step the model's next-token distribution is masked to the tokens
``action_space.allowed_next(prefix)`` permits and renormalized over them (the constrained decoding
distribution); a suggestion's probability is the product of those step probabilities. Over all valid
actions and NO_EDIT they sum to 1. Kinds that are not edits are masked out at the first token, so the
distribution is over edits and NO_EDIT. ``DecodeSettings(grammar_normalized=False)`` gives the raw model
probabilities instead (mass the model puts on invalid tokens is then simply lost). The top-k list itself
is never renormalized.

Search. Log-probabilities only fall as a hypothesis grows, so a live hypothesis scoring below the k-th
best finished action can never enter the top k and is pruned; ``beam_width`` caps the rest. When the
cap never cut a hypothesis that could have made the top k, the result is exact
(``Prediction.details["exact"]``). When the grammar leaves a single choice (EOS) and probabilities are
grammar-normalized, the hypothesis is finished without spending a forward step on it.

Forced prefixes. ``predict_from`` runs the same search from given location prefixes instead of the
empty action (the edit stage of ``TwoStagePredictor``): the prefixes of one length are fed as the rows
of one batch on the prompt's cache, and the search continues them under ``AfterLocation``'s grammar.
"""

from __future__ import annotations

import copy
import inspect
import math
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Hashable, Iterator, Mapping

import torch

from nep_core.action_space import NO_EDIT_TOKEN, ActionSpace
from nep_core.actions import Action
from nep_core.checkpoint import LoadedModel
from nep_core.errors import InvalidAction
from nep_core.features import Featurizer
from nep_core.inference.beam_cache import SharedPrefixCache
from nep_core.inference.fast_forward import FastForward
from nep_core.inference.grammar import Columns, GrammarMasks, GrammarStep
from nep_core.inference.predictor import Prediction, Predictor, Suggestion
from nep_core.location_space import AfterLocation, LocationSpace
from nep_core.memo import BoundedMemo
from nep_core.session import Context

if TYPE_CHECKING:
    from transformers import DynamicCache

    from nep_core.domain import Domain

NEG_INF = float("-inf")
DECODED_ACTIONS = 8192
"""Finished token sequences whose decoded actions a predictor remembers."""


class _Stopped(Exception):
    """``predict_interruptible``'s ``stop()`` turned true."""


@dataclass(frozen=True)
class DecodeSettings:
    """Search settings.

    ``beam_width``: live hypotheses at most (never fewer than k); None: the domain's ``beam_width``. ``reuse_prefix``: keep the last prompt's
    KV cache for the next request, per session for the ``prefix_sessions`` most recent sessions.
    ``fast_forward``: compute Llama models with ``FastForward`` (the same logits without the per-module
    overhead of `transformers`); other models always run through their own forward. ``threads``: torch intra-op threads while predicting (restored after):
    batches this small decode fastest on one thread, and one thread never oversubscribes a busy CPU
    (with two threads on a loaded 2-core machine, p95 latency rose from about 5 ms to 600 ms); None
    leaves torch's setting, for large models on many-core CPUs. ``decision``: how NO_EDIT is weighed
    against edits, ``"sequence"`` (the most probable whole action wins) or ``"kind"`` (the first
    decoding step gives each kind of action its exact probability; the most probable kind is weighed
    against NO_EDIT, then the search runs within that kind, so long actions such as strokes are not
    beaten by short ones); None: the domain's ``decision``. ``lookahead``: when the last search's first
    step continued a single token, the prefill also computes the prompt continued by that token, so that
    a search whose first step keeps only that token again saves a forward (``FastForward`` models).
    """

    beam_width: int | None = None
    max_action_tokens: int = 64
    prefix_sessions: int = 8
    grammar_normalized: bool = True
    reuse_prefix: bool = True
    fast_forward: bool = True
    threads: int | None = 1
    decision: str | None = None
    lookahead: bool = True


@dataclass(frozen=True)
class _Hypothesis:
    tokens: tuple[str, ...]
    logp: float
    step: GrammarStep | None = None
    """The grammar step after ``tokens``, when known."""


@dataclass(frozen=True)
class _Candidate:
    logp: float
    row: int
    token_id: int
    tokens: tuple[str, ...]
    step: GrammarStep


@dataclass
class _Lookahead:
    """The prompt continued by one guessed token (the token the last search's first step continued), computed
    in the prefill's forward: its logits (1, vocab) and its keys and values per layer (a row's suffix)."""

    token_id: int
    logits: torch.Tensor
    keys_values: list[tuple[torch.Tensor, torch.Tensor]]


@dataclass
class _PromptState:
    ids: list[int]
    cache: DynamicCache
    logits: torch.Tensor
    columns: Columns | None
    """The token ids ``logits`` holds (None: the whole vocabulary)."""
    ahead: _Lookahead | None = None


@dataclass
class _SearchResult:
    edits: dict[str, tuple[Action, float]]
    no_edit_logp: float
    steps: int
    exact: bool
    undecodable: int
    first_choice: int | None = None
    """The token the search's first step continued alone (the next request's lookahead); None when it
    continued several, so that a domain whose first step keeps several rows pays for no lookahead."""
    looked_ahead: bool = False


def _common_prefix(left: list[int], right: list[int]) -> int:
    size = min(len(left), len(right))
    for index in range(size):
        if left[index] != right[index]:
            return index
    return size


def _fork(cache: DynamicCache) -> DynamicCache:
    """A cache that can be extended or re-batched without touching ``cache``.

    ``DynamicLayer`` never writes its tensors in place (update concatenates, crop slices, batch selection
    indexes), so new layer objects sharing the tensors are enough; no copy of the keys and values is made.
    """
    clone = copy.copy(cache)
    clone.layers = [copy.copy(layer) for layer in cache.layers]
    return clone


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    if threads is None or threads == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _logaddexp(left: float, right: float) -> float:
    if left == NEG_INF:
        return right
    if right == NEG_INF:
        return left
    high = max(left, right)
    return high + math.log1p(math.exp(-abs(left - right)))


def cache_argument(model) -> str:
    """The keyword ``model.forward`` takes its KV cache by: ``cache`` (transformers 5.24+) or ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class ModelPredictor(Predictor):
    """A trained checkpoint behind the ``Predictor`` interface. Thread-safe (one request at a time).

    A location model (``nep train --target location``) decodes with ``LocationSpace``: its suggestions
    are ``location`` actions (``nep_core.location_space``), for ``TwoStagePredictor``. ``owns_model``: the
    model was loaded for this predictor alone and is never trained or saved, so ``FastForward`` may make
    its weights views of its own fused copies (``share_weights``); a model being trained (RL) keeps its own.
    """

    name = "model"

    def __init__(self, loaded: LoadedModel, domain: Domain, settings: DecodeSettings | None = None, owns_model: bool = False):
        self.loaded = loaded
        self.model = loaded.model
        self._cache_argument = cache_argument(self.model)
        self.model.eval()
        self.domain = domain
        self.settings = settings or DecodeSettings()
        self.space = LocationSpace(domain.action_space) if loaded.target == "location" else domain.action_space
        fast = self.settings.fast_forward and FastForward.supports(self.model)
        self._fast = FastForward(self.model, share_weights=owns_model) if fast else None
        self.featurizer = Featurizer(domain, loaded.tokenizer, loaded.max_context_tokens, loaded.target)
        self.device = next(self.model.parameters()).device
        nothing = torch.zeros(0, dtype=torch.long, device=self.device)
        self._no_columns = Columns(nothing, (nothing,))
        vocab_size = self.model.get_output_embeddings().weight.shape[0]
        self.masks = GrammarMasks(domain.action_space, loaded.tokenizer.get_vocab(), vocab_size, self.device)
        self.eos_id = self.featurizer.eos_id
        self.no_edit_id = loaded.tokenizer.get_vocab().get(NO_EDIT_TOKEN)
        self._lock = threading.Lock()
        self._prompt_states: OrderedDict[str, _PromptState] = OrderedDict()
        self._reusable: bool | None = None
        self._first_choice: int | None = None
        self._decoded_actions: BoundedMemo[Action | None] = BoundedMemo(DECODED_ACTIONS)
        self._labels: BoundedMemo[str] = BoundedMemo(DECODED_ACTIONS)

    # -- the Predictor interface ---------------------------------------------------------------

    def predict(self, context: Context, k: int = 3) -> Prediction:
        return self._predict(context, k, None)

    def predict_interruptible(self, context: Context, k: int, stop: Callable[[], bool]) -> Prediction | None:
        """``predict``, checking ``stop()`` before each forward step of the search; None when it stopped."""
        try:
            return self._predict(context, k, stop)
        except _Stopped:
            return None

    def _predict(self, context: Context, k: int, stop: Callable[[], bool] | None) -> Prediction:
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        started = time.perf_counter()
        with self._lock, torch.inference_mode(), _torch_threads(self.settings.threads):
            space = self.space.for_context(context)
            prompt = self.featurizer.prompt_ids(context)
            ahead_id = self._first_choice if self._fast is not None and self.settings.lookahead else None
            # Only the first step's allowed tokens get logits: the output layer is often the largest matrix.
            bias, columns = self._rows([self.masks.step((), space)])
            cache, logits, reused, ahead = self._prefill(prompt, context.session_id, ahead_id, columns)
            kind, kind_probability = None, None
            if (self.settings.decision or self.domain.decision) == "kind":
                kind, kind_probability = self._likeliest_kind(logits, space, columns)
            result = self._search(self.rows_cache(cache), logits, k, space, kind, stop, columns=columns, bias=bias, ahead=ahead)
            if result.steps:
                self._first_choice = result.first_choice
        suggestions = self._ranked(result, k)
        details = {
            "exact": result.exact,
            "steps": result.steps,
            "looked_ahead": result.looked_ahead,
            "prompt_tokens": len(prompt),
            "reused_tokens": reused,
            "normalization": "grammar" if self.settings.grammar_normalized else "model",
        }
        if result.undecodable:
            details["undecodable"] = result.undecodable
        latency_ms = (time.perf_counter() - started) * 1000.0
        return Prediction(suggestions, math.exp(result.no_edit_logp), latency_ms, details, kind_probability)

    def _ranked(self, result: _SearchResult, k: int) -> list[Suggestion]:
        ranked = sorted(result.edits.values(), key=lambda item: -item[1])[:k]
        return [Suggestion(action, math.exp(logp), self._label(action)) for action, logp in ranked]

    def _label(self, action: Action) -> str:
        """``self.space.describe(action)``, remembered by the action's key (blender's label writes and reads
        the call again)."""
        return self._labels.get(action.key(), lambda: self.space.describe(action))

    def predict_from(
        self,
        context: Context,
        prefixes: Mapping[tuple[str, ...], float],
        k: int = 3,
        stop: Callable[[], bool] | None = None,
        floor: float = 0.0,
    ) -> Prediction | None:
        """The top-``k`` edits whose tokens start with one of ``prefixes`` (location prefixes, each with
        a prior probability), each with prior × P(the rest | context, prefix), the rest decoded by the same
        search under ``AfterLocation``'s grammar. NO_EDIT is not searched (``p_no_edit`` is 0). A prefix
        after which the grammar allows only EOS is finished without running the model (with grammar
        normalization). Only edits more probable than ``floor`` are searched for (the two-stage predictor
        passes P(NO_EDIT): an edit below it would not be shown); a prefix whose prior is not above it is
        skipped. With ``stop``: None when it turned true before a forward step."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        started = time.perf_counter()
        try:
            with self._lock, torch.inference_mode(), _torch_threads(self.settings.threads):
                result, prompt_tokens, reused = self._search_from(context, prefixes, k, stop, math.log(floor) if floor > 0 else NEG_INF)
        except _Stopped:
            return None
        details = {"exact": result.exact, "steps": result.steps, "prompt_tokens": prompt_tokens, "reused_tokens": reused}
        if result.undecodable:
            details["undecodable"] = result.undecodable
        return Prediction(self._ranked(result, k), 0.0, (time.perf_counter() - started) * 1000.0, details)

    def _search_from(
        self, context: Context, prefixes: Mapping[tuple[str, ...], float], k: int, stop: Callable[[], bool] | None, floor: float
    ) -> tuple[_SearchResult, int, int]:
        """One search per prefix length, all prefixes of a length as the rows of one batch, the likeliest
        first; each search adds to the same result, so the edits found so far prune the next."""
        space = self.space.for_context(context)
        merged = _SearchResult({}, NEG_INF, 0, True, 0)
        by_length: dict[int, list[_Hypothesis]] = {}
        for prefix, probability in prefixes.items():
            prefix = tuple(prefix)
            if probability <= 0.0 or math.log(probability) <= floor:
                continue
            if not prefix or any(token not in self.masks.vocab for token in prefix):
                merged.undecodable += 1  # a prefix this model cannot write
                continue
            start = _Hypothesis(prefix, math.log(probability))
            if self.settings.grammar_normalized and self.masks.step(prefix, AfterLocation(space, len(prefix))).only_eos:
                self._finish(merged, space, prefix, start.logp)
            else:
                by_length.setdefault(len(prefix), []).append(start)
        if not by_length:
            return merged, 0, 0
        prompt = self.featurizer.prompt_ids(context)
        cache, _, reused, _ = self._prefill(prompt, context.session_id, columns=self._no_columns)  # logits unread
        for length, starts in sorted(by_length.items(), key=lambda item: -max(start.logp for start in item[1])):
            if stop is not None and stop():
                raise _Stopped
            branch = self.rows_cache(cache, len(starts))
            after = AfterLocation(space, length)
            bias, columns = self._rows([self.masks.step(start.tokens, after) for start in starts])
            logits = self._step(torch.tensor([self.featurizer.ids(start.tokens) for start in starts], device=self.device), branch, columns)
            merged.steps += 1
            self._search(branch, logits, k, after, stop=stop, start=starts, result=merged, floor=floor, columns=columns, bias=bias)
        return merged, len(prompt), reused

    def _likeliest_kind(self, logits: torch.Tensor, space: ActionSpace, columns: Columns | None = None) -> tuple[str | None, float | None]:
        """The first token (the kind) of the most probable edit kind and its probability, from the first step's
        logits (with ``columns``: those of these token ids only)."""
        step = self.masks.step((), space)
        ids = [index for index in step.ids if index != self.no_edit_id]
        if not ids:
            return None, None
        bias = step.bias if columns is None else step.bias.index_select(0, columns.ids)
        if self.settings.grammar_normalized:
            scores = torch.log_softmax(logits[0] + bias, dim=-1)
        else:
            scores = torch.log_softmax(logits[0], dim=-1) + bias
        chosen = torch.tensor(ids, device=scores.device)
        if columns is not None:
            chosen = torch.searchsorted(columns.ids, chosen)  # the first step's columns: its ids, sorted
        best = int(torch.argmax(scores[chosen]))
        return self.featurizer.id_to_token[ids[best]], math.exp(float(scores[chosen][best]))

    def input_key(self, context: Context) -> Hashable:
        """The encoder's ``time_key`` when it has one (cheap: no encoding), else the prompt's token ids:
        the model reads an event's time only through the prompt."""
        key = self.quick_input_key(context)
        return key if key is not None else self.prompt_key(context)

    def prompt_key(self, context: Context) -> Hashable:
        """The prompt's token ids: all the model reads."""
        with self._lock:
            return tuple(self.featurizer.prompt_ids(context))

    def quick_input_key(self, context: Context) -> Hashable | None:
        """``input_key`` from the encoder's ``time_key``; None when the encoder has none."""
        key = self.featurizer.domain.encoder.time_key(context)
        return None if key is None else ("times", key)

    def sequence_logprob(self, context: Context, action: Action) -> float:
        """log P(action <eos> | context) from one full forward pass without a cache, under the same
        masking and normalization as ``predict`` (-inf for an action the grammar cannot write)."""
        space = self.space.for_context(context)
        tokens = space.encode(action)
        target = [*self.featurizer.ids(tokens), self.eos_id]
        with self._lock, torch.inference_mode(), _torch_threads(self.settings.threads):
            prompt = self.featurizer.prompt_ids(context)
            input_ids = torch.tensor([prompt + target], device=self.device)
            logits = self.model(input_ids=input_ids, use_cache=False).logits[0].float()
            total = 0.0
            for position, token_id in enumerate(target):
                row = logits[len(prompt) - 1 + position]
                bias = self.masks.step(tokens[:position], space).bias
                if self.settings.grammar_normalized:
                    step = torch.log_softmax(row + bias, dim=-1)[token_id]
                else:
                    step = torch.log_softmax(row, dim=-1)[token_id] + bias[token_id]
                total += float(step)
        return total

    def reset(self) -> None:
        """Forget the cached prompt (the next request prefills from scratch)."""
        with self._lock:
            self._prompt_states.clear()

    def warmup(self) -> float:
        """One throw-away prediction, so that the first real request does not pay for lazy
        initialisation; returns its latency in ms."""
        latency = self.predict(Context(history=[]), k=1).latency_ms
        self.reset()
        return latency

    # -- prefill with prefix reuse -------------------------------------------------------------

    def _forward(self, ids: list[int], cache: DynamicCache) -> torch.Tensor:
        return self._step(torch.tensor([ids], device=self.device), cache)

    def _step(self, input_ids: torch.Tensor, cache: DynamicCache | SharedPrefixCache, columns: Columns | None = None) -> torch.Tensor:
        """The last position's logits for ``input_ids`` after ``cache``, which is extended: (batch, vocab),
        or with ``columns`` those logits only, (batch, len(columns.ids))."""
        if self._fast is not None:
            return self._fast(input_ids, cache, None if columns is None else columns.parts)
        out = self.model(input_ids=input_ids, **{self._cache_argument: cache}, use_cache=True, logits_to_keep=1)
        logits = out.logits[:, -1, :].float()
        return logits if columns is None else logits.index_select(1, columns.ids)

    def rows_cache(self, cache: DynamicCache, rows: int = 1) -> DynamicCache | SharedPrefixCache:
        """A cache for ``rows`` continuations of the prompt in ``cache`` (left unchanged): with ``FastForward``
        a ``SharedPrefixCache`` (the prompt's keys and values are not copied per row), else a re-batched fork."""
        if self._fast is not None:
            return SharedPrefixCache(cache, rows)
        branch = _fork(cache)
        if rows != 1:
            branch.batch_select_indices(torch.zeros(rows, dtype=torch.long, device=self.device))
        return branch

    def _rows(self, steps: list[GrammarStep]) -> tuple[torch.Tensor, Columns | None]:
        """The bias rows of hypotheses at ``steps`` and the token ids whose logits the next forward computes
        (``GrammarMasks.rows``; None: the whole vocabulary). Raw model probabilities need every logit."""
        return self.masks.rows(steps, restrict=self.settings.grammar_normalized)

    def _reusable_state(self, session: str) -> _PromptState | None:
        """The session's last prompt, else the newest prompt of any session (None: prefill afresh)."""
        if not (self.settings.reuse_prefix and self._reusable and self._prompt_states):
            return None
        state = self._prompt_states.get(session)
        return state if state is not None else next(reversed(self._prompt_states.values()))

    def _remember(self, session: str, state: _PromptState) -> None:
        self._prompt_states.pop(session, None)
        self._prompt_states[session] = state
        while len(self._prompt_states) > max(1, self.settings.prefix_sessions):
            self._prompt_states.popitem(last=False)

    def _prefill(
        self, prompt: list[int], session: str = "", ahead_id: int | None = None, columns: Columns | None = None
    ) -> tuple[DynamicCache, torch.Tensor, int, _Lookahead | None]:
        """The prompt's cache and last logits (reusing a remembered prompt's), how many tokens were reused,
        and with ``ahead_id`` the prompt continued by that token, computed in the same forward. With
        ``columns``, the logits of those tokens only (the lookahead's stay whole)."""
        from transformers import DynamicCache

        state = self._reusable_state(session)
        reused = _common_prefix(state.ids, prompt) if state is not None else 0
        if state is not None and reused == len(prompt) == len(state.ids) and state.columns is not columns:
            reused -= 1  # the same prompt, but its logits for other token ids: recompute the last position
        if state is not None and reused == len(prompt) == len(state.ids):
            self._remember(session, state)
            ahead = state.ahead if state.ahead is not None and state.ahead.token_id == ahead_id else None
            return _fork(state.cache), state.logits, reused, ahead
        if state is not None and 0 < reused < len(prompt):
            cache = _fork(state.cache)
            if len(state.ids) > reused:
                cache.crop(-(len(state.ids) - reused))  # transformers 5.x: the number of tokens to remove
        else:
            reused = 0
            cache = DynamicCache(config=self.model.config)
        ahead = None
        if ahead_id is None:
            logits = self._step(torch.tensor([prompt[reused:]], device=self.device), cache, columns)
        else:
            both = self._fast(torch.tensor([[*prompt[reused:], ahead_id]], device=self.device), cache, last=2)[0]
            logits = both[:1] if columns is None else both[:1].index_select(1, columns.ids)
            keys_values = [(layer.keys[..., -1:, :], layer.values[..., -1:, :]) for layer in cache.layers]
            cache.crop(-1)
            ahead = _Lookahead(ahead_id, both[1:], keys_values)
        if self._reusable is None:
            from transformers.cache_utils import DynamicLayer

            self._reusable = all(type(layer) is DynamicLayer for layer in cache.layers)
        if self.settings.reuse_prefix and self._reusable:
            self._remember(session, _PromptState(list(prompt), _fork(cache), logits, columns, ahead))
        return cache, logits, reused, ahead

    # -- the search ----------------------------------------------------------------------------

    def _search(
        self,
        cache: DynamicCache,
        logits: torch.Tensor,
        k: int,
        space: ActionSpace,
        kind: str | None = None,
        stop: Callable[[], bool] | None = None,
        start: list[_Hypothesis] | None = None,
        result: _SearchResult | None = None,
        floor: float = NEG_INF,
        columns: Columns | None = None,
        bias: torch.Tensor | None = None,
        ahead: _Lookahead | None = None,
    ) -> _SearchResult:
        """The search from the empty action, or from ``start`` (hypotheses of one length whose next-token
        logits are the rows of ``logits``, the cache batched alike; with ``columns``, the logits of those
        token ids only, and ``bias`` the rows' grammar bias over them, as ``GrammarMasks.rows`` gave both);
        it adds to ``result`` when given. Hypotheses at or below the log-probability
        ``floor`` are neither continued nor finished. With ``ahead``, a first step that continues only the
        looked-ahead token takes its logits and keys and values instead of a forward."""
        settings = self.settings
        width = max(settings.beam_width or self.domain.beam_width, k)
        live = start or [_Hypothesis((), 0.0)]
        result = result or _SearchResult({}, NEG_INF, 0, True, 0)
        edits = result.edits
        best_dropped = NEG_INF
        if bias is None:
            if columns is not None:
                raise ValueError("a search over columns needs their bias")
            bias = self.masks.biases([hypothesis.tokens for hypothesis in live], space)
        while live:
            per_row = min(width + k + 1, logits.shape[-1])
            if settings.grammar_normalized:
                scores = torch.log_softmax(logits + bias, dim=-1)
            else:
                scores = torch.log_softmax(logits, dim=-1) + bias
            scores = scores + torch.tensor([hypothesis.logp for hypothesis in live], device=scores.device)[:, None]
            top_values, top_ids = torch.topk(scores, per_row, dim=-1)
            if columns is not None:
                top_ids = columns.ids[top_ids]
            rows = list(zip(top_values.tolist(), top_ids.tolist()))
            if not live[0].tokens and self.no_edit_id is not None and self.no_edit_id not in rows[0][1]:
                where = self.no_edit_id if columns is None else int(torch.searchsorted(columns.ids, self.no_edit_id))  # one step's ids
                if columns is None or (where < len(columns.ids) and int(columns.ids[where]) == self.no_edit_id):
                    rows[0][0].append(float(scores[0, where]))
                    rows[0][1].append(self.no_edit_id)

            candidates: list[_Candidate] = []
            finishing: list[tuple[float, tuple[str, ...]]] = []
            # An edit at or below the k-th best found so far can neither enter the top k nor lead to it (log-
            # probabilities only fall): it is not finished, decoded or continued. NO_EDIT's mass is always counted.
            threshold = max(self._kth_best(edits, k), floor)
            for row, (values, token_ids) in enumerate(rows):
                hypothesis = live[row]
                if len((hypothesis.step or self.masks.step(hypothesis.tokens, space)).ids) > per_row:  # this row has unexamined tokens
                    best_dropped = max(best_dropped, values[per_row - 1])
                silent = bool(hypothesis.tokens) and hypothesis.tokens[0] == NO_EDIT_TOKEN
                for logp, token_id in zip(values, token_ids):
                    if logp <= floor:  # NEG_INF at least: a token the grammar forbids
                        continue
                    if logp <= threshold and not silent and token_id != self.no_edit_id:
                        continue
                    if token_id == self.eos_id:
                        finishing.append((logp, hypothesis.tokens))
                        continue
                    tokens = (*hypothesis.tokens, self.featurizer.id_to_token[token_id])
                    if kind is not None and len(tokens) == 1 and tokens[0] not in (kind, NO_EDIT_TOKEN):
                        continue  # deciding by kind: search within the likeliest kind only
                    step = self.masks.step(tokens, space)
                    if step.is_dead_end:
                        continue
                    if step.only_eos and settings.grammar_normalized:
                        finishing.append((logp, tokens))
                    elif len(tokens) >= settings.max_action_tokens:
                        best_dropped = max(best_dropped, logp)
                    else:
                        candidates.append(_Candidate(logp, row, token_id, tokens, step))

            # Finished likeliest first, so that once k edits are known the rest need not be decoded.
            for logp, tokens in sorted(finishing, key=lambda item: -item[0]):
                if tokens[0] == NO_EDIT_TOKEN or logp > self._kth_best(edits, k):
                    self._finish(result, space, tokens, logp)
            threshold = max(self._kth_best(edits, k), floor)
            pinned = [candidate for candidate in candidates if candidate.tokens[0] == NO_EDIT_TOKEN]
            kept: list[_Candidate] = []
            for candidate in sorted(candidates, key=lambda candidate: -candidate.logp):
                if candidate.tokens[0] == NO_EDIT_TOKEN:
                    continue
                if candidate.logp <= threshold:
                    break
                if len(kept) >= width:
                    best_dropped = max(best_dropped, candidate.logp)
                    break
                kept.append(candidate)
            kept.extend(pinned)
            if not kept:
                break
            if stop is not None and stop():
                raise _Stopped
            if not live[0].tokens:
                result.first_choice = kept[0].token_id if len(kept) == 1 else None
            bias, columns = self._rows([candidate.step for candidate in kept])
            if ahead is not None and not live[0].tokens and [candidate.token_id for candidate in kept] == [ahead.token_id]:
                cache.continue_row(ahead.keys_values)
                logits = ahead.logits if columns is None else ahead.logits.index_select(1, columns.ids)
                result.looked_ahead = True
            else:
                chosen_rows = [candidate.row for candidate in kept]
                if chosen_rows != list(range(len(live))):
                    cache.batch_select_indices(torch.tensor(chosen_rows, device=self.device))
                input_ids = torch.tensor([[candidate.token_id] for candidate in kept], device=self.device)
                logits = self._step(input_ids, cache, columns)
            live = [_Hypothesis(candidate.tokens, candidate.logp, candidate.step) for candidate in kept]
            result.steps += 1

        result.exact = result.exact and best_dropped <= self._kth_best(edits, k)
        return result

    def _finish(self, result: _SearchResult, space: ActionSpace, tokens: tuple[str, ...], logp: float) -> None:
        """Count a finished hypothesis: NO_EDIT's mass, or an edit's (summed when tokens differ but the action is the same)."""
        action = self._decoded(space, tokens)
        if action is None:
            result.undecodable += 1
            return
        if action.is_no_edit:
            result.no_edit_logp = _logaddexp(result.no_edit_logp, logp)
        elif action.edit:
            ModelPredictor._add(result.edits, action, logp)

    def _decoded(self, space: ActionSpace, tokens: tuple[str, ...]) -> Action | None:
        """``space.decode(tokens)``, None when they are no action; remembered for the predictor's own space
        (a view ``for_context`` returns may read tokens otherwise), as searches finish the same actions
        request after request. Actions are values, never changed in place, so one object can be shared."""
        if space is self.space:
            return self._decoded_actions.get(tokens, lambda: self._decode(space, tokens))
        return self._decode(space, tokens)

    @staticmethod
    def _decode(space: ActionSpace, tokens: tuple[str, ...]) -> Action | None:
        try:
            return space.decode(tokens)
        except InvalidAction:
            return None

    @staticmethod
    def _add(edits: dict[str, tuple[Action, float]], action: Action, logp: float) -> None:
        key = action.key()
        previous = edits.get(key)
        edits[key] = (action, logp if previous is None else _logaddexp(previous[1], logp))

    @staticmethod
    def _kth_best(edits: dict[str, tuple[Action, float]], k: int) -> float:
        if len(edits) < k:
            return NEG_INF
        return sorted((logp for _, logp in edits.values()), reverse=True)[k - 1]
