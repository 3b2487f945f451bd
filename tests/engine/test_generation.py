"""Sampling, streaming text, stop conditions, cancel and cached-prefix reuse."""
import pytest
import torch

import engine
from engine.sampling import filter_logits
from engine.tokenizer import TextStream


def load(checkpoint_factory, arch="llama", style="bytelevel"):
    return engine.load(checkpoint_factory(arch, tokenizer_style=style), device="cpu", precision="fp32")


def test_seeded_sampling_reproduces_and_seeds_differ(checkpoint_factory):
    model = load(checkpoint_factory)
    prompt = model.tokenizer.encode("Attention lets")
    settings = engine.Sampling(temperature=1.0, top_k=50, top_p=0.95, min_p=0.01, max_new_tokens=30,
                               seed=7, stop_on_eos=False)
    first = [t.id for t in model.generate(prompt, settings)]
    second = [t.id for t in model.generate(prompt, settings)]
    other = [t.id for t in model.generate(prompt, engine.Sampling(**{**settings.to_dict(), "seed": 8}))]
    assert first == second
    assert first != other


def test_top_k_top_p_min_p_filtering():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    kept = lambda s: torch.isfinite(filter_logits(logits, s)).tolist()  # noqa: E731
    assert kept(engine.Sampling(top_k=2)) == [True, True, False, False]
    assert kept(engine.Sampling(top_p=0.8)) == [True, True, False, False]
    assert kept(engine.Sampling(top_p=0.81)) == [True, True, True, False]
    assert kept(engine.Sampling(min_p=0.5)) == [True, True, False, False]


def test_tokens_carry_logprob_and_alternatives(checkpoint_factory):
    model = load(checkpoint_factory)
    prompt = model.tokenizer.encode("The animal")
    tokens = list(model.generate(prompt, engine.Sampling(max_new_tokens=5, stop_on_eos=False)))
    logits = model.logits(torch.tensor([prompt]))[0, -1].log_softmax(-1)
    first = tokens[0]
    assert abs(first.logprob - logits[first.id].item()) < 1e-4
    assert first.top[0].id == first.id  # greedy picks the most likely
    assert len(first.top) == 5 and first.top[0].logprob >= first.top[-1].logprob


def test_multibyte_text_streams_as_whole_characters(checkpoint_factory):
    for style in ("bytelevel", "bytefallback"):
        model = load(checkpoint_factory, "qwen2", style)
        text = "Café 東京 🙂 naïve Ελληνικά"
        ids = model.tokenizer.encode(text)
        stream = TextStream(model.tokenizer)
        deltas = [stream.push(i) for i in ids] + [stream.flush()]
        assert "".join(deltas).strip() == text
        assert all("\ufffd" not in d for d in deltas)
        if style == "bytefallback":  # CJK and emoji are not in this vocabulary: they arrive as bytes
            assert any(d == "" for d in deltas)


def test_stop_string_ends_output_before_it(checkpoint_factory):
    model = load(checkpoint_factory)
    prompt = model.tokenizer.encode("The")
    full = "".join(t.text for t in model.generate(prompt, engine.Sampling(max_new_tokens=40, stop_on_eos=False)))
    stop = full[10:13]
    assert stop.strip()
    stream = model.generate(prompt, engine.Sampling(max_new_tokens=40, stop=(stop,), stop_on_eos=False))
    text = "".join(t.text for t in stream)
    assert stream.stats.stop_reason == "stop"
    assert stop not in text and full.startswith(text) and len(text) <= full.index(stop)


def test_eos_stops(checkpoint_factory):
    model = load(checkpoint_factory)
    prompt = model.tokenizer.encode("x")
    greedy = [t.id for t in model.generate(prompt, engine.Sampling(max_new_tokens=6, stop_on_eos=False))]
    model.tokenizer.eos_ids = [greedy[3]]  # pretend the fourth greedy token ends the sequence
    stream = model.generate(prompt, engine.Sampling(max_new_tokens=10))
    tokens = list(stream)
    assert [t.id for t in tokens] == greedy[: greedy.index(greedy[3]) + 1] and stream.stats.stop_reason == "eos"


