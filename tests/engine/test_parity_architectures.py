"""Gemma 2, Gemma 3 (text), Phi-3 and GPT-2 against transformers on small random checkpoints, several
configurations each: fp32 logits, 64 greedy tokens through the KV cache, the one-token decode step
(eager and static) against the full forward, attention weights, and the real chat templates."""
import json

import pytest
import torch
import transformers

import engine
from checkpoints import ARCHITECTURE_VARIANTS as VARIANTS, LONG, longrope

IDS = [f"{arch}-{'-'.join(k for k in o if k != 'rope_scaling') or 'base'}" for arch, o in VARIANTS]


def reference(path, **kwargs):
    return transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kwargs).eval()


@pytest.mark.parametrize("arch,overrides", VARIANTS, ids=IDS)
def test_logits_and_64_greedy_tokens_match_transformers(checkpoint_factory, arch, overrides):
    path = checkpoint_factory(arch, **overrides)
    model = engine.load(path, device="cpu", precision="fp32")
    ref = reference(path)
    torch.manual_seed(1)
    ids = torch.randint(0, model.info.vocab_size, (2, 48))
    with torch.no_grad():
        theirs = ref(ids).logits
    ours = model.logits(ids)
    assert ours.shape == theirs.shape == (2, 48, model.info.vocab_size)
    assert (ours - theirs).abs().max().item() < 1e-4
    prompt = model.tokenizer.encode("The animal didn't cross the street")
    tokens = [t.id for t in model.generate(prompt, engine.Sampling(max_new_tokens=64, stop_on_eos=False))]
    with torch.no_grad():
        out = ref.generate(torch.tensor([prompt]), max_new_tokens=64, min_new_tokens=64, do_sample=False,
                           eos_token_id=None, pad_token_id=0)
    expected = out[0, len(prompt):].tolist()
    assert len(expected) == 64 and len(set(expected)) > 3  # a sequence that says something about the cache
    assert tokens == expected


@pytest.mark.parametrize("arch,overrides", VARIANTS, ids=IDS)
def test_decode_step_logits_equal_full_forward(checkpoint_factory, arch, overrides):
    """The one-token decode path (eager and static) against the prompt path, across sliding windows and
    across LongRoPE's switch from short to long factors (there a step equals the full forward of the
    sequence so far, whose length picks the factors, as in transformers' Phi-3)."""
    path = checkpoint_factory(arch, **overrides)
    torch.manual_seed(2)
    for mode in ("eager", "static"):
        model = engine.load(path, device="cpu", precision="fp32", decode=mode)
        ids = torch.randint(0, model.info.vocab_size, (46,)).tolist()
        if "original_max_position_embeddings" in overrides:
            full = torch.stack([model.logits(torch.tensor([ids[:end]]))[0, -1] for end in range(28, 46)])
        else:
            full = model.logits(torch.tensor([ids]))[0, 27:45]  # (18, V)
        logits, _, epoch = model.prefill(ids[:28], len(ids))
        steps = [logits]
        for position in range(28, 45):
            steps.append(model.decode_step(torch.tensor([ids[position]]), position, epoch))
        diff = (torch.stack(steps).float() - full).abs().max().item()
        assert diff < 1e-4, (mode, diff)


@pytest.mark.parametrize("arch,overrides", [
    ("gemma2", {"attn_logit_softcapping": 2.0}), ("gemma3", {"sliding_window": 7}), ("phi3", {"sliding_window": 5}),
    ("gpt2", {"scale_attn_by_inverse_layer_idx": True})], ids=["gemma2", "gemma3", "phi3", "gpt2"])
