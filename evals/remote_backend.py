"""Evals against a model that runs elsewhere: a `LanguageModel` over any OpenAI-compatible server
(vLLM, llama.cpp's server, Ollama, TGI, `glasslm serve`), and the runner's opener for remote paths.

`RemoteBackend` does what `EngineBackend` does, through HTTP:
- log-likelihood: the context's trailing whitespace moves to the continuation (as lm-eval and
  EngineBackend do); the server tokenizes, so the context's token count comes from one echo
  request on the context alone (cached per context), and the continuation's score is the sum of
  the echoed log-probabilities of the tokens after it in an echo request on context +
  continuation (completions with echo, logprobs 1, max_tokens 1). Greedy = each continuation
  token is the top-1 alternative. Against `glasslm serve` the numbers equal the in-process
  run's (same tokens, same forward), float noise aside.
- generation: chat completions (the server's chat template, with the run's system prompt), or
  text completions when the run turns the template off or the server says the model has none.
- `concurrency` requests in flight (log-likelihood requests within a batch; the runner also
  scores that many generation items at once); retries, backoff and timeouts are the client's.
A server that gives no prompt log-probabilities (Ollama) cannot score: `probe_scoring` says so
before a run, and `cannot_run` tells the runner to leave those items out. Inputs longer than the
server's context window fail with the server's message (nothing is truncated here, unlike
EngineBackend: the tokenizer is on the server). No SQL, no suites.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .errors import RunError
from .runner import LoadedModel, RunSettings, engine_opener

LOGLIKELIHOOD_KINDS = ("multiple_choice", "minimal_pair")  # = scoring.LOGLIKELIHOOD_KINDS (no import cycle)
DEFAULT_CONCURRENCY = 4


class RemoteBackend:
    def __init__(self, model, use_chat_template: bool | str = "auto", system_prompt: str | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY, can_score: bool = True):
        self.model = model  # an engine.remote.RemoteModel
        self.client = model.client
        self.model_id = model.model_id
        self.name = model.model_id
        self.system_prompt = system_prompt
        self.concurrency = max(1, int(concurrency))
        wants = model.has_chat_template if use_chat_template == "auto" else bool(use_chat_template)
        self.use_chat = bool(wants)
        self.auto_template = use_chat_template == "auto"
        self.cannot_run = () if can_score else LOGLIKELIHOOD_KINDS
        self._context_tokens: dict[str, int] = {}
        self._lock = threading.Lock()

    # ---- log-likelihood -------------------------------------------------------------------
    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        pairs = [_split(context, continuation) for context, continuation in requests]
        contexts = list(dict.fromkeys(c for c, _ in pairs if c not in self._context_tokens))
        with ThreadPoolExecutor(min(self.concurrency, max(1, len(pairs)))) as pool:
            for context, n in zip(contexts, pool.map(self._count_tokens, contexts)):
                with self._lock:
                    self._context_tokens[context] = n
            return list(pool.map(lambda pair: self._score(*pair), pairs))

    def _count_tokens(self, context: str) -> int:
        """How many tokens the server makes of the context alone (its start-of-text token included)."""
        from engine.remote import RemoteError

        try:
            return len(self.client.echo_logprobs(self.model_id, context, top=1).tokens)
        except RemoteError as err:
            if context == "" and err.status == 400:  # an empty prompt: the server adds no start token
                return 0
            raise

    def _score(self, context: str, continuation: str) -> tuple[float, bool]:
        from engine.remote import CannotScore

        if not continuation:
            return 0.0, True
        n_context = self._context_tokens[context]
        echo = self.client.echo_logprobs(self.model_id, context + continuation, top=1)
        values, tops = echo.logprobs[n_context:], echo.top[n_context:]
        if not values:
            return 0.0, True
        if any(v is None for v in values):
            raise CannotScore(f"{self.client.base_url} puts no start-of-text token before a prompt, so the first "
                              "token of a text with no context has no probability; minimal-pair items cannot be "
                              "scored on this server")
        greedy = all(top and v >= max(top.values()) for v, top in zip(values, tops))
        return float(sum(values)), bool(greedy)

    # ---- generation -----------------------------------------------------------------------
    def render(self, prompt: str) -> str:
        """What is sent: the prompt itself (the server applies its own chat template)."""
        return prompt

    def generate(self, prompt: str, settings: dict) -> str:
        from engine import Sampling
        from engine.remote import RemoteError, sampling_fields

        sampling = Sampling.from_dict(settings)
        fields = {"model": self.model_id, **sampling_fields(sampling)}
        if self.use_chat:
            messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else [])
            messages.append({"role": "user", "content": prompt})
            try:
                answer = self.client.chat({**fields, "messages": messages})
                return _content(answer, chat=True)
            except RemoteError as err:
                if not (self.auto_template and err.status == 400 and "template" in str(err).lower()):
                    raise
                self.use_chat = False  # the server says this model cannot chat: plain completions from now on
        return _content(self.client.complete({**fields, "prompt": prompt}), chat=False)


@dataclass(frozen=True)
class Scoring:
    """Whether a server can score, and if not, why."""
    ok: bool
    reason: str = ""


PROBE_PROMPT = "The capital of France is"
CONSISTENCY_TOLERANCE = 0.05  # nats; the same server scoring the same token twice (batching may differ)


def probe_scoring(model) -> Scoring:
    """Does this server return prompt log-probabilities, and are they the right ones?

    The check is the server against itself: the greedy next token after a prompt, with its
    log-probability, must get the same log-probability when it is echoed at the end of the prompt.
    An echo that is off by one position (llama-cpp-python's) fails it, whatever the model."""
    from engine.remote import CannotScore, RemoteError

    client, name = model.client, model.model_id
    try:
        context = client.echo_logprobs(name, PROBE_PROMPT, top=1)
        answer = client.complete({"model": name, "prompt": PROBE_PROMPT, "max_tokens": 1, "temperature": 0,
                                  "logprobs": 1})
    except CannotScore as err:
        return Scoring(False, str(err))
    except RemoteError as err:
        if err.status in (400, 404, 422, 501):
            return Scoring(False, f"{client.base_url} refused a completions request with echo and logprobs ({err})")
        raise
    if len(context.logprobs) > 1 and all(v is None for v in context.logprobs[1:]):
        return Scoring(False, f"{client.base_url} echoes prompts without log-probabilities")
    choice = (answer.get("choices") or [{}])[0]
    generated = choice.get("text") or ""
    values = (choice.get("logprobs") or {}).get("token_logprobs") or []
    if not generated.strip() or not values or values[0] is None:
        return Scoring(True)  # nothing to cross-check against (an end-of-text token, or no logprobs)
    echoed = client.echo_logprobs(name, PROBE_PROMPT + generated, top=1)
    if len(echoed.logprobs) != len(context.logprobs) + 1 or echoed.logprobs[-1] is None:
        return Scoring(True)  # the token merged with the prompt's last one: no like-for-like check
    if abs(echoed.logprobs[-1] - values[0]) > CONSISTENCY_TOLERANCE:
        return Scoring(False, f"{client.base_url} echoes prompt log-probabilities that disagree with its own "
                              f"next-token ones ({echoed.logprobs[-1]:.3f} against {values[0]:.3f} for the same "
                              "token: an echo off by one position, as llama-cpp-python's server gives), so it "
                              "cannot score choices")
    return Scoring(True)


def remote_opener(api_key: str | None = None, concurrency: int = DEFAULT_CONCURRENCY, timeout_s: float = 120.0,
                  retries: int = 4, local=engine_opener):
    """The runner's opener: remote paths (http://host/v1#model) through RemoteBackend, the rest through `local`."""

    def load(model_path: str | None, settings: RunSettings) -> LoadedModel:
        from engine import EngineError
        from engine.remote import connect_path, is_remote, remote_path

        if not is_remote(model_path):
            return local(model_path, settings)
        try:
            model = connect_path(model_path, api_key=api_key, timeout_s=timeout_s, retries=retries)
            scoring = probe_scoring(model)
        except EngineError as exc:
            raise RunError(f"could not use {model_path}: {exc}") from exc
        backend = RemoteBackend(model, settings.use_chat_template, settings.system_prompt, concurrency, scoring.ok)
        info = {**model.info.to_dict(), "path": remote_path(model.client.base_url, model.model_id),
                "endpoint": model.client.base_url, "served_model": model.model_id, "card": model.card,
                "can_score": scoring.ok}
        return LoadedModel(backend, info, model.close)

    def check(model_path: str | None) -> None:
        from engine import EngineError
        from engine.remote import is_remote, parse_remote_path

        if not is_remote(model_path):
            return getattr(local, "check", lambda _path: None)(model_path)
        try:
            parse_remote_path(model_path)
        except EngineError as exc:
            raise RunError(str(exc)) from None

    load.check = check  # type: ignore[attr-defined]
    return load


def _split(context: str, continuation: str) -> tuple[str, str]:
    """Trailing whitespace of the context belongs to the continuation (lm-eval's rule)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        return context[:-n_spaces], context[-n_spaces:] + continuation
    return context, continuation


def _content(answer: dict, chat: bool) -> str:
    from engine.remote import RemoteError

    choices = answer.get("choices") or []
    if not choices or not isinstance(choices[0], dict):
        raise RemoteError("the server answered without any choice; is this an OpenAI-compatible server?")
    if chat:
        return (choices[0].get("message") or {}).get("content") or ""
    return choices[0].get("text") or ""


@dataclass(frozen=True)
class RemotePlan:
    """What `glasslm eval run --endpoint` runs: the remote path, the opener, and the suites left to run."""
    model_path: str
    opener: object
    suites: list
    notes: list[str]


def plan_remote_runs(endpoint: str, remote_model: str | None, api_key: str | None, concurrency: int,
                     timeout_s: float, suites: list) -> RemotePlan:
    """Reach the server once (RunError when it cannot be used), and name the suites and parts it cannot run:
    a server without prompt log-probabilities skips multiple-choice and minimal-pair items; a suite made only of
    those is left out. The rest runs."""
    from engine import EngineError
    from engine.remote import api_key_for, connect, normalize_base_url, remote_path

    if not 1 <= concurrency <= 1024:
        raise RunError(f"--concurrency must be a whole number from 1 to 1024, not {concurrency}")
    if not timeout_s > 0:
        raise RunError(f"--timeout must be a number of seconds above 0, not {timeout_s}")
    try:
        url = normalize_base_url(endpoint)
        key = api_key_for(url, api_key)
        model = connect(url, remote_model, api_key=key, timeout_s=timeout_s)
        scoring = probe_scoring(model)
    except EngineError as exc:
        raise RunError(f"could not use the server at {endpoint}: {exc}") from None
    path = remote_path(url, model.model_id)
    notes, kept = [], []
    for suite in suites:
        kinds = [item.kind for item in suite.items]
        unscorable = [k for k in kinds if k in LOGLIKELIHOOD_KINDS]
        if scoring.ok or not unscorable:
            kept.append(suite)
            continue
        parts = ", ".join(sorted(set(unscorable)))
        if len(unscorable) == len(kinds):
            notes.append(f"{suite.id}: not run (all {len(kinds)} items are {parts})")
        else:
            notes.append(f"{suite.id}: {len(unscorable)} of {len(kinds)} items left out ({parts}); the rest runs")
            kept.append(suite)
    if notes:
        notes.insert(0, f"{scoring.reason}; so:")
    if not kept:
        raise RunError(f"{scoring.reason}, and every suite asked for needs log-probabilities; run generation "
                       "suites against it, or use a server that scores (vLLM, llama.cpp's server, glasslm serve)")
    opener = remote_opener(api_key=key, concurrency=concurrency, timeout_s=timeout_s)
    return RemotePlan(path, opener, kept, notes)
