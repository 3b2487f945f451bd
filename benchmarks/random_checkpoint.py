"""Write a random-weight checkpoint of a given Llama shape in the Hugging Face layout, for benchmarks."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class LlamaShape:
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 6
    num_key_value_heads: int = 2
    intermediate_size: int = 1024
    vocab_size: int = 8192
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False

    @classmethod
    def parse(cls, text: str) -> "LlamaShape":
        """'hidden=384,layers=6,heads=6,kv=2,inter=1024,vocab=8192'"""
        names = {"hidden": "hidden_size", "layers": "num_hidden_layers", "heads": "num_attention_heads",
                 "kv": "num_key_value_heads", "inter": "intermediate_size", "vocab": "vocab_size",
                 "context": "max_position_embeddings"}
        values = {}
        for part in filter(None, text.split(",")):
            key, _, value = part.partition("=")
            field = names.get(key.strip(), key.strip())
            if field not in cls.__dataclass_fields__ or not value.strip().isdigit():
                raise ValueError(f"{part.strip()!r}: use a known shape name or name=number pairs with "
                                 f"{', '.join(names)}")
            values[field] = int(value)
        return cls(**values)


SHAPES = {
    "llama-16m": LlamaShape(),
    # SmolLM2-135M-Instruct's shape (the default model), for machines the 98 MB GGUF cannot be carried to
    "smollm2-135m": LlamaShape(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                               intermediate_size=1536, vocab_size=49152, max_position_embeddings=8192,
                               tie_word_embeddings=True),
    "llama-3.2-1b": LlamaShape(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                               intermediate_size=8192, vocab_size=128256, max_position_embeddings=4096,
                               tie_word_embeddings=True),
}


def write_random_llama(folder: Path, shape: LlamaShape, dtype=torch.float32, seed: int = 0) -> Path:
    from safetensors.torch import save_file
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders

    from engine.config import ModelConfig
    from engine.transformer import Transformer

    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "llama", "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "bos_token_id": 1,
              "eos_token_id": 2, "torch_dtype": str(dtype).replace("torch.", ""), "architectures": ["LlamaForCausalLM"],
              **asdict(shape)}
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    with torch.device("meta"):
        shapes = {n: p.shape for n, p in Transformer(ModelConfig.from_dict(config)).named_parameters()}
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, size in shapes.items():
        if "norm" in name:
            tensors[name] = torch.ones(size, dtype=dtype)
        else:
            tensors[name] = (torch.randn(size, generator=generator) * 0.02).to(dtype)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    # A byte-level tokenizer whose vocabulary fills the model's: bytes first, then filler tokens.
    vocab = {"<0>": 0, "<1>": 1, "<2>": 2}
    for char in pre_tokenizers.ByteLevel.alphabet():
        vocab[char] = len(vocab)
    while len(vocab) < shape.vocab_size:
        vocab[f"<{len(vocab)}>"] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<1>", "eos_token": "<2>",
                                                             "tokenizer_class": "PreTrainedTokenizerFast"}))
    return folder
