"""Tests of engine/train: a tiny training run, the exported folder against transformers and
engine.load, resuming from a checkpoint, the chat format, and the shipped default model."""
from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.config import ModelConfig
from engine.train import chat_format, data, register
from engine.train.export import hf_config
from engine.train.pipeline import run_recipe
from engine.train.recipe import TINY
from engine.train.tokenizer_trainer import train_tokenizer
from engine.train.trainer import BEST, Trainer, build_model, lr_at

FIXTURE_CORPUS = Path(__file__).parent / "fixtures" / "train_corpus"
SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "models" / "bard-mini"
CHATS = [
    [{"role": "user", "content": "What light through yonder window breaks?"}],
    [
        {"role": "system", "content": "A room in the castle."},
        {"role": "user", "content": "Who goes there?"},
        {"role": "assistant", "content": "Nay, answer me: stand, and unfold yourself."},
        {"role": "user", "content": "Long live the king!"},
    ],
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One TINY training run on the fixture texts: (summary, model folder, log lines)."""
    root = tmp_path_factory.mktemp("tiny")
    recipe = replace(TINY, train=replace(TINY.train, eval_every=10))
    lines: list[str] = []
    summary = run_recipe(recipe, [FIXTURE_CORPUS], root / "work", root / "model", log=lines.append)
    return summary, root / "model", lines


def test_validation_loss_falls(tiny_run):
    summary, _, lines = tiny_run
    val_losses = [float(m.group(1)) for line in lines if (m := re.search(r"val loss ([0-9.]+) \|", line))]
    assert len(val_losses) == TINY.train.steps // 10
    assert val_losses[-1] < val_losses[0]
    assert summary["val_loss"] < math.log(TINY.shape.vocab_size) - 0.5  # well below uniform guessing
    assert summary["steps"] == TINY.train.steps


def test_export_writes_hugging_face_layout(tiny_run):
    _, folder, _ = tiny_run
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "generation_config.json"):
        assert (folder / name).is_file(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert config["rope_parameters"] == {"rope_type": "default", "rope_theta": 10000.0}
    assert config["rope_theta"] == 10000.0
    assert config["dtype"] == config["torch_dtype"] == "bfloat16"
    ModelConfig.from_dict(config)
    tok_config = json.loads((folder / "tokenizer_config.json").read_text())
    assert tok_config["bos_token"] == "<|bos|>" and tok_config["eos_token"] == "<|eos|>"
    assert tok_config["add_bos_token"] is True
    assert tok_config["chat_template"] == chat_format.CHAT_TEMPLATE


def test_transformers_and_engine_agree_on_exported_model(tiny_run):
    transformers = pytest.importorskip("transformers")
    import engine

    _, folder, _ = tiny_run
    hf_model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    hf_tok = transformers.AutoTokenizer.from_pretrained(folder)
    ours = engine.load(folder, device="cpu", precision="fp32")
    try:
        text = "Fair is foul, and foul is fair:\nHover through the fog and filthy air."
        ids = hf_tok(text)["input_ids"]
        assert ids == ours.tokenizer.encode(text, add_special_tokens=True)
        assert ids[0] == ours.tokenizer.bos_id
        assert hf_tok.decode(ids[1:]) == text == ours.tokenizer.decode(ids[1:])
        input_ids = torch.tensor([ids])  # (1, T)
        with torch.no_grad():
            expected = hf_model(input_ids).logits  # (1, T, V)
        torch.testing.assert_close(ours.logits(input_ids), expected, atol=1e-4, rtol=1e-4)
        for messages in CHATS:
            rendered = hf_tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            assert rendered == chat_format.render(messages, add_generation_prompt=True)
            assert rendered == ours.render_chat(messages, add_generation_prompt=True)
    finally:
        ours.close()


def test_chat_template_reads_as_a_scene():
    rendered = chat_format.render(CHATS[1], add_generation_prompt=True)
    assert rendered == (
        "<|bos|>[A room in the castle.]\n\n"
        "QUESTIONER.\nWho goes there?\n\n"
        "BARD.\nNay, answer me: stand, and unfold yourself.<|eos|>\n\n"
        "QUESTIONER.\nLong live the king!\n\n"
        "BARD.\n"
    )


def test_dialogue_becomes_chat_exchanges():
    doc = data.Document("scene.txt", "FIRST WITCH.\nWhere hast thou been, sister?\n\n"
                                     "SECOND WITCH.\nKilling swine.\n\n[Exeunt.]\n")
    assert data.speeches(doc.text) == [("FIRST WITCH", "Where hast thou been, sister?"),
                                       ("SECOND WITCH", "Killing swine.")]
    (chat,) = data.chat_exchanges(doc, fraction=1.0, seed=0)
    assert chat.endswith("BARD.\nKilling swine.<|eos|>")
    assert "QUESTIONER.\nWhere hast thou been, sister?" in chat


def test_split_holds_out_whole_documents():
    docs = data.read_corpus([FIXTURE_CORPUS])
    split = data.split_documents(docs, val_fraction=0.2, seed=1)
    assert split.val and split.train
    assert {d.name for d in split.val}.isdisjoint(d.name for d in split.train)
    assert len(split.val) + len(split.train) == len(docs)


def test_resume_continues_at_the_right_step(tmp_path):
    docs = data.read_corpus([FIXTURE_CORPUS])
    tokenizer = train_tokenizer([d.text for d in docs], TINY.shape.vocab_size)
    stream = data.token_stream(docs, tokenizer, chat_fraction=0.0, seed=0)  # (N,)
    T = TINY.shape.context_length
    val = data.fixed_batches(stream, 4, T, max_batches=1)
    settings = replace(TINY.train, steps=6, checkpoint_every=100, eval_every=3)
    config = hf_config(TINY.shape, tokenizer)

    straight = Trainer(build_model(config, 0), settings, stream, val, tmp_path / "straight")
    straight.run()

    first = Trainer(build_model(config, 0), settings, stream, val, tmp_path / "paused")
    assert first.run(until=3).step == 3
    lines: list[str] = []
    second = Trainer(build_model(config, 99), settings, stream, val, tmp_path / "paused", log=lines.append)
    assert second.resume()
    assert second.result.step == 3
    assert any("at step 3" in line for line in lines)
    result = second.run()
    assert result.step == 6 and result.tokens_seen == 6 * settings.batch_size * T
    for name, tensor in straight.model.state_dict().items():
        torch.testing.assert_close(second.model.state_dict()[name], tensor, msg=name)


def test_schedule_warms_up_then_decays_by_steps_or_by_the_clock():
    s = replace(TINY.train, steps=100, warmup_steps=10, lr=1.0, min_lr_ratio=0.1)
    assert lr_at(5, s) == pytest.approx(0.5)
    assert lr_at(10, s) == pytest.approx(1.0)
    assert lr_at(55, s) == pytest.approx(0.55)
    assert lr_at(100, s) == pytest.approx(0.1)
    timed = replace(s, max_minutes=10.0)
    assert lr_at(20, timed, elapsed_s=0.0) == pytest.approx(lr_at(20, s))
    assert lr_at(20, timed, elapsed_s=600.0) == pytest.approx(0.1)  # the clock ran out first


def test_time_budget_stops_early_and_keeps_the_best_weights(tmp_path):
    docs = data.read_corpus([FIXTURE_CORPUS])
    tokenizer = train_tokenizer([d.text for d in docs], TINY.shape.vocab_size)
    stream = data.token_stream(docs, tokenizer, chat_fraction=0.0, seed=0)  # (N,)
    val = data.fixed_batches(stream, 4, TINY.shape.context_length, max_batches=1)
    settings = replace(TINY.train, steps=1000, max_minutes=1e-6)
    trainer = Trainer(build_model(hf_config(TINY.shape, tokenizer), 0), settings, stream, val, tmp_path)
    result = trainer.run()
    assert result.stopped_early and result.step == 1
    assert (tmp_path / BEST).exists()


def test_register_adds_train_subcommand(tmp_path):
    parser = argparse.ArgumentParser(prog="glasslm")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "--corpus", str(tmp_path), "--out", "o", "--work", "w", "--steps", "5"])
    assert args.command == "train" and args.steps == 5 and args.recipe == "bard-mini" and callable(args.handler)


def test_shipped_model_is_complete_and_small():
    names = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
             "generation_config.json", "README.md")
    for name in names:
        assert (SHIPPED / name).is_file(), f"assets/models/bard-mini/{name} is missing"
    total = sum(p.stat().st_size for p in SHIPPED.iterdir() if p.is_file())
    assert total <= 30 * 1024 * 1024
    raw = json.loads((SHIPPED / "config.json").read_text())
    config = ModelConfig.from_dict(raw)
    assert config.model_type == "llama" and config.tie_word_embeddings
    tok_config = json.loads((SHIPPED / "tokenizer_config.json").read_text())
    assert tok_config["chat_template"] == chat_format.CHAT_TEMPLATE


def test_shipped_model_loads_and_chats_as_a_scene():
    import engine

    model = engine.load(SHIPPED, device="cpu", precision="fp32")
    try:
        assert model.info.n_params < 25_000_000
        messages = [{"role": "user", "content": "What news?"}]
        assert model.render_chat(messages) == "<|bos|>QUESTIONER.\nWhat news?\n\nBARD.\n"
        reply = "".join(t.text for t in model.chat(messages, engine.Sampling(max_new_tokens=8)))
        assert reply.strip()
    finally:
        model.close()
