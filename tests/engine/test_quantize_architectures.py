"""int8 / nf4 / fp4 on Gemma 2, Gemma 3, Phi-3 and GPT-2: the engine's bitsandbytes layers against
transformers' own bitsandbytes quantization of the same checkpoint (same kernels, so the logits agree),
the fused projections (Phi-3's qkv_proj/gate_up_proj, GPT-2's transposed Conv1D) quantized as one
layer each, and pre-quantized checkpoints saved by transformers."""
import shutil

import pytest
import torch
import transformers

import engine

ARCHS = ("gemma2", "gemma3", "phi3", "gpt2")


def bnb_config(precision):
    if precision == "int8":
        return transformers.BitsAndBytesConfig(load_in_8bit=True)
    return transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=precision,
                                           bnb_4bit_compute_dtype=torch.float32)


def transformers_quantized(path, precision):
    return transformers.AutoModelForCausalLM.from_pretrained(path, quantization_config=bnb_config(precision),
                                                             device_map="cpu", dtype=torch.float32).eval()


@pytest.mark.parametrize("precision", ["int8", "nf4", "fp4"])
@pytest.mark.parametrize("arch", ARCHS)
def test_quantized_logits_match_transformers_bitsandbytes(checkpoint_factory, arch, precision):
    from bitsandbytes.nn import Linear4bit, Linear8bitLt

    path = checkpoint_factory(arch)
    model = engine.load(path, device="cpu", precision=precision)
    ids = torch.randint(0, model.info.vocab_size, (1, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = transformers_quantized(path, precision)(ids).logits
    ours = model.logits(ids)
    assert (ours - theirs).abs().max().item() < 1e-4
    fp32 = engine.load(path, device="cpu", precision="fp32").logits(ids)
    assert (ours - fp32).abs().max().item() > 1e-4  # it really ran quantized
    layer_type = Linear8bitLt if precision == "int8" else Linear4bit
    layer = model.network.model.layers[0]
    fused = arch in ("phi3", "gpt2")
    projections = [layer.self_attn.qkv_proj if fused else layer.self_attn.q_proj, layer.self_attn.o_proj,
                   layer.mlp.gate_up_proj if arch == "phi3" else layer.mlp.up_proj, layer.mlp.down_proj]
    assert all(isinstance(p, layer_type) for p in projections)
    assert precision in model.memory()["weights_bytes_by_dtype"]
    tokens = list(model.generate(model.tokenizer.encode("The animal"), engine.Sampling(max_new_tokens=8, stop_on_eos=False)))
    assert len(tokens) == 8


@pytest.mark.parametrize("arch,precision", [("phi3", "int8"), ("phi3", "nf4"), ("gemma3", "int8"), ("gemma2", "fp4")])
def test_prequantized_checkpoints_load_as_stored(checkpoint_factory, tmp_path, arch, precision):
    path = checkpoint_factory(arch)
    reference = transformers_quantized(path, precision)
    reference.save_pretrained(tmp_path / "q")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(path / name, tmp_path / "q" / name)
    model = engine.load(tmp_path / "q", device="cpu")
    assert model.info.precision == precision
    ids = torch.randint(0, model.info.vocab_size, (1, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = reference(ids).logits
    assert (model.logits(ids) - theirs).abs().max().item() < 1e-4


def test_prequantized_gpt2_is_refused_with_what_to_do(checkpoint_factory, tmp_path):
    path = checkpoint_factory("gpt2")
    transformers_quantized(path, "int8").save_pretrained(tmp_path / "q")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(path / name, tmp_path / "q" / name)
    with pytest.raises(engine.UnsupportedModelError, match="pre-quantized GPT-2 .* choose int8, nf4 or fp4"):
        engine.load(tmp_path / "q", device="cpu")
