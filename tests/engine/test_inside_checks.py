""""Check this answer" scoring on fixed texts and on a model, and the same text under fp32 and nf4."""
from __future__ import annotations

import json
import math

import pytest

import engine
from engine.inside.compare import compare_precisions
from engine.inside.selfcheck import (
    AnswerCheck, agreement, check_answer, content_words, low_probability_spans, overlap_support, score_sentences,
    split_sentences, unigram_surprise,
)

ANSWER = "Paris is the capital of France. It was founded by Julius Caesar in 1850!\nThe river is the Seine."
SAMPLES = [
    "The capital of France is Paris, on the Seine.",
    "Paris is France's capital city. The Seine river runs through it.",
    "France has its capital in Paris.",
]


def test_sentences_split_at_stops_and_line_breaks():
    spans = split_sentences(ANSWER)
    assert [ANSWER[s:e] for s, e in spans] == ["Paris is the capital of France.",
                                              "It was founded by Julius Caesar in 1850!", "The river is the Seine."]
    assert split_sentences("  ...  ") == [] and split_sentences("No stop at the end") == [(0, 18)]
    text = "Version 2.5 is out. Yes."
    assert [text[s:e] for s, e in split_sentences(text)] == ["Version 2.5 is out.", "Yes."]


def test_support_is_the_share_of_content_words_in_each_sample():
    assert content_words("It was founded by Julius Caesar") == {"founded", "julius", "caesar"}
    assert overlap_support("Paris is the capital of France.", SAMPLES[2]) == 1.0
    assert overlap_support("It was founded by Julius Caesar in 1850!", SAMPLES[0]) == 0.0
    assert overlap_support("The river is the Seine.", SAMPLES[2]) == 0.0
    assert overlap_support("The river is the Seine.", SAMPLES[1]) == 1.0
    assert overlap_support("Yes.", "yes indeed") == 1.0  # only stop words: all words count
    scored = score_sentences(ANSWER, SAMPLES)
    assert [round(s.support, 4) for s in scored] == [1.0, 0.0, round((0.5 + 1.0 + 0.0) / 3, 4)]
    assert [s.supported for s in scored] == [True, False, True]
    assert scored[2].per_sample == (0.5, 1.0, 0.0)
    assert ANSWER[scored[1].start:scored[1].end] == scored[1].text


def test_unigram_surprise_by_hand():
    answer, samples = "a b", ["a a c"]
    counts = {"a": 3, "b": 1, "c": 1}  # over the reply and the samples
    total, vocab = 5, 4
    expected = [-math.log((counts[w] + 1) / (total + vocab)) for w in ("a", "b")]
    assert unigram_surprise("a b", answer, samples) == pytest.approx((sum(expected) / 2, max(expected)))
    made_up = score_sentences(ANSWER, SAMPLES)[1]
    assert made_up.unigram_max > score_sentences(ANSWER, SAMPLES)[0].unigram_max


def test_agreement_and_low_probability_spans():
    assert agreement(["red apple", "red apple"]) == 1.0 and agreement(["red apple"]) == 1.0
    assert agreement(["red apple", "green pear"]) == 0.0
    pieces = ["The", " cat", " sat", " on", " Mars", "."]
    lps = [math.log(p) for p in (0.9, 0.05, 0.02, 0.8, 0.01, 0.5)]
    spans = low_probability_spans(pieces, lps)
    assert [(s.start, s.end, s.text) for s in spans] == [(1, 3, " cat sat"), (4, 5, " Mars")]
    assert spans[0].min_prob == pytest.approx(0.02)
    text = "".join(pieces)
    assert [text[s.char_start:s.char_end] for s in spans] == [" cat sat", " Mars"]


@pytest.fixture(scope="module")
def base(checkpoint_factory):
    return checkpoint_factory("llama")


def test_check_answer_samples_seeded_and_round_trips(base):
    model = engine.load(base, device="cpu", precision="fp32")
    messages = [{"role": "user", "content": "Attention lets every token look"}]
    reply = list(model.chat(messages, engine.Sampling(max_new_tokens=12)))
    ids = [t.id for t in reply]
    calls = []
    check = check_answer(model, messages, ids, n=3, seed=5, max_new_tokens=10, progress=lambda i, n: calls.append(i))
    assert calls == [0, 1, 2] and len(check.samples) == 3
    assert check.settings["seeds"] == [5, 6, 7]
    again = check_answer(model, messages, ids, n=3, seed=5, max_new_tokens=10)
    assert again.samples == check.samples  # seeded: the same samples
    sample = model.chat(messages, engine.Sampling(temperature=0.8, top_p=0.95, max_new_tokens=10, seed=6)).text()
    assert check.samples[1] == sample.strip()
    scored = model.continuation_logprobs(model.chat_ids(messages), [[i for i in ids if i not in model.tokenizer.eos_ids]])
    for span in check.low_spans:
        assert all(math.exp(lp) < 0.1 for lp in scored[0].token_logprobs[span.start:span.end])
    stored = json.loads(json.dumps(check.to_dict()))
    assert AnswerCheck.from_dict(stored) == check
    assert f"{len(check.sentences) - len(check.unsupported)} of {len(check.sentences)}" in check.summary()
    with pytest.raises(engine.EngineError, match="at least 2"):
        check_answer(model, messages, ids, n=1)
    with pytest.raises(engine.EngineError, match="temperature"):
        check_answer(model, messages, ids, temperature=0.0)
    with pytest.raises(engine.EngineError, match="empty"):
        check_answer(model, messages, list(model.tokenizer.eos_ids))


def test_fp32_and_nf4_compared_token_by_token(base):
    full = engine.load(base, device="cpu", precision="fp32")
    small = engine.load(base, device="cpu", precision="nf4")
    ids = full.tokenizer.encode("The animal didn't cross the street because it was tired.")
    result = compare_precisions(full, small, ids)
    assert (result.label_a, result.label_b) == ("fp32", "nf4") and len(result.tokens) == len(ids) - 1
    a = full.logits([ids])[0].log_softmax(-1)
    b = small.logits([ids])[0].log_softmax(-1)
    for t, row in enumerate(result.tokens):
        assert row.id == ids[t + 1]
        assert row.logprob_a == pytest.approx(float(a[t, ids[t + 1]]), abs=1e-5)
        assert row.logprob_b == pytest.approx(float(b[t, ids[t + 1]]), abs=1e-5)
        assert row.top_a[0] == int(a[t].argmax()) and row.top_b[0] == int(b[t].argmax())
    assert result.changed == [t for t in range(len(ids) - 1) if int(a[t].argmax()) != int(b[t].argmax())]
    assert 0 < result.max_abs_difference == max(abs(r.difference) for r in result.tokens)  # nf4 does change things
    kl = (a[:-1].exp() * (a[:-1] - b[:-1])).sum(-1).mean()
    assert result.kl_mean == pytest.approx(float(kl), abs=1e-5) and result.kl_mean > 0
    assert compare_precisions(full, full, ids).max_abs_difference == 0.0


def test_compare_refuses_different_tokenizers(base, checkpoint_factory):
    one = engine.load(base, device="cpu", precision="fp32")
    other = engine.load(checkpoint_factory("llama", tokenizer_style="llama"), device="cpu", precision="fp32")
    with pytest.raises(engine.EngineError, match="different tokenizers"):
        compare_precisions(one, other, one.tokenizer.encode("to be"))
    with pytest.raises(engine.EngineError, match="two tokens"):
        compare_precisions(one, one, one.tokenizer.encode("to")[:1])