def test_cancel_between_tokens(checkpoint_factory):
    model = load(checkpoint_factory)
    stream = model.generate(model.tokenizer.encode("The"), engine.Sampling(max_new_tokens=50, stop_on_eos=False))
    received = []
    for token in stream:
        received.append(token)
        if len(received) == 3:
            stream.cancel()
    assert len(received) == 3 and stream.stats.stop_reason == "cancelled"


def test_follow_up_turn_reuses_cached_prefix_and_matches_fresh_prefill(checkpoint_factory):
    path = checkpoint_factory("qwen2")
    model = engine.load(path, device="cpu", precision="fp32")
    settings = engine.Sampling(max_new_tokens=12, stop_on_eos=False)
    messages = [{"role": "user", "content": "Hello there"}]
    first = model.chat(messages, settings)
    reply = "".join(t.text for t in first)
    messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": "And then?"}]
    second = model.chat(messages, settings)
    follow_up = [t.id for t in second]
    assert second.stats.reused_prompt_tokens > first.stats.prompt_tokens // 2
    fresh = engine.load(path, device="cpu", precision="fp32")
    assert [t.id for t in fresh.chat(messages, settings)] == follow_up


def test_repetition_penalty_changes_greedy_output(checkpoint_factory):
    model = load(checkpoint_factory)
    prompt = model.tokenizer.encode("ümlauts ümlauts")
    plain = [t.id for t in model.generate(prompt, engine.Sampling(max_new_tokens=20, stop_on_eos=False))]
    penalised = [t.id for t in model.generate(prompt, engine.Sampling(max_new_tokens=20, repetition_penalty=3.0,
                                                                          stop_on_eos=False))]
    assert plain != penalised
    assert len(set(penalised)) >= len(set(plain))


def test_chat_truncation_drops_oldest_turns_and_says_so(checkpoint_factory):
    model = load(checkpoint_factory, "qwen2")
    long_turn = "The animal didn't cross the street because it was tired. " * 6
    messages = [{"role": "system", "content": "Be brief."}]
    for i in range(12):
        messages += [{"role": "user", "content": f"{i} {long_turn}"}, {"role": "assistant", "content": long_turn}]
    messages.append({"role": "user", "content": "Last question?"})
    assert len(model.chat_ids(messages)) > model.info.context_length
    settings = engine.Sampling(max_new_tokens=16, stop_on_eos=False)
    stream = model.chat(messages, settings, truncate=True)
    assert len(list(stream)) == 16
    assert stream.stats.dropped_messages > 0
    assert stream.stats.prompt_tokens <= model.info.context_length - 16

    with pytest.raises(engine.PromptTooLongError):
        model.chat(messages, settings)


def test_static_decode_step_matches_eager(checkpoint_factory):
    for arch, overrides in (("llama", {}), ("mistral", {"sliding_window": 24}), ("qwen3", {})):
        path = checkpoint_factory(arch, **overrides)
        eager = engine.load(path, device="cpu", precision="fp32", decode="eager")
        static = engine.load(path, device="cpu", precision="fp32", decode="static")
        prompt = eager.tokenizer.encode("To be, or not to be")
        settings = engine.Sampling(max_new_tokens=40, stop_on_eos=False)
        expected = [t.id for t in eager.generate(prompt, settings)]
        assert [t.id for t in static.generate(prompt, settings)] == expected, arch
        # a follow-up generation reuses the cache and the prepared step
        assert [t.id for t in static.generate(prompt + expected[:5], settings)] == \
               [t.id for t in eager.generate(prompt + expected[:5], settings)]


