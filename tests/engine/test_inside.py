"""engine.inside on small random checkpoints: tokens, embedding neighbors and the PCA map, position
info, attention by distance, the logit lens, head summaries, and the generation stepper."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import engine
from engine.config import ModelConfig, RopeConfig
from engine.inside.embeddings import word_map
from engine.inside.heads import summarize_heads
from engine.inside.positions import attention_by_distance, learned_position_similarity, position_info
from engine.inside.stepper import Stepper
from engine.inside.tokens import load_tokenizer, token_breakdown
from engine.transformer import Transformer

TEXT = "The animal didn't cross the street because it was tired."


@pytest.fixture(scope="module")
def llama(checkpoint_factory):
    return engine.load(checkpoint_factory("llama"), device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def ids(llama):
    return llama.tokenizer.encode(TEXT)


# ---- tokens --------------------------------------------------------------------------------------
def test_byte_level_pieces_specials_and_counts(llama):
    text = "Hi <|im_start|> 東"
    b = token_breakdown(llama.tokenizer, text)
    assert b.ids == llama.tokenizer.encode(text)
    special = [p for p in b.pieces if p.kind == "special"]
    assert [p.piece for p in special] == ["<|im_start|>"] and text[special[0].start:special[0].end] == "<|im_start|>"
    partial = [p for p in b.pieces if p.kind == "partial"]  # 東 is three UTF-8 bytes, split over tokens here
    assert bytes.fromhex("".join(p.bytes_hex for p in partial)).decode().strip() == "東"
    assert all(text[p.start:p.end].strip() == "東" for p in partial)
    counts = b.counts()
    assert counts["tokens"] == len(b.pieces) == sum(counts[k] for k in ("text", "special", "byte", "partial"))
    assert (counts["characters"], counts["bytes"], counts["words"]) == (len(text), len(text.encode()), 3)


def test_byte_fallback_pieces_and_added_bos(checkpoint_factory):
    folder = checkpoint_factory("llama", tokenizer_style="llama")
    tokenizer = load_tokenizer(folder)  # the tokenizer alone, no weights
    b = token_breakdown(tokenizer, "to Ω", add_special_tokens=True)  # Ω is not in its vocabulary: two bytes
    assert b.pieces[0].kind == "special" and b.pieces[0].start == b.pieces[0].end == 0  # BOS, not typed
    fallback = [p for p in b.pieces if p.kind == "byte"]
    assert [p.piece for p in fallback] == ["<0xCE>", "<0xA9>"]
    assert bytes.fromhex("".join(p.bytes_hex for p in fallback)).decode() == "Ω"


# ---- embeddings ------------------------------------------------------------------------------------
def test_embedding_neighbors_are_the_cosine_nearest(llama):
    table = llama.network.model.embed_tokens.weight.detach().numpy()[:llama.tokenizer.vocab_size]
    token = llama.tokenizer.encode(" street")[0]
    found = llama.embedding_neighbors(token, k=5)
    by_hand = [float(row @ table[token] / (np.linalg.norm(row) * np.linalg.norm(table[token]))) for row in table]
    by_hand[token] = -math.inf
    order = np.argsort(by_hand)[::-1][:5]
    assert [n.id for n in found] == [int(i) for i in order]
    assert [n.cosine for n in found] == pytest.approx([by_hand[i] for i in order], abs=1e-5)
    assert found[0].text == llama.tokenizer.token_text(found[0].id)
    with pytest.raises(engine.EngineError, match="outside"):
        llama.embedding_neighbors(10**6)


def test_word_map_is_the_pca_of_the_word_embeddings(llama):
    words = ["animal", "street", "tired", "question", "token"]
    result = word_map(llama, words)
    table = llama.network.model.embed_tokens.weight.detach().numpy()
    points = np.stack([table[list(ids)].mean(0) for ids in result.token_ids])
    centered = points - points.mean(0)
    values, vectors = np.linalg.eigh(centered.T @ centered)  # ascending
    top = vectors[:, ::-1][:, :2]
    expected = centered @ top
    got = result.coords.numpy()
    for k in range(2):  # a principal direction is defined up to its sign
        assert np.allclose(np.abs(got[:, k]), np.abs(expected[:, k]), atol=1e-4)
    assert result.explained == pytest.approx(tuple(values[::-1][:2] / values.sum()), abs=1e-5)
    with pytest.raises(engine.EngineError, match="at least three"):
        word_map(llama, ["one", "two", "one"])


# ---- positions -------------------------------------------------------------------------------------
def test_rotary_info_is_what_the_model_uses(llama):
    info = position_info(llama)
    assert info.kind == "rope" and not info.scaled
    assert list(info.inv_freq) == pytest.approx(llama.network.inv_freq.tolist())
    assert info.wavelengths[0] == pytest.approx(2 * math.pi) and info.rotary_dim == llama.config.head_dim
    assert list(info.base_inv_freq) == pytest.approx(list(info.inv_freq))


def test_scaled_rope_reports_both_frequencies():
    config = ModelConfig("llama", 64, 32, 64, 1, 2, 2, 16, 4096,
                         rope=RopeConfig(theta=10000.0, rope_type="linear", factor=4.0))
    model = SimpleNamespace(config=config, network=Transformer(config))
    info = position_info(model)
    assert info.scaled and info.factor == 4.0
    assert list(info.wavelengths) == pytest.approx([4 * w for w in info.base_wavelengths])


def test_learned_positions_similarity_by_hand():
    config = ModelConfig("gpt2", 64, 16, 32, 1, 2, 2, 8, 32, norm="layer", positions="learned", gated_mlp=False,
                         fused_qkv=True, attention_bias=True, mlp_bias=True, hidden_act="gelu_new")
    network = Transformer(config)
    torch.manual_seed(0)
    with torch.no_grad():
        network.model.embed_positions.weight.normal_()
    model = SimpleNamespace(config=config, network=network)
    info = position_info(model)
    assert (info.kind, info.learned_positions, info.rotary_dim) == ("learned", 32, 0)
    sim = learned_position_similarity(model, 10)
    table = network.model.embed_positions.weight.detach()[:10]
    i, j = 3, 7
    assert sim.shape == (10, 10)
    assert float(sim[i, j]) == pytest.approx(float(table[i] @ table[j] / (table[i].norm() * table[j].norm())), abs=1e-6)
    rope_config = ModelConfig("llama", 64, 32, 64, 1, 2, 2, 16, 64)
    rope_model = SimpleNamespace(config=rope_config, network=Transformer(rope_config))
    with pytest.raises(engine.EngineError, match="no learned position"):
        learned_position_similarity(rope_model)


def test_learned_positions_of_a_gpt2_checkpoint(checkpoint_factory):
    from safetensors.torch import load_file

    folder = checkpoint_factory("gpt2")
    model = engine.load(folder, device="cpu", precision="fp32")
    stored = next(t for name, t in load_file(str(folder / "model.safetensors")).items() if name.endswith("wpe.weight"))
    assert position_info(model).learned_positions == stored.shape[0]
    expected = torch.nn.functional.cosine_similarity(stored[:12, None], stored[None, :12], dim=-1)
    assert torch.allclose(learned_position_similarity(model, 12), expected, atol=1e-5)


def causal_uniform(T: int) -> torch.Tensor:
    return torch.ones(T, T).tril() / torch.arange(1, T + 1)[:, None]  # (T, T)


def previous_token(T: int) -> torch.Tensor:
    w = torch.zeros(T, T)
    w[0, 0] = 1
    w[torch.arange(1, T), torch.arange(T - 1)] = 1
    return w


def test_attention_by_distance_on_constructed_heads():
    T = 6
    weights = torch.stack([previous_token(T), causal_uniform(T)])[None]  # (1, 2, T, T)
    d = attention_by_distance(weights, 4)
    assert d.shape == (1, 2, 4)
    assert d[0, 0].tolist() == pytest.approx([1 / 6, 5 / 5, 0, 0])  # only query 0 attends to itself
    # uniform: distance d is seen by queries d..T-1, each giving it 1/(i+1)
    assert d[0, 1, 2].item() == pytest.approx(np.mean([1 / (i + 1) for i in range(2, T)]))
    skipped = attention_by_distance(weights, skip_first=True)  # the first token left out as a key
    assert skipped.shape == (1, 2, T - 1) and skipped[0, 0, :2].tolist() == pytest.approx([0.0, 1.0])
    assert skipped[0, 1, 2].item() == pytest.approx(np.mean([1 / (i + 1) for i in range(3, T)]))


# ---- logit lens --------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["llama", "qwen3", "gemma2", "gemma3", "phi3", "gpt2"])
def test_logit_lens_last_row_is_the_models_prediction(checkpoint_factory, arch):
    model = engine.load(checkpoint_factory(arch), device="cpu", precision="fp32")
    ids = model.tokenizer.encode(TEXT)
    lens = model.logit_lens(ids, top_k=5)
    L, T = model.config.num_hidden_layers, len(ids)
    assert lens.token_ids.shape == lens.probs.shape == (L + 1, T, 5)
    own = model.logits([ids])[0].softmax(-1).topk(5)  # (T, 5)
    assert torch.equal(lens.token_ids[-1], own.indices)
    assert torch.allclose(lens.probs[-1], own.values, atol=1e-6)
    assert torch.allclose(lens.final_token_probs[-1], lens.probs[-1, :, 0])
    # row 0: the embeddings alone through the final norm and the output head
    net = model.network
    with torch.no_grad():
        first = net._output(net.model.norm(net.embed(torch.tensor([ids]), 0)))[0].softmax(-1).topk(5)
    assert torch.equal(lens.token_ids[0], first.indices)
    assert not torch.equal(lens.token_ids[0], lens.token_ids[-1])  # the layers changed the guess


def test_logit_lens_refuses_empty_and_too_long(llama):
    with pytest.raises(engine.EngineError, match="no tokens"):
        llama.logit_lens([])
    with pytest.raises(engine.PromptTooLongError):
        llama.logit_lens([1] * (llama.info.context_length + 1))


# ---- heads --------------------------------------------------------------------------------------------
def test_heads_are_named_by_their_pattern():
    T = 16
    first = torch.zeros(T, T)
    first[:, 0] = 1
    own = torch.eye(T)
    mixed = torch.zeros(T, T)
    for i in range(T):  # 0.4 on the previous token, 0.35 on itself, the rest on the first
        parts = {max(i - 1, 0): 0.4, i: 0.35}
        parts[0] = parts.get(0, 0.0) + 1 - sum(parts.values())
        for j, v in parts.items():
            mixed[i, j] += v
    weights = torch.stack([previous_token(T), first, own, causal_uniform(T), mixed])[None]  # (1, 5, T, T)
    summaries = summarize_heads(weights)
    assert [s.kind for s in summaries] == ["previous-token", "first-token", "self", "broad", "mixed"]
    prev, sink, selfish, broad, mix = summaries
    assert (prev.previous, prev.first, prev.own) == pytest.approx((1.0, 0.0, 0.0))
    assert prev.mean_distance == pytest.approx(1.0) and prev.entropy == pytest.approx(0.0)
    assert sink.first == pytest.approx(1.0) and selfish.own == pytest.approx(1.0)
    assert broad.entropy == pytest.approx(1.0)
    assert (mix.previous, mix.own, mix.first) == pytest.approx((0.4, 0.35, 0.25))
    with pytest.raises(engine.EngineError, match="at least 3 tokens"):
        summarize_heads(torch.ones(1, 1, 2, 2))


def test_head_summaries_of_a_real_model_cover_every_head(llama, ids):
    summaries = summarize_heads(llama.attention(ids))
    assert [(s.layer, s.head) for s in summaries] == [(l, h) for l in range(2) for h in range(4)]
    assert all(0 <= s.entropy <= 1 + 1e-6 and 0 <= s.previous <= 1 for s in summaries)


# ---- the generation stepper ------------------------------------------------------------------------------
@pytest.mark.parametrize("settings", [engine.Sampling(max_new_tokens=8),
                                      engine.Sampling(temperature=0.9, top_p=0.9, top_k=40, seed=7, max_new_tokens=8),
                                      engine.Sampling(temperature=1.2, min_p=0.05, repetition_penalty=1.3, seed=3,
                                                      max_new_tokens=8)])
def test_stepper_picks_what_generate_picks(llama, ids, settings):
    streamed = list(llama.generate(ids, settings))
    stepper = Stepper(llama, ids, settings)
    steps = []
    while not stepper.finished:
        steps.append(stepper.step())
    assert [s.chosen.id for s in steps] == [t.id for t in streamed]
    assert steps[-1].text.startswith("".join(t.text for t in streamed))  # (the loop drops an incomplete last character)
    assert steps[-1].finished in ("eos", "length")
    with pytest.raises(engine.EngineError, match="ended"):
        stepper.step()


def test_step_explains_the_settings(llama, ids):
    step = Stepper(llama, ids, engine.Sampling(temperature=0.8, top_k=3, seed=1)).step()
    assert step.kept == 3 and "top-k 3" in step.reason and "3 of" in step.reason
    kept = [c for c in step.candidates if c.adjusted > 0]
    assert len(kept) <= 3 and sum(c.adjusted for c in kept) == pytest.approx(1.0, abs=1e-5)
    assert step.chosen.adjusted > 0 and step.rank <= 3
    assert [c.prob for c in step.candidates] == sorted((c.prob for c in step.candidates), reverse=True)
    greedy = Stepper(llama, ids, engine.Sampling()).step()
    assert greedy.rank == 1 and greedy.chosen.adjusted == 1.0 and greedy.reason.startswith("greedy")


def test_cache_sizes_and_chat_reuse(llama, ids):
    c = llama.config
    per_layer = 2 * c.num_key_value_heads * c.head_dim * 4  # fp32 keys and values
    fresh = Stepper(llama, ids + [5], engine.Sampling(max_new_tokens=3))
    info = fresh.cache_info()
    assert info.bytes_per_token_per_layer == per_layer and info.bytes_per_token == per_layer * c.num_hidden_layers
    assert info.tokens == len(ids) + 1 and info.bytes_held == info.tokens * info.bytes_per_token
    assert info.context_bytes == llama.info.context_length * info.bytes_per_token
    fresh.step()
    assert fresh.cache_info().tokens == len(ids) + 2
    llama.generate(ids, engine.Sampling(max_new_tokens=4)).text()  # a chat turn fills the chat's cache
    assert Stepper(llama, ids + [5], engine.Sampling(max_new_tokens=3)).cache_info().chat_reused >= len(ids)
