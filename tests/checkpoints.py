"""Small random checkpoints in the real Hugging Face layout, made with transformers, for tests.

Each architecture gets a tiny config, random weights (seeded), a real `tokenizers`
tokenizer (byte-level BPE, a Llama-style byte-fallback BPE, or Gemma's byte-fallback BPE without
a prefix space) trained on a few lines, a tokenizer_config.json with a chat template (the real
template of Gemma 2, Gemma 3, Phi-3.5 and GPT-2's legacy one for those architectures), and
generation_config.json. Gemma 2/3, Phi-3 and GPT-2 get every parameter randomised (norm gains and
biases too), so the (1 + weight) norms and the biases are exercised.
"""
from __future__ import annotations

import json
from pathlib import Path

TRAINING_TEXT = [
    "The animal didn't cross the street because it was tired.",
    "Attention lets every token look at every other token.",
    "Quantization stores weights in fewer bits: int8, nf4, fp4.",
    "Café, naïve, jalapeño, 東京, Ελληνικά, emoji 🙂 and ümlauts.",
    "To be, or not to be, that is the question.",
    "def add(a, b):\n    return a + b\n",
] * 4

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
LLAMA_STYLE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ '<<SYS>>\n' + message['content'] | trim + '\n<</SYS>>\n\n' }}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' + message['content'] | trim + ' [/INST]' }}"
    "{% else %}{{ ' ' + message['content'] | trim + eos_token }}{% endif %}{% endfor %}"
)

# google/gemma-2-2b-it's template (tokenizer_config.json)
GEMMA2_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
    "{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}"
    "{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}"
)
# google/gemma-3-1b-it's template (tokenizer_config.json): the system prompt joins the first user turn
GEMMA3_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n'}}\n"
    "{%- endif -%}\n"
)
# microsoft/Phi-3.5-mini-instruct's template (tokenizer_config.json)
PHI3_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}"
    "{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}"
    "{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}"
    "{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)
# GPT-2 ships no template; this is the default transformers gave GPT2Tokenizer (until 4.43), which
# GPT-2 chat fine-tunes (DialoGPT and others) were trained with: turns joined by <|endoftext|>
GPT2_TEMPLATE = "{% for message in messages %}{{ message.content }}{{ eos_token }}{% endfor %}"

