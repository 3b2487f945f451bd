"""Packed 4-bit weights (engine/int4.py): GGUF Q4_0/Q4_1 blocks used as stored, checked against
gguf's own dequantization, and whole models in int4 against the same file dequantized to fp32."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.int4 import Int4Linear, int4_available, q4_groups
from gguf_files import write_gguf

pytestmark = pytest.mark.skipif(not int4_available(torch.device("cpu")), reason="this torch has no CPU int4 kernel")


@pytest.mark.parametrize("kind", ["Q4_0", "Q4_1"])
def test_q4_blocks_decode_exactly_as_gguf_dequantizes_them(kind):
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize, quantize

    rng = np.random.default_rng(0)
    weight = (rng.standard_normal((64, 128)) * 0.1 + rng.uniform(-0.05, 0.05, (64, 1))).astype(np.float32)
    blocks = quantize(weight, GGMLQuantizationType[kind])
    expected = torch.from_numpy(dequantize(blocks, GGMLQuantizationType[kind]))  # (64, 128)
    q, scales, zeros = q4_groups(blocks, kind, (64, 128))
    rebuilt = (q.float() - 8) * scales.repeat_interleave(32, 1) + zeros.repeat_interleave(32, 1)
    assert (rebuilt - expected).abs().max().item() < 1e-6
    layer = Int4Linear.from_groups(q, scales, zeros, None, torch.bfloat16, torch.device("cpu"))
    x = torch.randn(3, 128)
    reference = x.bfloat16().float() @ expected.t()
    assert (layer(x) - reference).abs().max().item() < 0.02 * reference.abs().max().item()
    assert layer(x).dtype == torch.float32


def test_from_float_quantizes_within_half_a_step():
    weight = torch.randn(96, 64)
    layer = Int4Linear.from_float(weight, None, torch.bfloat16, torch.device("cpu"))
    eye = torch.eye(64)
    rebuilt = layer(eye).t()  # (96, 64): column j of W^T is W @ e_j
    step = (weight.reshape(96, 2, 32).amax(-1) - weight.reshape(96, 2, 32).amin(-1)) / 15
    assert ((rebuilt - weight).abs().reshape(96, 2, 32).amax(-1) <= step * 0.5 + 0.02).all()


@pytest.mark.parametrize("arch,kind", [("llama", "Q4_0"), ("qwen2", "Q4_1"), ("mistral", "Q4_1")])
def test_q4_gguf_loads_as_int4_by_default_and_agrees_with_its_fp32_dequantization(tmp_path, checkpoint_factory,
                                                                                     arch, kind):
    path = write_gguf(checkpoint_factory(arch, "bytelevel"), tmp_path / "m.gguf", kind)
    packed = engine.load(path)
    plain = engine.load(path, precision="fp32")
    assert packed.info.precision == "int4" and plain.info.precision == "fp32"
    memory = packed.memory()["weights_bytes_by_dtype"]
    assert memory["int4"] > 0
    ids = plain.tokenizer.encode("The animal didn't cross the street because it was tired.")
    ours, reference = packed.logits(ids)[0].log_softmax(-1), plain.logits(ids)[0].log_softmax(-1)
    kl = torch.nn.functional.kl_div(ours, reference, log_target=True, reduction="batchmean").item()
    assert kl < 0.01
    assert (ours.argmax(-1) == reference.argmax(-1)).float().mean().item() >= 0.8
    eager = [t.id for t in packed.generate(ids, engine.Sampling(max_new_tokens=12, stop_on_eos=False))]
    packed.set_decode_mode("static")
    static = [t.id for t in packed.generate(ids, engine.Sampling(max_new_tokens=12, stop_on_eos=False))]
    assert eager == static


def test_int4_on_a_float_checkpoint_quantizes_it(checkpoint_factory):
    folder = checkpoint_factory("qwen2", "bytelevel")  # q/k/v biases ride along
    packed, plain = engine.load(folder, precision="int4"), engine.load(folder, precision="fp32")
    ids = plain.tokenizer.encode("Attention lets every token look at every other token.")
    kl = torch.nn.functional.kl_div(packed.logits(ids)[0].log_softmax(-1), plain.logits(ids)[0].log_softmax(-1),
                                    log_target=True, reduction="batchmean").item()
    assert kl < 0.05
    assert engine.load(folder).info.precision == "fp32"  # auto never picks int4 for a float checkpoint


def test_stacked_int4_equals_its_layers_run_one_by_one():
    from engine.int4 import StackedInt4

    torch.manual_seed(0)
    layers = [Int4Linear.from_float(torch.randn(n, 96), torch.randn(n), torch.bfloat16, torch.device("cpu"))
              for n in (128, 64, 64)]
    x = torch.randn(2, 5, 96)
    separate = torch.cat([layer(x) for layer in layers], dim=-1)  # (2, 5, 256)
    assert StackedInt4.possible(layers)
    stacked = StackedInt4(layers)
    assert torch.equal(stacked(x), separate)
    assert torch.equal(torch.cat([layer(x) for layer in layers], dim=-1), separate)  # views still right
    assert not StackedInt4.possible(layers + [Int4Linear.from_float(torch.randn(32, 96), None, torch.bfloat16,
                                                                    torch.device("cpu"))])


@pytest.mark.parametrize("chunk_rows", [4096, 64])  # 64: the 83 rows are packed in two chunks
def test_int8_head_decodes_q8_0_blocks_exactly_and_matches_the_float_matmul(monkeypatch, chunk_rows):
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize, quantize

    from engine.int4 import Int8Head, q8_groups

    monkeypatch.setattr(Int8Head, "CHUNK_ROWS", chunk_rows)
    rng = np.random.default_rng(1)
    weight = (rng.standard_normal((83, 96)) * 0.2).astype(np.float32)  # 83 rows: not a multiple of 16
    blocks = quantize(weight, GGMLQuantizationType.Q8_0)
    expected = torch.from_numpy(dequantize(blocks, GGMLQuantizationType.Q8_0))  # (83, 96)
    q, d = q8_groups(blocks, (83, 96))
    assert (q.float() * d.repeat_interleave(32, 1) - expected).abs().max().item() < 1e-6
    head = Int8Head(q, d, torch.device("cpu"))
    x = torch.randn(4, 96)
    reference = x.bfloat16().float() @ expected.t()  # (4, 83)
    assert (head(x) - reference).abs().max().item() < 0.02 * reference.abs().max().item()
    from_float = Int8Head.from_float(torch.from_numpy(weight), torch.device("cpu"))
    assert (from_float(x) - x @ torch.from_numpy(weight).t()).abs().max().item() < 0.03 * reference.abs().max().item()


@pytest.mark.parametrize("head", ["int8", "bf16"])
def test_each_int4_head_stays_close_to_the_fp32_head(checkpoint_factory, head):
    folder = checkpoint_factory("llama", "bytelevel")
    fp32_head = engine.load(folder, precision="int4", int4_head="fp32")
    other = engine.load(folder, precision="int4", int4_head=head)
    ids = fp32_head.tokenizer.encode("Similar words get similar embeddings.")
    ours, reference = other.logits(ids)[0].log_softmax(-1), fp32_head.logits(ids)[0].log_softmax(-1)
    kl = torch.nn.functional.kl_div(ours, reference, log_target=True, reduction="batchmean").item()
    assert kl < 0.01
    kind = {"int8": "int8", "bf16": "bfloat16"}[head]
    assert fp32_head.network.output_head is None and other.network.output_head.kind == kind  # a head of its own ran
    assert other.memory()["weights_bytes_by_dtype"].get(kind, 0) > 0


def test_an_unknown_int4_head_is_refused(checkpoint_factory):
    with pytest.raises(engine.PrecisionError, match="int4_head"):
        engine.load(checkpoint_factory("llama", "bytelevel"), precision="int4", int4_head="int3")


@pytest.mark.parametrize("precision", ["int4", "fp32"])
def test_a_misspelled_option_is_refused_not_ignored(checkpoint_factory, precision):
    with pytest.raises(engine.PrecisionError, match="int4_hed"):
        engine.load(checkpoint_factory("llama", "bytelevel"), precision=precision, int4_hed="fp32")
