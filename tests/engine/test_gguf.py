"""GGUF files load as transformers' own GGUF loading reads them: logits, greedy tokens, token ids
and chat-template ids, for each architecture, both tokenizer kinds and each tensor type."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from gguf_files import write_gguf

transformers = pytest.importorskip("transformers")
pytest.importorskip("gguf")

TEXTS = ["The animal didn't cross the street because it was tired.", "Café naïve 東京 🙂 ümlauts.",
         "def add(a, b):\n    return a + b\n", "int8, nf4 and fp4: 12345 tokens"]
K_SHAPE = dict(hidden_size=256, intermediate_size=512)  # K-quant blocks hold 256 values

CASES = [  # (architecture, tokenizer style, tensor type, checkpoint overrides)
    ("llama", "bytelevel", "F32", {}),
    ("llama", "bytefallback", "F16", {}),
    ("qwen2", "bytelevel", "BF16", {}),
    ("qwen2", "bytelevel", "Q8_0", {}),
    ("qwen3", "bytelevel", "Q4_0", {"head_dim": 128}),  # transformers reads qwen3 GGUF heads as 128 wide
    ("mistral", "bytefallback", "Q4_1", {}),
    ("llama", "bytelevel", "Q5_0", {"tie_word_embeddings": True}),
    ("llama", "bytefallback", "Q5_1", {}),
    ("qwen2", "bytelevel", "Q2_K", K_SHAPE),
    ("llama", "bytelevel", "Q3_K", K_SHAPE),
    ("llama", "bytefallback", "Q4_K", K_SHAPE),
    ("llama", "bytelevel", "Q5_K", K_SHAPE),
    ("qwen3", "bytelevel", "Q6_K", {**K_SHAPE, "head_dim": 128}),
]


def _reference(folder, name):
    transformers.logging.set_verbosity_error()
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return model.eval(), tokenizer


@pytest.mark.parametrize("arch,style,kind,overrides", CASES, ids=[f"{a}-{s}-{k}" for a, s, k, _ in CASES])
def test_gguf_matches_transformers_gguf_loading(tmp_path, checkpoint_factory, arch, style, kind, overrides):
    checkpoint = checkpoint_factory(arch, style, **overrides)
    path = write_gguf(checkpoint, tmp_path / "model.gguf", kind)
    model = engine.load(path, precision="fp32")
    reference, ref_tokenizer = _reference(tmp_path, "model.gguf")
    assert model.info.source_format.startswith(f"GGUF {kind}")

    for text in TEXTS:
        ours = model.tokenizer.encode(text, add_special_tokens=True)
        theirs = ref_tokenizer(text).input_ids
        assert ours == theirs, text
    ids = model.tokenizer.encode(TEXTS[0], add_special_tokens=True)
    with torch.no_grad():
        expected = reference(torch.tensor([ids])).logits[0]
    assert (model.logits(ids)[0] - expected).abs().max().item() < 1e-3

    generated = [t.id for t in model.generate(ids, engine.Sampling(max_new_tokens=24, stop_on_eos=False))]
    with torch.no_grad():
        greedy = reference.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False, eos_token_id=None,
                                    attention_mask=torch.ones(1, len(ids), dtype=torch.long))
    assert generated == greedy[0, len(ids):].tolist()

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why attention?"}]
    if style == "bytelevel":
        chat = ref_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        chat = list(chat["input_ids"] if hasattr(chat, "keys") else chat)
    else:  # transformers drops the space sentencepiece puts after a special token (see the test below)
        original = transformers.PreTrainedTokenizerFast(tokenizer_file=str(checkpoint / "tokenizer.json"))
        chat = original(model.render_chat(messages), add_special_tokens=False).input_ids
    assert model.chat_ids(messages) == chat


def test_gguf_equals_the_folder_it_was_written_from(tmp_path, checkpoint_factory):
    """Cases transformers' GGUF reader gets wrong (qwen3's explicit head_dim, llama3 rope stored as
    rope_freqs): the engine on the GGUF equals the engine on the safetensors folder."""
    for arch, overrides in (("qwen3", {}), ("llama", {"rope_scaling": {
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 32}})):
        checkpoint = checkpoint_factory(arch, "bytelevel", **overrides)
        path = write_gguf(checkpoint, tmp_path / f"{arch}.gguf", "F32")
        from_gguf, from_folder = engine.load(path), engine.load(checkpoint)
        ids = from_folder.tokenizer.encode(" ".join(TEXTS) * 3)[:120]  # past the llama3 original context
        assert (from_gguf.logits(ids) - from_folder.logits(ids)).abs().max().item() < 1e-5
        assert from_gguf.config.head_dim == from_folder.config.head_dim


def test_sentencepiece_gguf_keeps_leading_spaces_as_sentencepiece_does(tmp_path, checkpoint_factory):
    """transformers 5's GGUF tokenizer drops a leading space and the space after a special token
    (Metaspace with prepend_scheme="first"); sentencepiece and llama.cpp keep them, and so does the
    original tokenizer.json here: we follow them."""
    checkpoint = checkpoint_factory("llama", "bytefallback")
    model = engine.load(write_gguf(checkpoint, tmp_path / "spm.gguf", "F32"))
    original = transformers.PreTrainedTokenizerFast(tokenizer_file=str(checkpoint / "tokenizer.json"))
    for text in (" leading", "two  spaces", "<|im_start|> after a special", "plain"):
        assert model.tokenizer.encode(text) == original(text, add_special_tokens=False).input_ids, text
    pieces = [model.tokenizer.token_text(i) for i in model.tokenizer.encode(" leading")]
    assert model.tokenizer.decode(model.tokenizer.encode(" leading")) == " leading"
    assert len(pieces) >= 2  # the prefix space and the text's own space both survive


def test_requantized_gguf_loads_and_generates(tmp_path, checkpoint_factory):
    checkpoint = checkpoint_factory("llama", "bytelevel")
    path = write_gguf(checkpoint, tmp_path / "q8.gguf", "Q8_0")
    float_model = engine.load(path)
    ids = float_model.tokenizer.encode(TEXTS[0])
    for precision in ("int8", "nf4", "bf16"):
        model = engine.load(path, precision=precision)
        assert model.info.precision == precision
        tokens = list(model.generate(ids, engine.Sampling(max_new_tokens=4, stop_on_eos=False)))
        assert len(tokens) == 4
        kl = torch.nn.functional.kl_div(model.logits(ids)[0].log_softmax(-1), float_model.logits(ids)[0].log_softmax(-1),
                                        log_target=True, reduction="batchmean")
        assert kl.item() < 0.05, precision


def test_folder_with_one_gguf_opens_it_and_with_several_names_them(tmp_path, checkpoint_factory):
    checkpoint = checkpoint_factory("llama", "bytelevel")
    one = tmp_path / "one"
    one.mkdir()
    write_gguf(checkpoint, one / "model-Q8_0.gguf", "Q8_0")
    assert engine.load(one).info.source_format.startswith("GGUF Q8_0")
    write_gguf(checkpoint, one / "model-F16.gguf", "F16")
    with pytest.raises(engine.ModelFormatError, match="holds 2 GGUF files .*model-F16.gguf, model-Q8_0.gguf.*choose one"):
        engine.load(one)


def test_gguf_generation_defaults_come_from_its_sampling_metadata(tmp_path, checkpoint_factory):
    checkpoint = checkpoint_factory("llama", "bytelevel")
    path = write_gguf(checkpoint, tmp_path / "s.gguf", "F32", extra_metadata={
        "general.sampling.temp": 0.6, "general.sampling.top_p": 0.9, "general.sampling.top_k": 20})
    settings = engine.load(path).default_sampling()
    assert (settings.temperature, settings.top_p, settings.top_k) == (pytest.approx(0.6), pytest.approx(0.9), 20)
    assert engine.load(write_gguf(checkpoint, tmp_path / "plain.gguf", "F32")).default_sampling() == engine.Sampling()


# ---- bad input: each is one clear EngineError ------------------------------------------------

def test_not_a_gguf_file(tmp_path):
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 this is a zip")
    with pytest.raises(engine.ModelFormatError, match="is not a GGUF file"):
        engine.load(bad)


def test_truncated_gguf(tmp_path, checkpoint_factory):
    path = write_gguf(checkpoint_factory("llama", "bytelevel"), tmp_path / "m.gguf", "F32")
    data = path.read_bytes()
    for cut in (10, 2000, len(data) - 100):
        short = tmp_path / f"cut{cut}.gguf"
        short.write_bytes(data[:cut])
        with pytest.raises(engine.ModelFormatError, match="truncated"):
            engine.load(short)


def test_unsupported_architecture_lists_the_supported(tmp_path):
    import gguf

    path = tmp_path / "falcon.gguf"
    writer = gguf.GGUFWriter(str(path), "falcon")
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    _finish(writer)
    with pytest.raises(engine.UnsupportedModelError, match="'falcon' model; glasslm reads GGUF architectures llama, qwen2"):
        engine.load(path)


def test_unsupported_tensor_type_names_tensor_and_type(tmp_path, checkpoint_factory):
    import gguf

    checkpoint = checkpoint_factory("llama", "bytelevel", hidden_size=256, intermediate_size=512)
    path = write_gguf(checkpoint, tmp_path / "m.gguf", "F32")
    reader = gguf.GGUFReader(str(path))
    out = tmp_path / "iq.gguf"
    writer = gguf.GGUFWriter(str(out), "llama")
    for tensor in reader.tensors:
        if tensor.name == "blk.0.attn_q.weight":  # IQ4_NL: 18 bytes per 32 values
            blocks = np.zeros((256, 256 // 32 * 18), dtype=np.uint8)
            writer.add_tensor(tensor.name, blocks, raw_dtype=gguf.GGMLQuantizationType.IQ4_NL)
        else:
            writer.add_tensor(tensor.name, np.array(tensor.data))
    _finish(writer)
    with pytest.raises(engine.UnsupportedModelError, match="blk.0.attn_q.weight .* type IQ4_NL.*supported types: F32"):
        engine.load(out)


def test_missing_tensor_and_wrong_shape(tmp_path, checkpoint_factory):
    checkpoint = checkpoint_factory("llama", "bytelevel")
    missing = write_gguf(checkpoint, tmp_path / "missing.gguf", "F32", skip_tensors=("blk.1.ffn_up.weight",))
    with pytest.raises(engine.ModelFormatError, match="missing tensor model.layers.1.mlp.up_proj.weight"):
        engine.load(missing)
    wrong = write_gguf(checkpoint, tmp_path / "wrong.gguf", "F32",
                       extra_metadata={"llama.feed_forward_length": 96})
    with pytest.raises(engine.ModelFormatError, match="has shape .* but its metadata implies"):
        engine.load(wrong)


def test_missing_tokenizer_metadata(tmp_path, checkpoint_factory):
    path = write_gguf(checkpoint_factory("llama", "bytelevel"), tmp_path / "m.gguf", "F32", omit_tokenizer=True)
    with pytest.raises(engine.ModelFormatError, match="no tokenizer metadata"):
        engine.load(path)


def test_missing_hyperparameter(tmp_path):
    import gguf

    path = tmp_path / "bare.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    _finish(writer)
    with pytest.raises(engine.ModelFormatError, match="no llama.embedding_length metadata"):
        engine.load(path)


def _finish(writer):
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
