"""GGUF files of Gemma 2, Gemma 3, Phi-3 and GPT-2 (laid out as llama.cpp's converter writes them, see
tests/gguf_architectures.py): against transformers' own GGUF loading where it reads the configuration
(token ids, logits, greedy tokens), and against the engine on the folder they were written from where it
does not (soft-capping values, layer patterns, local rope base, LongRoPE, partial rotary, windows)."""
from __future__ import annotations

import pytest
import torch

import engine
from gguf_architectures import write_arch_gguf

transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")

TEXT = "The animal didn't cross the street because it was tired, said the zebra. Café naïve 東京 🙂"
SHORT = [1.0, 1.0, 1.05, 1.1, 1.2, 1.3, 1.5, 1.7]
LONG = [1.0, 1.2, 1.6, 2.2, 3.0, 4.5, 6.0, 8.0]
# configurations transformers' GGUF reader maps fully (it leaves the rest at its defaults: query_pre_attn_scalar
# 256 and Gemma 3's every-6th-layer pattern, which llama.cpp assumes too; n_positions 1024 for GPT-2)
TRANSFORMERS_CASES = [
    ("gemma2", "Q8_0", {"head_dim": 256, "query_pre_attn_scalar": 256}),
    ("gemma3", "Q5_0", {"head_dim": 256, "query_pre_attn_scalar": 256, "num_hidden_layers": 6,
                        "sliding_window_pattern": 6}),
    ("phi3", "Q4_1", {}),
    ("gpt2", "F16", {"n_positions": 1024}),
]


@pytest.mark.parametrize("arch,kind,overrides", TRANSFORMERS_CASES, ids=[f"{a}-{k}" for a, k, _ in TRANSFORMERS_CASES])
def test_gguf_matches_transformers_gguf_loading(tmp_path, checkpoint_factory, arch, kind, overrides):
    transformers.logging.set_verbosity_error()
    path = write_arch_gguf(checkpoint_factory(arch, **overrides), tmp_path / "model.gguf", kind)
    model = engine.load(path, precision="fp32")
    assert model.info.source_format.startswith(f"GGUF {kind}")
    reference = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="model.gguf",
                                                                  dtype=torch.float32).eval()
    ref_tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path, gguf_file="model.gguf")
    ids = model.tokenizer.encode(TEXT, add_special_tokens=True)
    assert ids == ref_tokenizer(TEXT).input_ids
    ids = (ids * 4)[:64]  # past the sliding windows
    with torch.no_grad():
        expected = reference(torch.tensor([ids])).logits[0]
    assert (model.logits(ids)[0] - expected).abs().max().item() < 1e-3
    prompt = ids[:10]
    generated = [t.id for t in model.generate(prompt, engine.Sampling(max_new_tokens=24, stop_on_eos=False))]
    with torch.no_grad():
        greedy = reference.generate(torch.tensor([prompt]), max_new_tokens=24, do_sample=False, eos_token_id=None,
                                    attention_mask=torch.ones(1, len(prompt), dtype=torch.long))
    assert generated == greedy[0, len(prompt):].tolist()


FOLDER_CASES = [
    ("gemma2", {"attn_logit_softcapping": 2.0, "final_logit_softcapping": 3.0}, False),
    ("gemma3", {"rope_local_base_freq": 500.0, "rope_scaling": {"rope_type": "linear", "factor": 4.0}}, True),
    ("gemma3", {"sliding_window": 7, "final_logit_softcapping": 5.0}, True),
    ("phi3", {"rope_scaling": {"type": "longrope", "short_factor": SHORT, "long_factor": LONG},
              "original_max_position_embeddings": 32}, False),
    ("phi3", {"partial_rotary_factor": 0.5, "sliding_window": 24, "tie_word_embeddings": True}, False),
    ("gpt2", {"tie_word_embeddings": False, "n_positions": 96}, False),
]


@pytest.mark.parametrize("arch,overrides,pattern", FOLDER_CASES,
                         ids=[f"{a}-{'-'.join(k for k in o if k != 'rope_scaling')}" for a, o, _ in FOLDER_CASES])
def test_gguf_equals_the_folder_it_was_written_from(tmp_path, checkpoint_factory, arch, overrides, pattern):
    checkpoint = checkpoint_factory(arch, **overrides)
    from_gguf = engine.load(write_arch_gguf(checkpoint, tmp_path / "m.gguf", "F32", pattern=pattern))
    from_folder = engine.load(checkpoint)
    assert from_gguf.config.layer_types == from_folder.config.layer_types
    for field in ("sliding_window", "attn_logit_softcap", "final_logit_softcap", "attention_scale", "rotary_dim",
                  "tie_word_embeddings", "norm", "positions"):
        assert getattr(from_gguf.config, field) == getattr(from_folder.config, field), field
    ids = from_folder.tokenizer.encode(TEXT * 4)[:60]  # past the windows and LongRoPE's original context
    assert from_gguf.tokenizer.encode(TEXT) == from_folder.tokenizer.encode(TEXT)
    assert (from_gguf.logits(ids) - from_folder.logits(ids)).abs().max().item() < 1e-5  # the folder's own parity


def test_gemma_norm_gains_are_read_back_without_the_added_one(tmp_path, checkpoint_factory):
    from safetensors.torch import load_file

    checkpoint = checkpoint_factory("gemma3")
    model = engine.load(write_arch_gguf(checkpoint, tmp_path / "m.gguf", "F32"), precision="fp32")
    stored = load_file(checkpoint / "model.safetensors")
    for name in ("model.layers.0.pre_feedforward_layernorm.weight", "model.layers.2.self_attn.q_norm.weight",
                 "model.norm.weight"):
        assert torch.allclose(model.network.get_parameter(name), stored[name], atol=1e-7), name


def test_phi3_q4_gguf_runs_its_fused_projections_as_int4(tmp_path, checkpoint_factory):
    from engine.int4 import Int4Linear, int4_available

    if not int4_available(torch.device("cpu")):
        pytest.skip("this torch has no CPU int4 kernel")
    path = write_arch_gguf(checkpoint_factory("phi3"), tmp_path / "m.gguf", "Q4_0")
    packed, plain = engine.load(path), engine.load(path, precision="fp32")
    assert packed.info.precision == "int4"
    layer = packed.network.model.layers[0]
    assert isinstance(layer.self_attn.qkv_proj, Int4Linear) and isinstance(layer.mlp.gate_up_proj, Int4Linear)
    ids = plain.tokenizer.encode(TEXT)
    ours, reference = packed.logits(ids)[0].log_softmax(-1), plain.logits(ids)[0].log_softmax(-1)
    kl = torch.nn.functional.kl_div(ours, reference, log_target=True, reduction="batchmean").item()
    assert kl < 0.01


def test_unknown_gguf_architecture_lists_the_new_ones(tmp_path, checkpoint_factory):
    import gguf

    writer = gguf.GGUFWriter(str(tmp_path / "x.gguf"), "falcon")
    writer.add_tensor("token_embd.weight", torch.zeros(4, 4).numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(engine.UnsupportedModelError, match="gemma2, gemma3, phi3, gpt2"):
        engine.load(tmp_path / "x.gguf")