def test_compiled_decode_step_matches_eager(checkpoint_factory):
    path = checkpoint_factory("llama")
    eager = engine.load(path, device="cpu", precision="fp32", decode="eager")
    compiled = engine.load(path, device="cpu", precision="fp32", decode="compiled")
    prompt = eager.tokenizer.encode("The animal")
    settings = engine.Sampling(max_new_tokens=12, stop_on_eos=False)
    assert [t.id for t in compiled.generate(prompt, settings)] == [t.id for t in eager.generate(prompt, settings)]


def test_interleaved_generations_on_one_model_fail_clearly(checkpoint_factory):
    model = load(checkpoint_factory)
    settings = engine.Sampling(max_new_tokens=10, stop_on_eos=False)
    first = model.generate(model.tokenizer.encode("The animal"), settings)
    next(first)
    second = model.generate(model.tokenizer.encode("To be"), settings)
    assert len(list(second)) == 10  # the newest generation owns the cache

    with pytest.raises(engine.EngineError, match="one generation at a time"):
        list(first)


def test_pipelined_token_loop_gives_the_same_tokens_and_cache(checkpoint_factory):
    path = checkpoint_factory("qwen2")
    plain = engine.load(path, device="cpu", precision="fp32")
    piped = engine.load(path, device="cpu", precision="fp32")
    piped.pipelined_decode = True  # the GPU's order of work, run on the CPU
    for settings in (engine.Sampling(max_new_tokens=20, stop_on_eos=False),
                     engine.Sampling(temperature=0.9, top_p=0.9, repetition_penalty=1.3, seed=5,
                                     max_new_tokens=20, stop_on_eos=False)):
        messages = [{"role": "user", "content": "Hello there"}]
        first = [t.id for t in plain.chat(messages, settings)]
        assert [t.id for t in piped.chat(messages, settings)] == first
        follow = messages + [{"role": "assistant", "content": plain.tokenizer.decode(first)},
                             {"role": "user", "content": "More?"}]
        a, b = plain.chat(follow, settings), piped.chat(follow, settings)
        assert [t.id for t in a] == [t.id for t in b]
        assert b.stats.reused_prompt_tokens == a.stats.reused_prompt_tokens > 0


def test_bad_sampling_settings_are_clear_errors():

    for bad in ({"top_p": 0.0}, {"top_p": 1.5}, {"temperature": -1}, {"repetition_penalty": 0},
                {"min_p": 1.5}, {"top_k": -3}, {"max_new_tokens": -1}):
        with pytest.raises(engine.EngineError, match="bad sampling setting"):
            engine.Sampling(**bad)


def test_cache_grows_by_doubling_and_falls_back_to_the_exact_size(checkpoint_factory, monkeypatch):
    from engine import model as runtime

    assert [runtime._cache_length(n) for n in (1, 256, 257, 600, 1025)] == [256, 256, 512, 1024, 2048]
    model = engine.load(checkpoint_factory("llama", max_position_embeddings=2048), device="cpu", precision="fp32")
    settings = engine.Sampling(max_new_tokens=8, stop_on_eos=False)
    prompt = model.tokenizer.encode("To be, or not to be")
    list(model.generate(prompt * (300 // len(prompt)), settings))
    assert model._cache.max_len == 512  # ~300 + 8 positions
    real_allocate = runtime.KVCache.allocate

    def allocate_at_most_700(n_layers, batch, n_kv_heads, max_len, *rest):
        if max_len > 700:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 MiB")
        return real_allocate(n_layers, batch, n_kv_heads, max_len, *rest)

    monkeypatch.setattr(runtime.KVCache, "allocate", allocate_at_most_700)
    list(model.generate(prompt * (600 // len(prompt)), settings))
    needed = len(prompt * (600 // len(prompt))) + 8
    assert model._cache.max_len == needed  # 1024 did not fit: exactly what this generation needs
    with pytest.raises(engine.OutOfMemoryError, match="key/value cache .* does not fit"):
        list(model.generate(prompt * (800 // len(prompt)), settings))
