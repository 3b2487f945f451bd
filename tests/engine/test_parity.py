"""The engine against transformers on small random checkpoints of each architecture."""
import pytest
import torch
import transformers

import engine
from checkpoints import ARCHS


def reference(path):
    return transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()


def reference_tokenizer(path):
    # PreTrainedTokenizerFast reads tokenizer.json as written; AutoTokenizer in transformers 5 rebuilds the
    # pipeline of the model type's own tokenizer class, which a synthetic test tokenizer does not follow.
    return transformers.PreTrainedTokenizerFast.from_pretrained(path)


VARIANTS = [
    ("llama", {}),
    ("llama", {"tie_word_embeddings": True}),
    ("llama", {"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
               "rope_theta": 500000.0}),
    ("llama", {"num_key_value_heads": 4}),
    ("llama", {"num_key_value_heads": 1, "attention_bias": True}),
    ("mistral", {}),
    ("mistral", {"sliding_window": 24}),
    ("qwen2", {}),
    ("qwen2", {"tie_word_embeddings": True}),
    # YaRN as Qwen's model cards tell users to add it (the older "type" spelling, no attention_factor)
    ("qwen2", {"rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}}),
    ("llama", {"rope_scaling": {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 32,
                                "mscale": 0.707, "mscale_all_dim": 1.0, "beta_fast": 16}}),
    ("qwen3", {}),
    # Qwen's sliding window on the layers from max_window_layers on only (layer 0 full, layer 1 windowed)
    ("qwen2", {"use_sliding_window": True, "sliding_window": 12, "max_window_layers": 1}),
]


@pytest.mark.parametrize("arch,overrides", VARIANTS, ids=[f"{a}-{'-'.join(o) or 'base'}" for a, o in VARIANTS])
def test_full_forward_logits_match_transformers(checkpoint_factory, arch, overrides):
    path = checkpoint_factory(arch, **overrides)
    model = engine.load(path, device="cpu", precision="fp32")
    torch.manual_seed(1)
    ids = torch.randint(0, model.info.vocab_size, (2, 48))
    ours = model.logits(ids)
    with torch.no_grad():
        theirs = reference(path)(ids).logits
    assert ours.shape == theirs.shape == (2, 48, model.info.vocab_size)
    assert (ours - theirs).abs().max().item() < 1e-4


@pytest.mark.parametrize("arch", ARCHS)
def test_64_greedy_tokens_through_the_cache_match_transformers(checkpoint_factory, arch):
    path = checkpoint_factory(arch)
    model = engine.load(path, device="cpu", precision="fp32")
    prompt = model.tokenizer.encode("The animal didn't cross the street")
    tokens = list(model.generate(prompt, engine.Sampling(max_new_tokens=64, stop_on_eos=False)))
    ref = reference(path)
    with torch.no_grad():
        out = ref.generate(torch.tensor([prompt]), max_new_tokens=64, do_sample=False, min_new_tokens=64,
                           eos_token_id=None, pad_token_id=0)
    expected = out[0, len(prompt):].tolist()
    assert [t.id for t in tokens] == expected
    assert len(expected) == 64


def test_sliding_window_decode_matches_transformers(checkpoint_factory):
    path = checkpoint_factory("mistral", sliding_window=24)
    model = engine.load(path, device="cpu", precision="fp32")
    prompt = model.tokenizer.encode("To be, or not to be, that is the question.")
    ours = [t.id for t in model.generate(prompt, engine.Sampling(max_new_tokens=40, stop_on_eos=False))]
    with torch.no_grad():
        out = reference(path).generate(torch.tensor([prompt]), max_new_tokens=40, min_new_tokens=40,
                                       do_sample=False, pad_token_id=0)
    assert ours == out[0, len(prompt):].tolist()


@pytest.mark.parametrize("style", ["bytelevel", "bytefallback"])
def test_chat_prompt_matches_transformers_apply_chat_template(checkpoint_factory, style):
    path = checkpoint_factory("qwen2", tokenizer_style=style)
    model = engine.load(path, device="cpu", precision="fp32")
    hf_tok = reference_tokenizer(path)
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Why does attention help? Café 🙂"},
        {"role": "assistant", "content": "It links tokens."},
        {"role": "user", "content": "And the KV cache?"},
    ]
    rendered = model.render_chat(messages)
    assert rendered == hf_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    expected_ids = hf_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    assert model.chat_ids(messages) == list(expected_ids["input_ids"])


def test_llama_style_template_with_bos_matches_transformers(tmp_path):
    from checkpoints import LLAMA_STYLE, make_checkpoint

    path = make_checkpoint(tmp_path / "m", "llama", "bytefallback")
    import json

    cfg = json.loads((path / "tokenizer_config.json").read_text())
    cfg["chat_template"] = LLAMA_STYLE
    (path / "tokenizer_config.json").write_text(json.dumps(cfg))
    model = engine.load(path, device="cpu", precision="fp32")
    hf_tok = reference_tokenizer(path)
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "naïve question"}]
    assert model.render_chat(messages) == hf_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert model.chat_ids(messages) == list(
        hf_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"])
    text = "Café 東京 🙂 jalapeño"
    assert model.tokenizer.encode(text, add_special_tokens=True) == hf_tok(text)["input_ids"]
    assert model.tokenizer.decode(model.tokenizer.encode(text)) == hf_tok.decode(hf_tok(text, add_special_tokens=False)["input_ids"])


def test_continuation_logprobs_equal_full_forward(checkpoint_factory):
    path = checkpoint_factory("qwen3")
    model = engine.load(path, device="cpu", precision="fp32")
    context = model.tokenizer.encode("Question: which is tired?\nAnswer:")
    continuations = [model.tokenizer.encode(" the animal"), model.tokenizer.encode(" the street it was"), [5]]
    scores = model.continuation_logprobs(context, continuations)
    for cont, score in zip(continuations, scores):
        full = model.logits(torch.tensor([context + cont]))[0].log_softmax(-1)
        positions = range(len(context) - 1, len(context) + len(cont) - 1)
        expected = sum(full[p, t].item() for p, t in zip(positions, cont))
        assert abs(score.logprob - expected) < 1e-4
        greedy = all(full[p].argmax().item() == t for p, t in zip(positions, cont))
        assert score.greedy == greedy


@pytest.mark.parametrize("arch", ["llama", "gemma2"])
def test_scoring_reuses_a_shared_prefix_with_the_same_scores(checkpoint_factory, arch):
    """Suites repeat a preamble in every item: the second call reuses its keys/values, and every score
    equals a fresh model's (gemma2: sliding-window layers too)."""
    path = checkpoint_factory(arch)
    reusing, fresh_each_time = engine.load(path, device="cpu", precision="fp32"), engine.load(path, device="cpu", precision="fp32")
    preamble = "Answer each question with the true answer. Q: What is the capital of France? A: Paris. " * 3
    items = [("Q: Where is the street? A:", [" here", " there"]), ("Q: Who was tired? A:", [" the animal"]),
             ("Q: Where is the street? A:", [" here"])]
    for question, answers in items:
        context = reusing.tokenizer.encode(preamble + question)
        continuations = [reusing.tokenizer.encode(a) for a in answers]
        ours = reusing.continuation_logprobs(context, continuations)
        fresh_each_time._scoring_prefix = None  # a model that never reuses
        theirs = fresh_each_time.continuation_logprobs(context, continuations)
        for a, b in zip(ours, theirs):
            assert abs(a.logprob - b.logprob) < 1e-4 and a.greedy == b.greedy
        assert reusing._scoring_prefix is not None and reusing._scoring_prefix[0] == context


def test_attention_weights_match_transformers_output_attentions(checkpoint_factory):
    path = checkpoint_factory("llama")
    model = engine.load(path, device="cpu", precision="fp32")
    ids = model.tokenizer.encode("The animal didn't cross the street because it was tired.")
    ours = model.attention(ids)
    ref = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    with torch.no_grad():
        theirs = torch.stack([a[0] for a in ref(torch.tensor([ids]), output_attentions=True).attentions])
    assert ours.shape == theirs.shape == (2, 4, len(ids), len(ids))
    assert (ours - theirs).abs().max().item() < 1e-5
    assert torch.allclose(ours.sum(-1), torch.ones(2, 4, len(ids)), atol=1e-5)


@pytest.mark.parametrize("arch,overrides", VARIANTS, ids=[f"{a}-{'-'.join(o) or 'base'}" for a, o in VARIANTS])
def test_decode_step_logits_equal_full_forward(checkpoint_factory, arch, overrides):
    """The one-token decode path (eager and static) against the prompt path, past the sliding window too."""
    path = checkpoint_factory(arch, **overrides)
    torch.manual_seed(2)
    for mode in ("eager", "static"):
        model = engine.load(path, device="cpu", precision="fp32", decode=mode)
        ids = torch.randint(0, model.info.vocab_size, (40,)).tolist()
        full = model.logits(torch.tensor([ids]))[0]  # (40, V)
        logits, _, epoch = model.prefill(ids[:28], 40)
        steps = [logits]
        for position in range(28, 39):
            steps.append(model.decode_step(torch.tensor([ids[position]]), position, epoch))
        diff = (torch.stack(steps).float() - full[27:39]).abs().max().item()
        assert diff < 1e-4, (mode, diff)


def test_projections_run_fused_under_their_checkpoint_names(checkpoint_factory):
    path = checkpoint_factory("qwen2")  # q/k/v with biases
    model = engine.load(path, device="cpu", precision="fp32")
    attn = model.network.model.layers[0].self_attn
    assert attn.qkv is not None and model.network.model.layers[0].mlp.gate_up is not None
    # the projections' parameters are views of the stacked weight: one copy in memory, same names
    assert attn.k_proj.weight.data_ptr() == attn.qkv.weight[attn.q_proj.out_features:].data_ptr()
    names = {name for name, _ in model.network.named_parameters()}
    assert "model.layers.0.self_attn.v_proj.bias" in names and "model.layers.0.mlp.up_proj.weight" in names
    quantized = engine.load(path, device="cpu", precision="int8")
    assert quantized.network.model.layers[0].self_attn.qkv is None  # bitsandbytes layers stay separate
