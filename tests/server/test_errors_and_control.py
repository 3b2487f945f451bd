"""glasslm serve's error shapes (OpenAI's JSON, the right status), the API key, cancellation when a client
disconnects, requests taking turns on the one model, /health, and `glasslm serve`'s own refusals."""
import json
import socket
import threading
import urllib.error
import urllib.request

import openai
import pytest

from desktop.cli import main as glasslm

MESSAGES = [{"role": "user", "content": "Speak."}]


def raw(served, path, body=None, method=None, headers=None):
    """(status, decoded JSON) of one plain HTTP request, no client library in between."""
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(served.base_url.removesuffix("/v1") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def error_of(err: openai.APIStatusError) -> dict:
    assert set(err.body) == {"message", "type", "param", "code"}, err.body
    return err.body


def test_bad_parameters_are_400_naming_the_field(served):
    client = served.client()
    cases = [
        (dict(temperature=-1), "temperature"),
        (dict(top_p=0), "top_p"),
        (dict(top_logprobs=21, logprobs=True), "top_logprobs"),
        (dict(n=0), "n"),
        (dict(presence_penalty=0.5), "presence_penalty"),
        (dict(tools=[{"type": "function", "function": {"name": "f"}}]), "tools"),
        (dict(top_logprobs=2), "top_logprobs"),  # without logprobs=true
    ]
    for extra, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(model="bard-mini", messages=MESSAGES, max_tokens=2, **extra)
        body = error_of(caught.value)
        assert caught.value.status_code == 400 and body["param"] == param, (extra, body)
        assert body["type"] == "invalid_request_error" and body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="bard-mini", messages=[], max_tokens=2)
    assert error_of(caught.value)["param"] == "messages"


def test_context_overflow_says_by_how_much(served, bard):
    long_text = "O Romeo, Romeo, wherefore art thou Romeo? " * 40
    n = len([bard.tokenizer.bos_id] + bard.tokenizer.encode(long_text))
    with pytest.raises(openai.BadRequestError) as caught:
        served.client().completions.create(model="bard-mini", prompt=long_text, max_tokens=0, echo=True, logprobs=1)
    body = error_of(caught.value)
    assert body["code"] == "context_length_exceeded"
    assert f"{n} tokens ({n - 256} too many)" in body["message"] and "256" in body["message"]
    with pytest.raises(openai.BadRequestError) as caught:
        served.client().chat.completions.create(model="bard-mini", messages=[{"role": "user", "content": long_text}])
    assert error_of(caught.value)["param"] == "messages" and "too many" in caught.value.body["message"]


def test_unknown_model_endpoint_and_bad_json(served):
    with pytest.raises(openai.NotFoundError) as caught:
        served.client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    body = error_of(caught.value)
    assert body["code"] == "model_not_found" and "bard-mini" in body["message"]
    status, answer = raw(served, "/v1/embeddings", {"input": "x"})
    assert status == 404 and set(answer["error"]) == {"message", "type", "param", "code"}
    status, answer = raw(served, "/v1/chat/completions", b"{not json", method="POST")
    assert status == 400 and "JSON" in answer["error"]["message"]
    status, answer = raw(served, "/v1/completions", {"prompt": [999999], "max_tokens": 1})
    assert status == 400 and "vocabulary" in answer["error"]["message"] and answer["error"]["param"] == "prompt"


def test_api_key_is_checked_on_every_request(bard, start_server):
    running = start_server(bard, api_key="s3cret")
    with pytest.raises(openai.AuthenticationError) as caught:
        running.client(api_key="wrong").models.list()
    assert error_of(caught.value)["code"] == "invalid_api_key"
    status, answer = raw(running, "/health")
    assert status == 401 and "Bearer" in answer["error"]["message"]
    status, _ = raw(running, "/health", headers={"Authorization": "Bearer s3cret"})
    assert status == 200
    reply = running.client(api_key="s3cret").chat.completions.create(model="bard-mini", messages=MESSAGES,
                                                                     max_tokens=3, temperature=0)
    assert reply.choices[0].message.content is not None


def test_a_client_that_disconnects_cancels_its_generation(bard, start_server):
    running = start_server(bard)
    client = running.client()
    stream = client.chat.completions.create(model="bard-mini", messages=MESSAGES, max_tokens=200, temperature=0,
                                            stream=True, extra_body={"ignore_eos": True})
    seen = 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            seen += 1
            if seen == 2:
                break
    stream.close()  # the client goes away with ~198 tokens still to generate
    queue = running.served.queue
    assert queue.wait_for(lambda outcomes: len(outcomes) == 1, timeout=120)
    outcome = queue.outcomes[-1]
    assert outcome.status == "cancelled" and outcome.stop_reasons == ("cancelled",)
    assert 2 <= outcome.generated_tokens < 200
    # the model is free again: the next request runs to its end
    after = client.chat.completions.create(model="bard-mini", messages=MESSAGES, max_tokens=4, temperature=0,
                                           extra_body={"ignore_eos": True})
    assert after.usage.completion_tokens == 4
    assert raw(running, "/health")[1]["requests"] == {"cancelled": 1, "finished": 1}


def test_requests_take_turns_and_each_gets_its_own_answer(bard, served):
    client = served.client()
    prompts = ["Speak of love.", "Speak of war.", "Speak of the sea.", "Speak of kings."]
    alone = [client.chat.completions.create(model="bard-mini", messages=[{"role": "user", "content": p}],
                                            max_tokens=8, temperature=0).choices[0].message.content for p in prompts]
    together: dict[int, str] = {}

    def ask(i):
        together[i] = client.chat.completions.create(model="bard-mini", messages=[{"role": "user", "content": prompts[i]}],
                                                     max_tokens=8, temperature=0).choices[0].message.content

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert [together.get(i) for i in range(len(prompts))] == alone
    health = raw(served, "/health")[1]
    assert health["status"] == "ok" and health["model"]["id"] == "bard-mini"
    assert health["queue"]["waiting"] == 0 and health["model"]["state"] == "idle"


def test_glasslm_serve_refuses_an_open_address_without_a_key_and_a_busy_port(capsys):
    assert glasslm(["serve", "--host", "0.0.0.0"]) == 2
    assert "--api-key" in capsys.readouterr().err
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        assert glasslm(["serve", "--port", str(busy.getsockname()[1])]) == 2
    finally:
        busy.close()
    err = capsys.readouterr().err
    assert "already in use" in err and "Traceback" not in err
