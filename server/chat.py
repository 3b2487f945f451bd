"""POST /v1/chat/completions: messages through the model's chat template, whole or streamed as
server-sent events, with `logprobs` / `top_logprobs` from the engine's own token probabilities.

Checks everything it can before queueing (unknown model, unsupported fields, no chat template,
a conversation longer than the context window), so those are proper 400s; an error after the
stream has started is sent as one `{"error": ...}` event. A client that disconnects cancels its
generation (queue.py). `max_tokens` beyond the context window is cut to what fits
(finish_reason "length").
"""
from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

import engine

from . import responses as shapes
from .errors import APIError, bad_request, from_engine
from .schemas import ChatCompletionRequest
from .work import generate_choices


async def chat_completions(body: ChatCompletionRequest, request: Request):
    served = request.app.state.served
    served.check_model(body.model)
    body.refuse_unsupported()
    model = served.model
    if not model.has_chat_template:
        raise bad_request("this model has no chat template, so it cannot chat; send the text to /v1/completions "
                          "instead", param="messages", code="no_chat_template")
    try:
        ids = model.chat_ids(body.plain_messages())
    except engine.EngineError as err:  # a template that fails on these messages (roles must alternate, ...)
        raise bad_request(f"the chat template could not render these messages: {err}", param="messages") from None
    room = served.room_after(ids, "the messages")
    wanted = body.requested_max()
    max_new = room if wanted is None else min(wanted, room)
    top = (body.top_logprobs or 0) if body.logprobs else 0
    samplings = [body.sampling(max_new, i) for i in range(body.n)]
    plan = [(i, ids, s) for i, s in enumerate(samplings)]
    job = served.queue.submit("chat", lambda job: generate_choices(job, model, plan, top, body.stream))
    if body.stream:
        return StreamingResponse(_stream(served, body, job, request, top, samplings[0]),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    try:
        choices = await served.queue.result(job, request.is_disconnected)
    except Exception as err:
        raise from_engine(err) from None
    if choices is None:  # the client went away; nobody reads this
        return Response(status_code=499)
    return JSONResponse(shapes.chat_response(served.name, choices, top if body.logprobs else None,
                                             model.tokenizer, samplings[0]))


async def _stream(served, body: ChatCompletionRequest, job, request: Request, top: int, settings):
    chunk_id, created, name = shapes.new_id("chatcmpl"), shapes.now(), served.name
    tokenizer = served.model.tokenizer
    completion_tokens, prompt_tokens = 0, 0
    try:
        for index in range(body.n):
            yield _sse(shapes.chat_chunk(chunk_id, created, name, index, {"role": "assistant", "content": ""}))
        while True:
            event = await served.queue.next_event(job, request.is_disconnected)
            if event is None:
                return
            kind = event[0]
            if kind == "token":
                _, index, token = event
                logprobs = ({"content": [shapes.chat_logprob_entry(tokenizer, token, top)]} if body.logprobs else None)
                yield _sse(shapes.chat_chunk(chunk_id, created, name, index, {"content": token.text}, logprobs))
            elif kind == "choice_done":
                _, index, choice = event
                completion_tokens += choice.stats.generated_tokens
                prompt_tokens = choice.stats.prompt_tokens
                yield _sse(shapes.chat_chunk(chunk_id, created, name, index, {}, None,
                                             shapes.finish_reason(choice.stats),
                                             shapes.stop_reason(choice.stats, settings, choice.text)))
            elif kind == "end":
                if body.include_usage():
                    yield _sse({"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": name,
                                "choices": [], "usage": shapes.usage(prompt_tokens, completion_tokens)})
                yield "data: [DONE]\n\n"
                return
            elif kind == "error":
                yield _sse(from_engine(event[1]).body())
                yield "data: [DONE]\n\n"
                return
    finally:
        job.cancel()  # a no-op when the job has finished; stops it when the client left early


def _sse(data: dict) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


__all__ = ["chat_completions", "APIError"]
