"""glasslm serve through the official `openai` client: models, chat (whole and streamed), logprobs equal to
the in-process engine's, completions with echo equal to continuation_logprobs, several prompts at once."""
import math

import pytest

import engine
from engine.generation import Generation

MESSAGES = [{"role": "system", "content": "Answer in verse."}, {"role": "user", "content": "Who art thou, good sir?"}]


def in_process(model, ids, sampling, top=5):
    return list(Generation(model, ids, sampling, top=top))


def test_models_lists_the_served_model_with_its_context(served, bard):
    cards = served.client().models.list().data
    assert [c.id for c in cards] == ["bard-mini"]
    extra = cards[0].model_dump()
    assert extra["max_model_len"] == bard.info.context_length == 256
    assert extra["glasslm"]["fingerprint"] == bard.info.fingerprint
    assert served.client().models.retrieve("bard-mini").id == "bard-mini"


def test_chat_logprobs_equal_the_engine_and_the_stream_equals_the_whole(served, bard):
    client = served.client()
    whole = client.chat.completions.create(model="bard-mini", messages=MESSAGES, max_tokens=12, temperature=0,
                                           logprobs=True, top_logprobs=4)
    tokens = in_process(bard, bard.chat_ids(MESSAGES), engine.Sampling(temperature=0, max_new_tokens=12), top=4)
    choice = whole.choices[0]
    assert choice.message.content == "".join(t.text for t in tokens)
    entries = choice.logprobs.content
    assert len(entries) == len(tokens) > 1
    for entry, token in zip(entries, tokens):
        assert entry.token == bard.tokenizer.token_text(token.id)
        assert entry.logprob == pytest.approx(token.logprob, abs=1e-4)
        assert [a.token for a in entry.top_logprobs] == [a.text for a in token.top]
        assert [a.logprob for a in entry.top_logprobs] == pytest.approx([a.logprob for a in token.top], abs=1e-4)
    assert whole.usage.prompt_tokens == len(bard.chat_ids(MESSAGES))
    assert whole.usage.completion_tokens == len(tokens)

    chunks = list(client.chat.completions.create(model="bard-mini", messages=MESSAGES, max_tokens=12, temperature=0,
                                                 logprobs=True, top_logprobs=4, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    streamed = [e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content]
    assert text == choice.message.content
    assert [e.logprob for e in streamed] == pytest.approx([e.logprob for e in entries], abs=1e-4)
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        choice.finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == len(tokens)


def test_seeded_sampling_equals_the_engine_with_the_same_seed(served, bard):
    settings = dict(temperature=0.9, top_p=0.95, max_tokens=16, seed=1234)
    answer = served.client().chat.completions.create(model="bard-mini", messages=MESSAGES, extra_body={"top_k": 40},
                                                     **settings)
    tokens = in_process(bard, bard.chat_ids(MESSAGES), engine.Sampling(temperature=0.9, top_p=0.95, top_k=40,
                                                                       max_new_tokens=16, seed=1234))
    assert answer.choices[0].message.content == "".join(t.text for t in tokens)
    two = served.client().chat.completions.create(model="bard-mini", messages=MESSAGES, n=2, **settings)
    assert [c.index for c in two.choices] == [0, 1]
    assert two.choices[0].message.content == answer.choices[0].message.content  # choice i uses seed + i


def test_stop_strings_and_max_tokens_give_the_finish_reasons(served, bard):
    client = served.client()
    full = client.chat.completions.create(model="bard-mini", messages=MESSAGES, max_tokens=30, temperature=0)
    text = full.choices[0].message.content
    stop = text.strip()[3:6]
    assert stop, text
    cut = client.chat.completions.create(model="bard-mini", messages=MESSAGES, max_tokens=30, temperature=0, stop=[stop])
    assert cut.choices[0].finish_reason == "stop" and stop not in cut.choices[0].message.content
    assert text.startswith(cut.choices[0].message.content)
    short = client.chat.completions.create(model="bard-mini", messages=MESSAGES, max_completion_tokens=2, temperature=0)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 2


def test_completion_echo_logprobs_equal_continuation_logprobs(served, bard):
    prompt = "To be, or not to be, that is the question"
    ids = [bard.tokenizer.bos_id] + bard.tokenizer.encode(prompt)  # bard-mini's tokenizer config adds BOS
    expected = bard.continuation_logprobs(ids[:1], [ids[1:]])[0].token_logprobs
    client = served.client()
    for sent in (prompt, ids):
        answer = client.completions.create(model="bard-mini", prompt=sent, max_tokens=0, echo=True, logprobs=1)
        lp = answer.choices[0].logprobs
        assert answer.usage.prompt_tokens == len(ids) and answer.usage.completion_tokens == 0
        assert lp.token_logprobs[0] is None
        assert lp.token_logprobs[1:] == pytest.approx(list(expected), abs=1e-4)
        assert lp.tokens == [bard.tokenizer.token_text(i) for i in ids]
        greedy = [max(top.values()) for top in lp.top_logprobs[1:]]
        assert all(g >= v - 1e-6 for g, v in zip(greedy, lp.token_logprobs[1:]))
    assert answer.choices[0].text == bard.tokenizer.decode(ids)
    text_answer = client.completions.create(model="bard-mini", prompt=prompt, max_tokens=0, echo=True, logprobs=1)
    assert text_answer.choices[0].text == prompt and text_answer.choices[0].logprobs.text_offset[1] == 0


def test_completion_echo_with_one_greedy_token_as_lm_eval_asks(served, bard):
    """lm-eval's local-completions scoring request: token ids, echo, logprobs 1, max_tokens 1, temperature 0."""
    ids = [bard.tokenizer.bos_id] + bard.tokenizer.encode("Now is the winter of our")
    answer = served.client().completions.create(model="bard-mini", prompt=[ids, ids[:4]], max_tokens=1, echo=True,
                                                logprobs=1, temperature=0, seed=1234)
    assert [c.index for c in answer.choices] == [0, 1]
    first = answer.choices[0].logprobs
    assert len(first.token_logprobs) == len(ids) + 1
    greedy = in_process(bard, ids, engine.Sampling(temperature=0, max_new_tokens=1))
    assert first.token_logprobs[-1] == pytest.approx(greedy[0].logprob, abs=1e-4)
    assert answer.choices[0].text == bard.tokenizer.decode(ids) + greedy[0].text
    expected = bard.continuation_logprobs(ids[:1], [ids[1:]])[0].token_logprobs
    assert first.token_logprobs[1:-1] == pytest.approx(list(expected), abs=1e-4)
    assert answer.usage.prompt_tokens == len(ids) + 4


def test_plain_completion_streams_like_the_engine(served, bard):
    prompt = "Friends, Romans, countrymen"
    ids = [bard.tokenizer.bos_id] + bard.tokenizer.encode(prompt)
    tokens = in_process(bard, ids, engine.Sampling(temperature=0, max_new_tokens=10), top=2)
    chunks = list(served.client().completions.create(model="bard-mini", prompt=prompt, max_tokens=10, temperature=0,
                                                     logprobs=2, stream=True))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == "".join(t.text for t in tokens)
    values = [v for c in chunks if c.choices and c.choices[0].logprobs for v in c.choices[0].logprobs.token_logprobs]
    assert values == pytest.approx([t.logprob for t in tokens], abs=1e-4)
    assert not any(math.isnan(v) for v in values)
