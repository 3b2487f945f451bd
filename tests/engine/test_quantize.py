"""int8 / nf4 / fp4 through bitsandbytes on the CPU, pre-quantized checkpoints, memory report."""
import json
import shutil

import pytest
import torch
import transformers

import engine


@pytest.fixture(scope="module")
def base(checkpoint_factory):
    return checkpoint_factory("qwen2")


@pytest.mark.parametrize("precision", ["int8", "nf4", "fp4"])
def test_quantized_precisions_run_and_stay_close(base, precision):
    model = engine.load(base, device="cpu", precision=precision)
    reference = engine.load(base, device="cpu", precision="fp32")
    ids = torch.randint(0, model.info.vocab_size, (1, 64), generator=torch.Generator().manual_seed(0))
    ours, ref = model.logits(ids), reference.logits(ids)
    kl = torch.nn.functional.kl_div(ours.log_softmax(-1), ref.log_softmax(-1), log_target=True, reduction="batchmean")
    assert 0 < kl.item() < (0.05 if precision == "int8" else 2.0)  # a random net is fragile; real bounds use the bundled model
    memory = model.memory()
    assert precision in memory["weights_bytes_by_dtype"]
    assert memory["weights_bytes"] < reference.memory()["weights_bytes"]
    from bitsandbytes.nn import Linear4bit, Linear8bitLt

    layer_type = Linear8bitLt if precision == "int8" else Linear4bit
    assert isinstance(model.network.model.layers[0].mlp.down_proj, layer_type)
    assert isinstance(model.network.model.embed_tokens, torch.nn.Embedding)  # embeddings stay in compute dtype
    tokens = list(model.generate([1, 2, 3], engine.Sampling(max_new_tokens=8, stop_on_eos=False)))
    assert len(tokens) == 8


def test_int8_threshold_and_double_quant_options(base):
    model = engine.load(base, device="cpu", precision="int8", int8_threshold=3.0)
    assert model.network.model.layers[0].self_attn.q_proj.state.threshold == 3.0
    dq = engine.load(base, device="cpu", precision="nf4", double_quant=True)
    assert dq.network.model.layers[0].self_attn.q_proj.weight.quant_state.nested
    with pytest.raises(engine.PrecisionError, match="unknown quantization option"):
        engine.load(base, device="cpu", precision="nf4", blocksze=32)


def save_prequantized(source, target, precision, double_quant=False):
    if precision == "int8":
        config = transformers.BitsAndBytesConfig(load_in_8bit=True)
    else:
        config = transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=precision,
                                                 bnb_4bit_use_double_quant=double_quant,
                                                 bnb_4bit_compute_dtype=torch.float32)
    model = transformers.AutoModelForCausalLM.from_pretrained(source, quantization_config=config, device_map="cpu",
                                                              dtype=torch.float32)
    model.save_pretrained(target)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(source / name, target / name)
    return target, model


@pytest.mark.parametrize("precision,double_quant", [("nf4", False), ("nf4", True), ("fp4", False), ("int8", False)])
def test_prequantized_checkpoint_loads_without_requantizing(base, tmp_path, precision, double_quant):
    folder, hf_model = save_prequantized(base, tmp_path / "pq", precision, double_quant)
    model = engine.load(folder, device="cpu")
    assert model.info.precision == precision
    ids = torch.randint(0, model.info.vocab_size, (1, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        theirs = hf_model(ids).logits.float()
    ours = model.logits(ids)
    assert (ours.argmax(-1) == theirs.argmax(-1)).float().mean() > 0.9
    assert (ours - theirs).abs().max() < 0.1
    stored = model.network.model.layers[0].self_attn.q_proj.weight
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        raw = f.get_tensor("model.layers.0.self_attn.q_proj.weight")
    # the stored bytes, not a re-quantization (bitsandbytes may repack 4-bit bytes into its CPU layout)
    assert stored.dtype == raw.dtype and stored.numel() == raw.numel()
    if precision == "int8":
        assert torch.equal(stored.data.cpu(), raw)


def test_prequantized_faults_are_named(base, tmp_path):
    folder, _ = save_prequantized(base, tmp_path / "pq", "nf4")
    with pytest.raises(engine.PrecisionError, match="stored pre-quantized as nf4"):
        engine.load(folder, device="cpu", precision="fp32")
    from safetensors.torch import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    del tensors["model.layers.1.mlp.up_proj.weight.absmax"]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(engine.ModelFormatError, match=r"model\.layers\.1\.mlp\.up_proj\.weight\.absmax"):
        engine.load(folder, device="cpu")
    config = json.loads((folder / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "gptq", "bits": 4}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(engine.UnsupportedModelError, match="gptq"):
        engine.load(folder, device="cpu")


def test_cpu_has_no_cuda_precision_surprises(base):
    if torch.cuda.is_available():
        pytest.skip("CPU-only check")
    assert engine.load(base, precision="auto").info.precision == "fp32"


def test_lm_head_quantized_only_when_asked(base, checkpoint_factory):
    from bitsandbytes.nn import Linear8bitLt

    plain = engine.load(base, device="cpu", precision="int8")
    assert type(plain.network.lm_head) is torch.nn.Linear
    asked = engine.load(base, device="cpu", precision="int8", quantize_lm_head=True)
    assert isinstance(asked.network.lm_head, Linear8bitLt)
    assert len(list(asked.generate([1, 2, 3], engine.Sampling(max_new_tokens=4, stop_on_eos=False)))) == 4
    if asked.info.vocab_size % 32:  # bitsandbytes' CPU 4-bit kernel cannot hold this layer: say so
        with pytest.raises(engine.PrecisionError, match="divisible by 32.*lm_head"):
            engine.load(base, device="cpu", precision="nf4", quantize_lm_head=True)
    tied = checkpoint_factory("llama", tie_word_embeddings=True)
    with pytest.raises(engine.PrecisionError, match="untied lm_head"):
        engine.load(tied, device="cpu", precision="nf4", quantize_lm_head=True)
