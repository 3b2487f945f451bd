"""Writing a trained model as a Hugging Face folder that transformers and `engine.load` both read.

Files: config.json (model_type llama, both rope spellings), model.safetensors (bfloat16 by
default, tensor names = the Transformer's state-dict keys), tokenizer.json,
tokenizer_config.json (bos/eos, add_bos_token, the chat template) and generation_config.json.
It does not train and does not load models back.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

from ..safe_write import call_writer, make_folder, replacing
from .chat_format import BOS_TOKEN, CHAT_TEMPLATE, EOS_TOKEN, PAD_TOKEN
from .recipe import ModelShape

DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}


def hf_config(shape: ModelShape, tokenizer: Tokenizer, dtype: str = "bfloat16") -> dict:
    """config.json contents; also what the Transformer is built from, so training and export agree."""
    rope = {"rope_type": "default", "rope_theta": shape.rope_theta}
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": tokenizer.get_vocab_size(with_added_tokens=True),
        "hidden_size": shape.hidden_size,
        "intermediate_size": shape.intermediate_size,
        "num_hidden_layers": shape.num_layers,
        "num_attention_heads": shape.num_heads,
        "num_key_value_heads": shape.num_kv_heads,
        "head_dim": shape.hidden_size // shape.num_heads,
        "max_position_embeddings": shape.context_length,
        "hidden_act": "silu",
        "rms_norm_eps": shape.rms_norm_eps,
        "rope_parameters": rope,  # transformers 5 spelling
        "rope_theta": shape.rope_theta,  # transformers 4 spelling
        "rope_scaling": None,
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "tie_word_embeddings": shape.tie_embeddings,
        "initializer_range": 0.02,
        "bos_token_id": tokenizer.token_to_id(BOS_TOKEN),
        "eos_token_id": tokenizer.token_to_id(EOS_TOKEN),
        "pad_token_id": tokenizer.token_to_id(PAD_TOKEN),
        "use_cache": True,
        "torch_dtype": dtype,  # transformers 4 spelling
        "dtype": dtype,  # transformers 5 spelling
    }


def tokenizer_config(context_length: int) -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS_TOKEN,
        "eos_token": EOS_TOKEN,
        "pad_token": PAD_TOKEN,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": context_length,
        "chat_template": CHAT_TEMPLATE,
    }


def generation_config(tokenizer: Tokenizer) -> dict:
    return {
        "bos_token_id": tokenizer.token_to_id(BOS_TOKEN),
        "eos_token_id": tokenizer.token_to_id(EOS_TOKEN),
        "pad_token_id": tokenizer.token_to_id(PAD_TOKEN),
        "do_sample": True,
        "temperature": 0.8,
        "top_p": 0.95,
        "repetition_penalty": 1.1,
        "max_new_tokens": 200,
    }


def export_model(state_dict: dict, config: dict, tokenizer: Tokenizer, out_dir: Path) -> Path:
    """Write the folder. `state_dict` holds the Transformer's tensors; they are cast to config['dtype'].

    Every file is first written in full to a temporary file; only when all five are written are
    they renamed into place, so a full disk or an error leaves the folder as it was (no half
    safetensors file, no new config beside old weights). Never writes over an SQLite file.
    """
    out_dir = make_folder(out_dir, "output folder")
    dtype = DTYPES[config["dtype"]]
    tensors = {name: t.detach().to(dtype).contiguous() for name, t in state_dict.items()}
    texts = {
        "config.json": _json(config),
        "tokenizer_config.json": _json(tokenizer_config(config["max_position_embeddings"])),
        "generation_config.json": _json(generation_config(tokenizer)),
    }
    with contextlib.ExitStack() as files:  # each file is renamed into place as the stack closes
        tmp = files.enter_context(replacing(out_dir / "model.safetensors"))
        call_writer(lambda path: save_file(tensors, str(path), metadata={"format": "pt"}), tmp,
                    out_dir / "model.safetensors")
        tmp = files.enter_context(replacing(out_dir / "tokenizer.json"))
        call_writer(lambda path: tokenizer.save(str(path)), tmp, out_dir / "tokenizer.json")
        for name, text in texts.items():
            tmp = files.enter_context(replacing(out_dir / name))
            tmp.write_text(text, encoding="utf-8")
    return out_dir


def _json(obj: dict) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
