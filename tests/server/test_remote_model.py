"""engine.remote against a real server: a RemoteModel streams the engine's own Tokens (equal to the
in-process ones), cancels, scores token ids; base URLs, retries on 503, timeouts and refusals."""
import asyncio

import pytest
from fastapi.responses import JSONResponse

import engine
import engine.remote as remote
from engine.generation import Generation

from serving import RunningServer

MESSAGES = [{"role": "user", "content": "What news on the Rialto?"}]


def test_a_remote_chat_streams_the_same_tokens_as_the_engine(served, bard):
    model = remote.connect(served.base_url)
    assert model.info.name == "bard-mini" and model.info.context_length == 256
    assert model.info.fingerprint == remote.connect(served.base_url + "/").info.fingerprint  # stable identity
    settings = engine.Sampling(temperature=0, max_new_tokens=10)
    generation = model.chat(MESSAGES, settings, top=3)
    tokens = list(generation)
    local = list(Generation(bard, bard.chat_ids(MESSAGES), settings, top=3))
    assert [t.text for t in tokens] == [t.text for t in local]
    assert [t.logprob for t in tokens] == pytest.approx([t.logprob for t in local], abs=1e-4)
    assert [[a.text for a in t.top] for t in tokens] == [[a.text for a in t.top] for t in local]
    for here, there in zip(local, tokens):  # the chosen token and the same alternative share an id, as local ones
        assert [a.id == there.id for a in there.top] == [a.id == here.id for a in here.top]
    stats = generation.stats
    assert stats.prompt_tokens == len(bard.chat_ids(MESSAGES)) and stats.generated_tokens == len(local)
    assert stats.stop_reason in ("eos", "length")


def test_cancel_stops_a_remote_generation_and_the_server(bard, start_server):
    running = start_server(bard)
    model = remote.connect(running.base_url)
    generation = model.chat(MESSAGES, engine.Sampling(temperature=0, max_new_tokens=200, stop_on_eos=False))
    first = [next(generation), next(generation)]
    generation.cancel()
    rest = list(generation)
    assert len(first) + len(rest) < 200 and generation.stats.stop_reason == "cancelled"
    queue = running.served.queue
    assert queue.wait_for(lambda outcomes: len(outcomes) == 1, timeout=120)
    assert queue.outcomes[-1].status == "cancelled"


def test_continuation_logprobs_over_http_equal_the_engines(served, bard):
    context = [bard.tokenizer.bos_id] + bard.tokenizer.encode("Shall I compare thee")
    continuations = [bard.tokenizer.encode(" to a summer's day"), bard.tokenizer.encode(" to a fish")]
    here = bard.continuation_logprobs(context, continuations)
    there = remote.connect(served.base_url).continuation_logprobs(context, continuations)
    for a, b in zip(here, there):
        assert b.logprob == pytest.approx(a.logprob, abs=1e-3) and b.greedy == a.greedy
        assert b.token_logprobs == pytest.approx(a.token_logprobs, abs=1e-4)


def test_what_needs_the_weights_says_why(served):
    model = remote.connect(served.base_url)
    with pytest.raises(engine.EngineError, match="attention view needs the model's weights"):
        model.attention([1, 2, 3])
    with pytest.raises(engine.EngineError, match="tokenizer"):
        model.chat_ids(MESSAGES)


def test_base_urls_are_normalized_and_remote_paths_round_trip():
    assert remote.normalize_base_url("localhost:8000") == "http://localhost:8000/v1"
    assert remote.normalize_base_url("http://h:1/v1/chat/completions") == "http://h:1/v1"
    assert remote.normalize_base_url("https://api.example.com/openai/v1/") == "https://api.example.com/openai/v1"
    path = remote.remote_path("http://h:1", "Qwen/Qwen2.5-7B")
    assert path == "http://h:1/v1#Qwen/Qwen2.5-7B" and remote.parse_remote_path(path) == ("http://h:1/v1", "Qwen/Qwen2.5-7B")
    assert remote.is_remote(path) and not remote.is_remote("/models/qwen")
    for bad in ("", "ftp://x", "http://h:port"):
        with pytest.raises(remote.RemoteError):
            remote.normalize_base_url(bad)


def test_503_is_retried_and_400_is_not(bard):
    calls = {"models": 0}

    async def flaky(request, call_next):
        if request.url.path == "/v1/models":
            calls["models"] += 1
            if calls["models"] <= 2:
                return JSONResponse({"error": {"message": "warming up"}}, status_code=503,
                                    headers={"Retry-After": "0"})
        return await call_next(request)

    running = RunningServer(bard, prepare=lambda app: app.middleware("http")(flaky))
    try:
        model = remote.connect(running.base_url, retries=3)
        assert calls["models"] == 3 and model.model_id == "bard-mini"
        with pytest.raises(remote.RemoteError, match="400") as caught:
            model.client.chat({"model": "bard-mini", "messages": MESSAGES, "temperature": -1})
        assert caught.value.status == 400
        with pytest.raises(remote.RemoteError, match="serves no model 'gpt-4'.*bard-mini"):
            remote.connect(running.base_url, "gpt-4")
    finally:
        running.stop()


def test_timeouts_refusals_and_keys_are_one_message(bard, start_server):
    keyed = start_server(bard, api_key="k")
    with pytest.raises(remote.RemoteError, match="API key"):
        remote.connect(keyed.base_url)
    remote.remember_key(keyed.base_url, "k")
    try:
        assert remote.connect_path(keyed.base_url + "#bard-mini").model_id == "bard-mini"
    finally:
        remote.remember_key(keyed.base_url, None)

    async def stall(request, call_next):
        try:
            await asyncio.wait_for(asyncio.Event().wait(), timeout=10)  # an answer that never comes in time
        except TimeoutError:
            pass
        return await call_next(request)

    stalled = RunningServer(bard, prepare=lambda app: app.middleware("http")(stall))
    try:
        with pytest.raises(remote.RemoteError, match="did not answer /models within 0.5 s"):
            remote.connect(stalled.base_url, timeout_s=0.5, retries=0)
    finally:
        stalled.stop()