def test_attention_weights_match_transformers_output_attentions(checkpoint_factory, arch, overrides):
    path = checkpoint_factory(arch, **overrides)
    model = engine.load(path, device="cpu", precision="fp32")
    ids = model.tokenizer.encode("Every token looks back at the tokens before it; a sliding layer sees only the "
                                 "last few, and the cache keeps them all. Zebras cross quietly.")
    assert len(ids) > 12  # longer than the sliding windows above
    ours = model.attention(ids)
    with torch.no_grad():
        theirs = torch.stack([a[0] for a in reference(path, attn_implementation="eager")(
            torch.tensor([ids]), output_attentions=True).attentions])
    layers = model.info.n_layers
    assert ours.shape == theirs.shape == (layers, 4, len(ids), len(ids))
    assert (ours - theirs).abs().max().item() < 1e-5
    window = overrides.get("sliding_window")
    if window:  # a sliding layer gives nothing to keys outside its window
        first_sliding = 0
        assert ours[first_sliding, :, -1, : len(ids) - window].abs().max().item() == 0


MESSAGES = {
    "gemma2": [{"role": "user", "content": " Why does attention help? Café 🙂 "},
               {"role": "assistant", "content": "It links tokens."}, {"role": "user", "content": "And the KV cache?"}],
    "gemma3": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Why attention? Café 🙂"},
               {"role": "assistant", "content": [{"type": "text", "text": "It links tokens."}]},
               {"role": "user", "content": "And the KV cache?"}],
    "phi3": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Why attention? Café 🙂"},
             {"role": "assistant", "content": "It links tokens."}, {"role": "user", "content": "And the KV cache?"}],
    "gpt2": [{"role": "user", "content": "Why does attention help? Café 🙂"},
             {"role": "assistant", "content": "It links tokens."}, {"role": "user", "content": "And the KV cache?"}],
}


@pytest.mark.parametrize("arch", list(MESSAGES))
@pytest.mark.parametrize("generation_prompt", [True, False])
def test_real_chat_templates_match_transformers_apply_chat_template(checkpoint_factory, arch, generation_prompt):
    path = checkpoint_factory(arch)
    model = engine.load(path, device="cpu", precision="fp32")
    hf_tok = transformers.PreTrainedTokenizerFast.from_pretrained(path)
    messages = MESSAGES[arch]
    rendered = model.render_chat(messages, add_generation_prompt=generation_prompt)
    assert rendered == hf_tok.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=False)
    expected = hf_tok.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=True,
                                          return_dict=True)["input_ids"]
    assert model.chat_ids(messages, add_generation_prompt=generation_prompt) == list(expected)
    if arch.startswith("gemma"):
        assert expected[0] == model.tokenizer.bos_id and expected.count(model.tokenizer.bos_id) == 1


def test_gemma_templates_refuse_what_the_real_ones_refuse(checkpoint_factory):
    gemma2 = engine.load(checkpoint_factory("gemma2"), device="cpu", precision="fp32")
    with pytest.raises(engine.ModelFormatError, match="System role not supported"):
        gemma2.render_chat([{"role": "system", "content": "x"}, {"role": "user", "content": "y"}])
    gemma3 = engine.load(checkpoint_factory("gemma3"), device="cpu", precision="fp32")
    with pytest.raises(engine.ModelFormatError, match="roles must alternate"):
        gemma3.render_chat([{"role": "user", "content": "x"}, {"role": "user", "content": "y"}])


