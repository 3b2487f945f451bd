"""EngineBackend on real tiny random checkpoints: lm-eval tokenization, batching invariance,
agreement with transformers, and a full run through the engine."""

import math

import pytest
import torch

import engine
from evals.backend import EngineBackend, LanguageModel
from evals.runner import RunSettings, RunSpec, Runner, engine_opener
from evals.suite import load_suite

from evalfakes import mc, write_suite

REQUESTS = [
    ("The animal didn't cross the street because", " it was tired."),
    ("The animal didn't cross the street because", " the street was wide."),
    ("The animal didn't cross the street because", " of the rain"),
    ("Question: what stores weights in fewer bits?\nAnswer:", " Quantization"),
    ("Question: what stores weights in fewer bits?\nAnswer: ", "Attention"),  # trailing space moves
    ("", "To be, or not to be."),  # empty context: BOS stands in
    ("", "Attention lets every token look."),
    ("def add(a, b):", "\n    return a + b"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from checkpoints import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("eval-llama"), "llama", "bytelevel")


@pytest.fixture(scope="module")
def model(tiny):
    return engine.load(tiny, device="cpu", precision="fp32")


def test_is_a_language_model(model):
    assert isinstance(EngineBackend(model), LanguageModel)


def test_encode_pair_moves_spaces_and_uses_bos_for_empty_context(model):
    b = EngineBackend(model)
    tok = model.tokenizer
    ctx, cont = b.encode_pair("Answer: ", "yes")
    assert ctx == tok.encode("Answer:") and cont == tok.encode("Answer: yes")[len(ctx):]
    assert tok.decode(cont) == " yes"
    ctx, cont = b.encode_pair("", "To be")
    assert ctx == [tok.bos_id] and cont == tok.encode("To be")


def test_results_do_not_depend_on_batch_size_or_path(model):
    ref = EngineBackend(model, batch_size=1)
    ref.model = _NoShared(model)  # force the padded path, one sequence per forward
    expected = ref.loglikelihood(REQUESTS)
    for batch_size in (2, 3, 16):
        for shared in (False, True):
            b = EngineBackend(model, batch_size=batch_size)
            if not shared:
                b.model = _NoShared(model)
            got = b.loglikelihood(REQUESTS)
            assert [g for _, g in got] == [g for _, g in expected]
            for (lp, _), (lq, _) in zip(got, expected):
                assert lp == pytest.approx(lq, abs=1e-4)


def test_matches_transformers_reference(model, tiny):
    import transformers

    hf = transformers.AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32).eval()
    b = EngineBackend(model)
    got = b.loglikelihood(REQUESTS)
    for (context, continuation), (lp, greedy) in zip(REQUESTS, got):
        ctx, cont = b.encode_pair(context, continuation)
        ids = torch.tensor([ctx + cont])
        with torch.no_grad():
            logprobs = hf(ids).logits[0].log_softmax(-1)  # (T, V)
        positions = range(len(ctx) - 1, len(ctx) + len(cont) - 1)
        want = sum(logprobs[p, t].item() for p, t in zip(positions, cont))
        want_greedy = all(logprobs[p].argmax().item() == t for p, t in zip(positions, cont))
        assert lp == pytest.approx(want, abs=1e-4) and greedy == want_greedy and math.isfinite(lp)


def test_bos_when_tokenizer_config_asks(tmp_path_factory):
    from checkpoints import make_checkpoint

    path = make_checkpoint(tmp_path_factory.mktemp("eval-bos"), "llama", "bytefallback")
    m = engine.load(path, device="cpu", precision="fp32")
    b = EngineBackend(m)
    ctx, _ = b.encode_pair("To be", " or not")
    assert b.add_bos and ctx[0] == m.tokenizer.bos_id and ctx.count(m.tokenizer.bos_id) == 1


def test_full_run_through_the_engine(tmp_path, history, tiny):
    items = [mc(i, prompt=f"Question: {q}\nAnswer:", choices=["it was tired", "the street", "nf4"], answer=i % 3)
             for i, q in enumerate(["Why?", "Where?", "What?", "Who?"])]
    items.append({"id": "g", "kind": "generation", "part": "gen", "prompt": "To be, or not",
                  "rule": {"type": "regex", "pattern": "."}, "max_new_tokens": 5})
    items.append({"id": "s", "kind": "self_consistency", "part": "sc", "prompt": "To be", "samples": 2,
                  "max_new_tokens": 3})
    suite = load_suite(write_suite(tmp_path, "tiny", items))
    runner = Runner(history, opener=engine_opener, n_boot=20)
    a = runner.start(RunSpec(suite, str(tiny), RunSettings(precision="fp32", device="cpu", batch_size=2)))
    b = runner.start(RunSpec(suite, str(tiny), RunSettings(precision="fp32", device="cpu", batch_size=7)))
    ra, rb = history.results(a), history.results(b)
    assert history.run(a)["status"] == "finished" and len(ra) == 6
    for x, y in zip(ra, rb):  # deterministic, and independent of the batch size
        assert x["output"] == y["output"] and x["correct"] == y["correct"]
        if x["choice_logprobs"]:
            assert x["choice_logprobs"] == pytest.approx(y["choice_logprobs"], abs=1e-4)
    gen = [r for r in ra if r["item_id"] == "g"][0]
    assert gen["prompt"].startswith("<|im_start|>user")  # the checkpoint has a chat template


class _NoShared:
    """An engine model without continuation_logprobs, to exercise the padded path."""

    def __init__(self, model):
        self._m = model

    def __getattr__(self, name):
        if name == "continuation_logprobs":
            raise AttributeError(name)
        return getattr(self._m, name)


def test_too_long_inputs_are_truncated_from_the_left(model):
    b = EngineBackend(model)
    long_context = "To be, or not to be, that is the question. " * 40  # beyond the 256-token window
    [(lp, _), (lq, _)] = b.loglikelihood([(long_context, " yes"), (long_context, " no")])
    assert math.isfinite(lp) and math.isfinite(lq)
    assert isinstance(b.generate(long_context, {"max_new_tokens": 2}), str)
