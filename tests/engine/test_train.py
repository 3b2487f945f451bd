"""Tests of engine/train: a tiny training run, the exported folder against transformers and
engine.load, resuming from a checkpoint, the chat format, and the shipped default model."""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from engine.config import ModelConfig
from engine.train import chat_format, data, register
from engine.safe_write import FileWriteError
from engine.train.export import export_model, hf_config
from engine.train.pipeline import run_recipe
from engine.train.recipe import TINY
from engine.train.tokenizer_trainer import train_tokenizer
from engine.train.trainer import BEST, CHECKPOINT, CheckpointError, Trainer, build_model, lr_at
from faults import file_size_limit

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


def _small_trainer(folder, seed=0, **overrides):
    docs = data.read_corpus([FIXTURE_CORPUS])
    tokenizer = train_tokenizer([d.text for d in docs], TINY.shape.vocab_size)
    stream = data.token_stream(docs, tokenizer, chat_fraction=0.0, seed=0)  # (N,)
    val = data.fixed_batches(stream, 4, TINY.shape.context_length, max_batches=1)
    settings = replace(TINY.train, **{"steps": 2, "checkpoint_every": 100, "eval_every": 2, **overrides})
    config = hf_config(TINY.shape, tokenizer)
    return Trainer(build_model(config, seed), settings, stream, val, folder), config, tokenizer


def test_checkpoints_load_with_weights_only(tmp_path):
    trainer, _, _ = _small_trainer(tmp_path)
    trainer.run()
    for name in (CHECKPOINT, BEST):
        state = torch.load(tmp_path / name, map_location="cpu", weights_only=True)  # raises if any object is pickled
        assert "model" in state
    assert sorted(p.name for p in tmp_path.iterdir()) == [BEST, CHECKPOINT]  # no temporary files left


def test_a_checkpoint_that_would_run_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "code-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"model": Payload(), "optimizer": {}, "result": {}, "generator": 0, "torch_rng": 0},
               tmp_path / CHECKPOINT)
    trainer, _, _ = _small_trainer(tmp_path)
    with pytest.raises(CheckpointError, match="could run code.*--fresh"):
        trainer.resume()
    assert not marker.exists()


@pytest.mark.parametrize("content, message", [
    (b"", "damaged or not a training checkpoint"),
    (b"not a checkpoint at all", "damaged or not a training checkpoint"),
    ("dict-without-keys", "lacks model, optimizer"),
    ("wrong-shapes", "does not fit this model"),
])
def test_a_damaged_or_foreign_checkpoint_is_one_message(tmp_path, content, message):
    if content == "dict-without-keys":
        torch.save({"weights": torch.zeros(2)}, tmp_path / CHECKPOINT)
    elif content == "wrong-shapes":
        other, _, _ = _small_trainer(tmp_path / "other")
        state = {"model": {"x": torch.zeros(2)}, "optimizer": other.optimizer.state_dict(),
                 "result": {"step": 1, "best_val_loss": 1.0, "best_step": 1, "tokens_seen": 1, "elapsed_s": 0.0,
                            "stopped_early": False},
                 "generator": other.generator.get_state(), "torch_rng": torch.get_rng_state()}
        torch.save(state, tmp_path / CHECKPOINT)
    else:
        (tmp_path / CHECKPOINT).write_bytes(content)
    trainer, _, _ = _small_trainer(tmp_path)
    with pytest.raises(CheckpointError, match=message):
        trainer.resume()


def test_a_failed_export_leaves_the_model_folder_as_it_was(tmp_path):
    trainer, config, tokenizer = _small_trainer(tmp_path / "work")
    out = tmp_path / "model"
    export_model(trainer.model.state_dict(), config, tokenizer, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    shrunk = {k: v[:1].clone() if v.dim() else v for k, v in trainer.model.state_dict().items()}
    error = None
    with file_size_limit(4096):  # the safetensors file cannot be written in full
        try:
            export_model(shrunk, {**config, "hidden_size": 1}, tokenizer, out)
        except FileWriteError as err:
            error = err
    assert error is not None and "cannot write" in str(error)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # every file unchanged, no temporary ones


def test_export_never_writes_over_an_sqlite_file(tmp_path):
    import sqlite3

    trainer, config, tokenizer = _small_trainer(tmp_path / "work")
    out = tmp_path / "model"
    out.mkdir()
    sqlite3.connect(out / "config.json").execute("CREATE TABLE t (x)").connection.close()
    before = (out / "config.json").read_bytes()
    with pytest.raises(FileWriteError, match="SQLite"):
        export_model(trainer.model.state_dict(), config, tokenizer, out)
    assert (out / "config.json").read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["config.json"]


@pytest.mark.parametrize("argv, message", [
    (["--out", ""], "argument --out: is empty"),
    (["--work", ""], "argument --work: is empty"),
    (["--steps", "0"], "--steps must be between 1"),
    (["--batch-size", "-1"], "--batch-size must be between 1"),
    (["--steps", "99999999999999999999999"], "--steps must be between 1"),
    (["--max-minutes", "nan"], "--max-minutes must be a positive number"),
])
def test_bad_train_flags_are_one_line_before_any_work(tmp_path, capsys, argv, message):
    from engine.train.cli import main

    base = {"--corpus": str(FIXTURE_CORPUS), "--out": str(tmp_path / "out"), "--work": str(tmp_path / "work")}
    flags = dict(zip(argv[::2], argv[1::2]))
    args = [x for k, v in {**base, **flags}.items() for x in (k, v)]
    with pytest.raises(SystemExit) if "argument" in message else contextlib.nullcontext():
        assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "work").exists() and not (tmp_path / "out").exists()