SPECIALS = ["<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>"]
# Gemma's specials in Gemma's order (pad 0, eos 1, bos 2, unk 3)
GEMMA_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>", "<end_of_turn>"]
PHI3_SPECIALS = ["<unk>", "<s>", "</s>", "<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
GPT2_SPECIALS = ["<|endoftext|>"]

ARCHS = ("llama", "mistral", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "gpt2")

# LongRoPE factor lists for 8 rotated pairs (head size 16), and for 4 (partial rotary 0.5)
SHORT = [1.0, 1.0, 1.05, 1.1, 1.2, 1.3, 1.5, 1.7]
LONG = [1.0, 1.2, 1.6, 2.2, 3.0, 4.5, 6.0, 8.0]


def longrope(original, short=SHORT, long=LONG):
    return {"rope_scaling": {"type": "longrope", "short_factor": short, "long_factor": long},
            "original_max_position_embeddings": original}


# Gemma 2, Gemma 3, Phi-3 and GPT-2 configurations checked against transformers (tests/engine/
# test_parity_architectures.py, benchmarks/parity_report.py)
ARCHITECTURE_VARIANTS = [
    # Gemma 2: sliding window 16 on even layers (shorter than the test sequences); soft-capping at transformers'
    # defaults (50, 30), strong enough to bend the scores (2, 3), and off
    ("gemma2", {}),
    ("gemma2", {"attn_logit_softcapping": 2.0, "final_logit_softcapping": 3.0}),
    ("gemma2", {"attn_logit_softcapping": None, "final_logit_softcapping": None}),
    ("gemma2", {"num_key_value_heads": 1, "query_pre_attn_scalar": 24, "num_hidden_layers": 3, "legacy": True}),
    # Gemma 3: sliding, sliding, global; local rope base 10k, global 1M; linear rope scaling on global layers
    # (Gemma 3 4B's); the 4.x spelling with sliding_window_pattern; final soft-capping; a window of 7
    ("gemma3", {}),
    ("gemma3", {"rope_scaling": {"rope_type": "linear", "factor": 8.0}}),
    ("gemma3", {"num_hidden_layers": 4, "sliding_window_pattern": 4, "rope_local_base_freq": 500.0,
                "rope_scaling": {"rope_type": "linear", "factor": 4.0}, "legacy": True}),
    ("gemma3", {"sliding_window": 7, "final_logit_softcapping": 5.0, "num_key_value_heads": 4}),
    # Phi-3: plain; LongRoPE with the sequence crossing original_max_position_embeddings (32: the 48-token
    # forward uses the long factors, greedy decoding crosses it; 64: short factors, greedy crosses);
    # a sliding window; partial rotary with a tied head (Phi-4-mini's layout); the 4.x spelling
    ("phi3", {}),
    ("phi3", longrope(32)),
    ("phi3", longrope(64)),
    ("phi3", {"sliding_window": 24}),
    ("phi3", {"partial_rotary_factor": 0.5, "tie_word_embeddings": True,
              **longrope(32, SHORT[::2], LONG[::2])}),
    ("phi3", {**longrope(40), "legacy": True}),
    # GPT-2: tied head; a context just past the tests' sequences and a wider stream (heads of 24);
    # an untied head; attention scaled by layer (GPT-2 options) with exact GELU; openai-community/gpt2's
    # file layout (no "transformer." prefix, mask buffers saved)
    ("gpt2", {}),
    ("gpt2", {"n_positions": 80, "n_embd": 96}),
    ("gpt2", {"tie_word_embeddings": False}),
    ("gpt2", {"scale_attn_by_inverse_layer_idx": True, "reorder_and_upcast_attn": True,
              "activation_function": "gelu"}),
    ("gpt2", {"legacy": True}),
]

# per architecture: tokenizer style, specials, (bos, eos, unk), chat template
TOKENIZERS = {
    "gemma2": ("gemma", GEMMA_SPECIALS, ("<bos>", "<eos>", "<unk>"), GEMMA2_TEMPLATE),
    "gemma3": ("gemma", GEMMA_SPECIALS, ("<bos>", "<eos>", "<unk>"), GEMMA3_TEMPLATE),
    "phi3": ("bytefallback", PHI3_SPECIALS, ("<s>", "<|endoftext|>", "<unk>"), PHI3_TEMPLATE),
    "gpt2": ("bytelevel", GPT2_SPECIALS, ("<|endoftext|>",) * 3, GPT2_TEMPLATE),
}


def make_tokenizer(folder: Path, style: str = "bytelevel", vocab_size: int = 400, chat_template: str = CHATML,
                   specials: list[str] = SPECIALS, bos: str = "<s>", eos: str = "</s>", unk: str = "<unk>",
                   limit_alphabet: int | None = 40):
    """limit_alphabet (byte-fallback styles): None trains the same tokenizer every run (a limit breaks ties
    between equally frequent characters differently from run to run)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    if style == "bytelevel":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:  # Llama-2 / Mistral style: metaspace with byte fallback; Gemma's adds no prefix space
        tok = Tokenizer(models.BPE(byte_fallback=True, unk_token=unk, fuse_unk=True))
        if style == "gemma":
            tok.normalizer = normalizers.Replace(" ", "▁")
            tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
        else:
            tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
            tok.decoder = decoders.Sequence([
                decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0),
            ])
        tok.pre_tokenizer = None
        byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
        limit = {} if limit_alphabet is None else {"limit_alphabet": limit_alphabet}
        trainer = trainers.BpeTrainer(vocab_size=vocab_size + 256, special_tokens=specials + byte_tokens, **limit)
    tok.train_from_iterator(TRAINING_TEXT, trainer)
    if style != "bytelevel":  # Llama-style tokenizers add BOS through their post-processor
        from tokenizers import processors

        bos_id = tok.token_to_id(bos)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)])
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": bos, "eos_token": eos, "unk_token": unk,
        "add_bos_token": style != "bytelevel",
        "model_max_length": 256,
        "chat_template": chat_template,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return tok


def make_checkpoint(folder: Path, arch: str = "llama", tokenizer_style: str = "bytelevel", seed: int = 0,
                    dtype=None, **overrides) -> Path:
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    legacy = overrides.pop("legacy", False)  # rewrite config.json (and GPT-2's tensor names) as older files spell them
    if arch in TOKENIZERS:
        style, specials, (bos, eos, unk), template = TOKENIZERS[arch]
        tok = make_tokenizer(folder, style, chat_template=template, specials=specials, bos=bos, eos=eos, unk=unk,
                             limit_alphabet=None)  # the same checkpoint every run
    else:
        bos, eos = "<s>", "</s>"
        tok = make_tokenizer(folder, tokenizer_style)
    vocab = tok.get_vocab_size()
    common = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=vocab, max_position_embeddings=256,
                  bos_token_id=tok.token_to_id(bos), eos_token_id=tok.token_to_id(eos))
    if arch == "gpt2":
        _save(folder, _gpt2_config(common, overrides), seed, dtype, randomise_all=True)
        return _legacy_gpt2_file(folder) if legacy else folder
    common.update({k: overrides.pop(k) for k in list(overrides) if k in common})
    if arch in ("gemma2", "gemma3", "phi3"):
        _save(folder, _new_arch_config(arch, common, overrides), seed, dtype, randomise_all=True)
        return _legacy_config(folder) if legacy else folder
    if arch == "llama":
        cfg = transformers.LlamaConfig(**common, **overrides)
    elif arch == "mistral":
        cfg = transformers.MistralConfig(**{**common, "sliding_window": 4096, **overrides})
    elif arch == "qwen2":
        cfg = transformers.Qwen2Config(**common, **overrides)
    elif arch == "qwen3":
        cfg = transformers.Qwen3Config(**{**common, "head_dim": 24, **overrides})
    else:
        raise ValueError(arch)
    return _save(folder, cfg, seed, dtype)


def _new_arch_config(arch: str, common: dict, overrides: dict):
    """Gemma 2, Gemma 3 (text) and Phi-3 configs: head size 16, and a sliding window of 16 (Gemma) so the
    tests' sequences cross it; Gemma 3 gets three layers (two sliding, one global)."""
    import transformers

    if arch == "gemma2":
        return transformers.Gemma2Config(**{**common, "head_dim": 16, "query_pre_attn_scalar": 16,
                                            "sliding_window": 16, **overrides})
    if arch == "gemma3":
        base = {**common, "num_hidden_layers": 3, "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 16,
                "layer_types": ["sliding_attention", "sliding_attention", "full_attention"]}
        if "num_hidden_layers" in overrides and "layer_types" not in overrides:
            base.pop("layer_types")
        return transformers.Gemma3TextConfig(**{**base, **overrides})
    return transformers.Phi3Config(**{**common, "pad_token_id": None, **overrides})


def _legacy_config(folder: Path) -> Path:
    """config.json as transformers 4.x wrote it: rope_theta/rope_scaling (Gemma 3: rope_local_base_freq and
    sliding_window_pattern) instead of rope_parameters and layer_types."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    rope = config.pop("rope_parameters")
    if config["model_type"] == "gemma3_text":
        global_rope, local_rope = rope["full_attention"], rope["sliding_attention"]
        config["rope_theta"] = global_rope.pop("rope_theta")
        config["rope_local_base_freq"] = local_rope["rope_theta"]
        config["rope_scaling"] = global_rope if global_rope.get("rope_type", "default") != "default" else None
        config["sliding_window_pattern"] = config.pop("_sliding_window_pattern")
    else:
        config["rope_theta"] = rope.pop("rope_theta")
        config["partial_rotary_factor"] = rope.pop("partial_rotary_factor", 1.0)
        rope.pop("original_max_position_embeddings", None)
        kind = rope.pop("rope_type", "default")
        rope.pop("type", None)
        config["rope_scaling"] = {"type": kind, **rope} if kind != "default" else None
    config.pop("layer_types", None)
    path.write_text(json.dumps(config))
    return folder


def _legacy_gpt2_file(folder: Path) -> Path:
    """model.safetensors as openai-community/gpt2 stores it: no "transformer." prefix, and each block's
    causal-mask buffers (attn.bias, attn.masked_bias) saved beside the weights."""
    import torch
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    tensors = {name.removeprefix("transformer."): t for name, t in load_file(path).items()}
    config = json.loads((folder / "config.json").read_text())
    positions = config["n_positions"]
    for i in range(config["n_layer"]):
        tensors[f"h.{i}.attn.bias"] = torch.ones(positions, positions).tril().view(1, 1, positions, positions)
        tensors[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(tensors, path, metadata={"format": "pt"})
    return folder


def _gpt2_config(common: dict, overrides: dict):
    import transformers

    names = {"hidden_size": "n_embd", "num_hidden_layers": "n_layer", "num_attention_heads": "n_head",
             "max_position_embeddings": "n_positions"}
    base = {names.get(k, k): v for k, v in common.items()
            if k not in ("intermediate_size", "num_key_value_heads")}
    return transformers.GPT2Config(**{**base, **overrides})


WIDE_STD = 0.15
EMBED_STD = 0.02


def _save(folder: Path, cfg, seed: int, dtype, randomise_all: bool = False) -> Path:
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    with torch.no_grad():  # random init is near-uniform; widen it so greedy decoding is not all ties
        for name, p in model.named_parameters():
            if p.dim() > 1 and randomise_all and "embed_tokens" in name:
                p.normal_(0, EMBED_STD)  # small, or Gemma's scaled tied embedding drowns the layers out
            elif p.dim() > 1:
                p.normal_(0, 0.08 if not randomise_all else WIDE_STD)
            elif randomise_all and ("norm" in name or "ln_" in name):
                p.add_(torch.randn_like(p) * 0.1)  # gains away from 1 (Gemma's from 0: its norms scale by 1 + w)
            elif randomise_all:
                p.normal_(0, 0.02)  # biases
    if dtype is not None:
        model = model.to(dtype)
    model.save_pretrained(folder, safe_serialization=True)
    generation = {"bos_token_id": cfg.bos_token_id, "eos_token_id": cfg.eos_token_id}
    (folder / "generation_config.json").write_text(json.dumps(generation))
    return folder
