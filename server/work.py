"""What the model thread does for a request: generate the choices of a chat or a completion, and
score a prompt's own tokens for `echo` + `logprobs`.

Runs only inside a queue job (server/queue.py), so it alone touches the model. Generations go
through the engine's `Generation` with as many top alternatives as the request asked for; a
streaming request gets each token as an event ("token", choice index, Token) the moment it
exists. It builds no HTTP responses (see responses.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

import engine
from engine.generation import Generation

from .queue import Job


@dataclass
class Choice:
    index: int
    tokens: list[engine.Token] = field(default_factory=list)
    stats: engine.Stats = field(default_factory=engine.Stats)
    prompt_ids: list[int] = field(default_factory=list)
    echo: "PromptScores | None" = None  # the prompt's own token log-probabilities (completions with echo)

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)


@dataclass(frozen=True)
class PromptScores:
    logprobs: list[float | None]  # per prompt token; None for the first (nothing precedes it)
    top: list[tuple[engine.Alternative, ...] | None]  # the most likely tokens at each position
    next_token: engine.Token  # the greedy next token after the prompt (for max_tokens 1 without a second pass)


def generate_choices(job: Job, model: engine.Model, jobs: list[tuple[int, list[int], engine.Sampling]], top: int,
                     stream: bool) -> list[Choice]:
    """Run each (choice index, prompt ids, sampling) in turn; tokens are emitted when streaming."""
    choices = []
    for index, ids, sampling in jobs:
        if job.cancelled.is_set():
            break
        choice = Choice(index, prompt_ids=ids)
        choice.tokens = run_generation(job, model, ids, sampling, top, index if stream else None)
        choice.stats = job.generation.stats
        job.note(choice.stats)
        choices.append(choice)
        if stream:
            job.emit(("choice_done", index, choice))
    return choices


def run_generation(job: Job, model: engine.Model, ids: list[int], sampling: engine.Sampling, top: int,
                   emit_index: int | None) -> list[engine.Token]:
    generation = Generation(model, ids, sampling, top=top)
    job.generation = generation
    if job.cancelled.is_set():
        generation.cancel()
    tokens = []
    for token in generation:
        tokens.append(token)
        if emit_index is not None:
            job.emit(("token", emit_index, token))
    return tokens


@torch.inference_mode()
def score_prompt(model: engine.Model, ids: list[int], top: int) -> PromptScores:
    """Each prompt token's log-probability given the tokens before it, and the top alternatives, in one forward."""
    with model.lock:
        logprobs = model.logits([ids])[0].log_softmax(-1)  # (T, V)
    k = max(1, min(top, logprobs.shape[-1]))
    best = torch.topk(logprobs, k)  # values/indices (T, k)
    chosen = logprobs[:-1].gather(1, torch.tensor(ids[1:], device=logprobs.device)[:, None])[:, 0]  # (T-1,)
    values, indices = best.values.tolist(), best.indices.tolist()
    text = model.tokenizer.token_text

    def alternatives(row: int) -> tuple[engine.Alternative, ...]:
        return tuple(engine.Alternative(i, text(i), v) for v, i in zip(values[row][:top], indices[row][:top]))

    per_token = [None] + [float(v) for v in chosen.tolist()]
    tops = [None] + [alternatives(row) for row in range(len(ids) - 1)]
    last = alternatives(len(ids) - 1) if top else ()
    next_id = indices[-1][0]
    next_token = engine.Token(next_id, "", float(values[-1][0]), last)
    if any(math.isnan(v) for v in per_token[1:]):
        raise engine.EngineError("the model produced NaN scores for this prompt; its weights are corrupt or this "
                                 "precision overflows: serve it at fp32 or bf16")
    return PromptScores(per_token, tops, next_token)
