"""Small random checkpoints in the real Hugging Face layout, made with transformers, for tests.

Each architecture gets a tiny config, random weights (seeded), a real `tokenizers`
tokenizer (byte-level BPE, or a Llama-style byte-fallback BPE) trained on a few lines, a
tokenizer_config.json with a chat template, and generation_config.json.
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

SPECIALS = ["<s>", "</s>", "<unk>", "<|im_start|>", "<|im_end|>"]

ARCHS = ("llama", "mistral", "qwen2", "qwen3")


def make_tokenizer(folder: Path, style: str = "bytelevel", vocab_size: int = 400, chat_template: str = CHATML):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    if style == "bytelevel":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    else:  # Llama-2 / Mistral style: metaspace with byte fallback
        tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.pre_tokenizer = None
        tok.decoder = decoders.Sequence([
            decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0),
        ])
        byte_tokens = [f"<0x{i:02X}>" for i in range(256)]
        trainer = trainers.BpeTrainer(vocab_size=vocab_size + 256, special_tokens=SPECIALS + byte_tokens,
                                      limit_alphabet=40)
    tok.train_from_iterator(TRAINING_TEXT, trainer)
    if style != "bytelevel":  # Llama-style tokenizers add BOS through their post-processor
        from tokenizers import processors

        bos = tok.token_to_id("<s>")
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)])
    tok.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": style != "bytelevel",
        "model_max_length": 256,
        "chat_template": chat_template,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return tok


def make_checkpoint(folder: Path, arch: str = "llama", tokenizer_style: str = "bytelevel", seed: int = 0,
                    dtype=None, **overrides) -> Path:
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(folder, tokenizer_style)
    vocab = tok.get_vocab_size()
    common = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, vocab_size=vocab, max_position_embeddings=256,
                  bos_token_id=tok.token_to_id("<s>"), eos_token_id=tok.token_to_id("</s>"))
    common.update({k: overrides.pop(k) for k in list(overrides) if k in common})
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
    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    with torch.no_grad():  # random init is near-uniform; widen it so greedy decoding is not all ties
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0, 0.08)
            elif "norm" not in str(p):
                pass
    if dtype is not None:
        model = model.to(dtype)
    model.save_pretrained(folder, safe_serialization=True)
    generation = {"bos_token_id": cfg.bos_token_id, "eos_token_id": cfg.eos_token_id}
    (folder / "generation_config.json").write_text(json.dumps(generation))
    return folder
