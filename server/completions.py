"""POST /v1/completions: plain text completion of a prompt (text, token ids, or a list of either),
with `echo` (the prompt's own tokens and their log-probabilities first) and `max_tokens: 0` for
scoring only: what lm-eval's `local-completions` sends for log-likelihood tasks.

A text prompt is tokenized as evals/backend.py and transformers do (BOS first when the
tokenizer config says `add_bos_token`); token ids are used as given. Echo scores the prompt in
one forward; `max_tokens: 1` at temperature 0 takes its greedy token from that same forward.
Streams like chat (server-sent events, usage in the last chunk when asked).
"""
from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

import engine
from engine.tokenizer import TextStream

from . import responses as shapes
from .errors import bad_request, from_engine
from .schemas import CompletionRequest
from .work import Choice, run_generation, score_prompt


async def completions(body: CompletionRequest, request: Request):
    served = request.app.state.served
    served.check_model(body.model)
    body.refuse_unsupported()
    model = served.model
    prompts = [_prompt_ids(model, p, served.vocab_size) for p in body.prompts()]
    for ids in prompts:
        if body.max_tokens == 0:
            served.check_fits(ids, "the prompt")
        else:
            served.room_after(ids, "the prompt")
    top = body.logprobs
    samplings = [[body.sampling(_max_new(served, ids, body.max_tokens), c) for c in range(body.n)] for ids in prompts]
    texts = [p if isinstance(p, str) else None for p in body.prompts()]
    work = _Work(model, prompts, texts, samplings, body, top)
    job = served.queue.submit("completion", work)
    if body.stream:
        return StreamingResponse(_stream(served, body, job, request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})
    try:
        choices = await served.queue.result(job, request.is_disconnected)
    except Exception as err:
        raise from_engine(err) from None
    if choices is None:
        return Response(status_code=499)
    out = [_choice_dict(model, work, c) for c in choices]
    prompt_tokens = sum(len(ids) for ids in prompts)
    return JSONResponse(shapes.completion_response(served.name, out, prompt_tokens,
                                                   sum(c.stats.generated_tokens for c in choices)))


class _Work:
    """The job: for each prompt (scored once when echoing with logprobs), its n choices in turn."""

    def __init__(self, model, prompts, texts, samplings, body: CompletionRequest, top):
        self.model, self.prompts, self.texts, self.samplings = model, prompts, texts, samplings
        self.body, self.top = body, top

    def __call__(self, job) -> list[Choice]:
        body, out = self.body, []
        for p, ids in enumerate(self.prompts):
            scores = score_prompt(self.model, ids, max(1, self.top or 0)) if body.echo and self.top is not None else None
            for c, sampling in enumerate(self.samplings[p]):
                if job.cancelled.is_set():
                    return out
                choice = Choice(p * body.n + c, prompt_ids=ids, echo=scores)
                stream_index = choice.index if body.stream else None
                if body.stream and body.echo:
                    job.emit(("echo", choice.index, choice))
                if sampling.max_new_tokens == 0:
                    choice.stats = engine.Stats(prompt_tokens=len(ids), stop_reason="length")
                elif scores is not None and sampling.max_new_tokens == 1 and _greedy(sampling):
                    choice.tokens, choice.stats = _one_greedy(self.model, ids, scores, sampling)
                    if stream_index is not None:
                        job.emit(("token", stream_index, choice.tokens[0]))
                else:
                    choice.tokens = run_generation(job, self.model, ids, sampling, self.top or 0, stream_index)
                    choice.stats = job.generation.stats
                job.note(choice.stats)
                out.append(choice)
                if body.stream:
                    job.emit(("choice_done", choice.index, choice))
        return out


def _prompt_ids(model, prompt, vocab_size: int) -> list[int]:
    if isinstance(prompt, str):
        tokenizer = model.tokenizer
        bos = [tokenizer.bos_id] if tokenizer.add_bos and tokenizer.bos_id is not None else []
        ids = bos + tokenizer.encode(prompt, add_special_tokens=False)
    else:
        ids = list(prompt)
        bad = next((i for i in ids if not 0 <= i < vocab_size), None)
        if bad is not None:
            raise bad_request(f"token id {bad} is outside this model's vocabulary (0 to {vocab_size - 1})",
                              param="prompt")
    if not ids:
        raise bad_request("the prompt is empty (no tokens); give some text or token ids", param="prompt")
    return ids


def _max_new(served, ids: list[int], wanted: int | None) -> int:
    room = served.model.info.context_length - len(ids)
    return max(0, room if wanted is None else min(wanted, room))