@pytest.mark.parametrize("change,match", [
    ({"rope_scaling": {"rope_type": "dynamic", "factor": 2.0}}, "rope type 'dynamic'"),
    ({"hidden_activation": "xielu"}, "activation 'xielu'"),
    ({"layer_types": ["sliding_attention", "chunked_attention"]}, "layer type 'chunked_attention'"),
    ({"layer_types": ["sliding_attention"]}, "layer_types names 1 layers"),
    ({"use_bidirectional_attention": True}, "use_bidirectional_attention"),
    ({"model_type": "gemma3"}, "gemma3_text"),
])
def test_options_the_engine_cannot_honour_are_refused_by_name(checkpoint_factory, tmp_path, change, match):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(checkpoint_factory("gemma2"), folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop("rope_parameters", None) if "rope_scaling" in change else None
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(engine.UnsupportedModelError, match=match):
        engine.load(folder, device="cpu", precision="fp32")


@pytest.mark.parametrize("change,match", [
    ({"add_cross_attention": True}, "add_cross_attention"),
    ({"activation_function": "gelu_10"}, "activation 'gelu_10'"),
])
def test_gpt2_options_the_engine_cannot_honour_are_refused(checkpoint_factory, tmp_path, change, match):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(checkpoint_factory("gpt2"), folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(engine.UnsupportedModelError, match=match):
        engine.load(folder, device="cpu", precision="fp32")


def test_longrope_factors_of_the_wrong_length_are_refused(checkpoint_factory, tmp_path):
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(checkpoint_factory("phi3", **longrope(32)), folder)
    config = json.loads((folder / "config.json").read_text())
    config["rope_parameters"]["long_factor"] = LONG[:5]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(engine.UnsupportedModelError, match="long_factor has 5 values but the heads rotate 8 pairs"):
        engine.load(folder, device="cpu", precision="fp32")


@pytest.mark.parametrize("arch", ["gemma2", "gemma3", "phi3", "gpt2"])
def test_bf16_logits_match_transformers_in_bf16(checkpoint_factory, arch):
    """The compute-dtype details: Gemma's sqrt(hidden) rounded to bf16 as transformers rounds it (96 ->
    9.8125), its norms scaling in fp32 before the cast, Llama-style norms casting first."""
    path = checkpoint_factory(arch, **({} if arch == "gpt2" else {"hidden_size": 96}))
    model = engine.load(path, device="cpu", precision="bf16")
    ref = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).eval()
    ids = torch.randint(0, model.info.vocab_size, (1, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = ref(ids).logits.float()
        their_embeddings = ref.get_input_embeddings()(ids)
        if arch == "gpt2":  # plus its learned positions
            their_embeddings = their_embeddings + ref.transformer.wpe(torch.arange(ids.shape[1]))
    assert torch.equal(model.network.embed(ids, 0), their_embeddings)
    ours = model.logits(ids)
    assert (ours - theirs).abs().max().item() <= theirs.abs().max().item() * 2 ** -8  # about one bf16 step


def test_compiled_step_matches_eager_across_the_sliding_window(checkpoint_factory):
    """torch.compile over the static step with soft-capped scores and alternating windows (Gemma 2); the
    other architectures' static steps are checked above, the compile itself is the same function."""
    path = checkpoint_factory("gemma2", attn_logit_softcapping=2.0, final_logit_softcapping=3.0)
    eager = engine.load(path, device="cpu", precision="fp32", decode="eager")
    compiled = engine.load(path, device="cpu", precision="fp32", decode="compiled")
    prompt = eager.tokenizer.encode("The animal didn't cross")
    settings = engine.Sampling(max_new_tokens=24, stop_on_eos=False)  # past the window of 16
    assert [t.id for t in compiled.generate(prompt, settings)] == [t.id for t in eager.generate(prompt, settings)]
    assert compiled.decode_mode == "compiled"  # it did not fall back to the uncompiled step


def test_gpt2_weights_are_held_as_linear_layers_under_engine_names(checkpoint_factory):
    path = checkpoint_factory("gpt2", legacy=True)
    model = engine.load(path, device="cpu", precision="fp32")
    attn = model.network.model.layers[0].self_attn
    assert tuple(attn.qkv_proj.weight.shape) == (3 * 64, 64)  # Conv1D's (64, 192) transposed
    assert tuple(model.network.model.layers[0].mlp.up_proj.weight.shape) == (256, 64)
    names = {name for name, _ in model.network.named_parameters()}
    assert "model.embed_positions.weight" in names and not any("attn.bias" in n for n in names)
    ref = reference(path)
    n_ref = sum(p.numel() for p in ref.parameters())
    assert model.info.n_params == n_ref  # the saved mask buffers are not counted as parameters