def _greedy(s: engine.Sampling) -> bool:
    return s.temperature == 0 and s.repetition_penalty == 1.0


def _one_greedy(model, ids: list[int], scores, sampling: engine.Sampling):
    """The token a greedy one-token generation would give, from the echo forward's last position."""
    token = scores.next_token
    eos = token.id in model.tokenizer.eos_ids and sampling.stop_on_eos
    stream = TextStream(model.tokenizer, ids)
    text = "" if eos else stream.push(token.id) + stream.flush()
    token = engine.Token(token.id, text, token.logprob, token.top)
    stats = engine.Stats(prompt_tokens=len(ids), generated_tokens=1, stop_reason="eos" if eos else "length")
    return [token], stats


def _echo_logprobs(model, work: _Work, choice: Choice) -> shapes.LegacyLogprobs:
    """The prompt part of a logprobs object: each prompt token, its log-probability and top alternatives."""
    tokenizer, ids = model.tokenizer, choice.prompt_ids
    from_text = work.texts[choice.index // work.body.n] is not None
    added_bos = from_text and tokenizer.add_bos and ids and ids[0] == tokenizer.bos_id
    logprobs = shapes.LegacyLogprobs()
    stream = TextStream(tokenizer, [])
    for i, token_id in enumerate(ids):
        shown = "" if (added_bos and i == 0) else stream.push(token_id)
        scores = choice.echo
        logprobs.add(tokenizer.token_text(token_id), scores.logprobs[i] if scores else None,
                     (scores.top[i] if scores else None), shown=shown)
    return logprobs


def _echo_text(model, work: _Work, choice: Choice) -> str:
    text = work.texts[choice.index // work.body.n]
    return text if text is not None else model.tokenizer.decode(choice.prompt_ids)


def _choice_dict(model, work: _Work, choice: Choice) -> dict:
    body = work.body
    prefix = _echo_text(model, work, choice) if body.echo else ""
    logprobs = None
    if work.top is not None:
        logprobs = _echo_logprobs(model, work, choice) if body.echo else shapes.LegacyLogprobs()
        logprobs.offset = len(prefix)
        for t in choice.tokens:
            logprobs.add(model.tokenizer.token_text(t.id), t.logprob, t.top[: work.top], shown=t.text)
    sampling = work.samplings[choice.index // body.n][choice.index % body.n]
    return shapes.completion_choice(choice.index, prefix + choice.text, logprobs, choice.stats, sampling)


async def _stream(served, body: CompletionRequest, job, request: Request):
    chunk_id, created, name = shapes.new_id("cmpl"), shapes.now(), served.name
    model, work = served.model, job.work
    offsets: dict[int, int] = {}
    generated, prompt_tokens = 0, sum(len(ids) for ids in work.prompts)
    try:
        while True:
            event = await served.queue.next_event(job, request.is_disconnected)
            if event is None:
                return
            kind = event[0]
            if kind == "echo":
                _, index, choice = event
                text = _echo_text(model, work, choice)
                logprobs = _echo_logprobs(model, work, choice).as_dict() if work.top is not None else None
                offsets[index] = len(text)
                yield _sse(shapes.completion_chunk(chunk_id, created, name, {
                    "index": index, "text": text, "logprobs": logprobs, "finish_reason": None}))
            elif kind == "token":
                _, index, token = event
                logprobs = None
                if work.top is not None:
                    piece = shapes.LegacyLogprobs(offsets.get(index, 0))
                    piece.add(model.tokenizer.token_text(token.id), token.logprob, token.top[: work.top], token.text)
                    offsets[index] = piece.offset
                    logprobs = piece.as_dict()
                yield _sse(shapes.completion_chunk(chunk_id, created, name, {
                    "index": index, "text": token.text, "logprobs": logprobs, "finish_reason": None}))
            elif kind == "choice_done":
                _, index, choice = event
                generated += choice.stats.generated_tokens
                sampling = work.samplings[index // body.n][index % body.n]
                yield _sse(shapes.completion_chunk(chunk_id, created, name, {
                    "index": index, "text": "", "logprobs": None, "finish_reason": shapes.finish_reason(choice.stats),
                    "stop_reason": shapes.stop_reason(choice.stats, sampling, choice.text)}))
            elif kind == "end":
                if body.include_usage():
                    yield _sse({"id": chunk_id, "object": "text_completion", "created": created, "model": name,
                                "choices": [], "usage": shapes.usage(prompt_tokens, generated)})
                yield "data: [DONE]\n\n"
                return
            elif kind == "error":
                yield _sse(from_engine(event[1]).body())
                yield "data: [DONE]\n\n"
                return
    finally:
        job.cancel()


def _sse(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
