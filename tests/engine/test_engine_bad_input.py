"""Every error a user can cause while loading or prompting gives one clear EngineError."""
import json
import shutil

import pytest
import torch

import engine


@pytest.fixture
def model_copy(checkpoint_factory, tmp_path):
    source = checkpoint_factory("llama")
    target = tmp_path / "model"
    shutil.copytree(source, target)
    return target


def test_missing_folder(tmp_path):
    with pytest.raises(engine.ModelFormatError, match="does not exist"):
        engine.load(tmp_path / "nope")


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(engine.ModelFormatError, match="config.json"):
        engine.load(tmp_path)


def test_missing_weights_file(model_copy):
    (model_copy / "model.safetensors").unlink()
    with pytest.raises(engine.ModelFormatError, match="no model.safetensors"):
        engine.load(model_copy)


def test_pickle_only_weights_are_refused_with_reason(model_copy):
    (model_copy / "model.safetensors").rename(model_copy / "pytorch_model.bin")
    with pytest.raises(engine.ModelFormatError, match="arbitrary code"):
        engine.load(model_copy)


def test_corrupt_safetensors_header(model_copy):
    path = model_copy / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[8:20] = b"not json at "
    path.write_bytes(bytes(data))
    with pytest.raises(engine.ModelFormatError, match="corrupt safetensors header"):
        engine.load(model_copy)


def test_truncated_shard(model_copy):
    from safetensors.torch import load_file, save_file

    weights = load_file(model_copy / "model.safetensors")
    names = sorted(weights)
    half = len(names) // 2
    (model_copy / "model.safetensors").unlink()
    save_file({n: weights[n] for n in names[:half]}, model_copy / "model-00001-of-00002.safetensors")
    save_file({n: weights[n] for n in names[half:]}, model_copy / "model-00002-of-00002.safetensors")
    index = {"weight_map": {n: f"model-0000{1 if i < half else 2}-of-00002.safetensors" for i, n in enumerate(names)}}
    (model_copy / "model.safetensors.index.json").write_text(json.dumps(index))
    engine.load(model_copy, device="cpu", precision="fp32")  # the sharded folder loads
    shard = model_copy / "model-00002-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(engine.ModelFormatError, match="truncated"):
        engine.load(model_copy)
    shard.unlink()
    with pytest.raises(engine.ModelFormatError, match="missing shard"):
        engine.load(model_copy)


def test_unknown_model_type_lists_supported(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["model_type"] = "falcon"
    (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(engine.UnsupportedModelError, match="llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3, gpt2"):
        engine.load(model_copy)


def test_shape_that_disagrees_with_config_names_the_tensor(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["intermediate_size"] = 96
    (model_copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(engine.ModelFormatError, match=r"model\.layers\.0\.mlp\.(down|gate|up)_proj\.weight"):
        engine.load(model_copy)


def test_missing_tensor_is_named(model_copy):
    from safetensors.torch import load_file, save_file

    weights = load_file(model_copy / "model.safetensors")
    del weights["model.layers.1.self_attn.k_proj.weight"]
    save_file(weights, model_copy / "model.safetensors")
    with pytest.raises(engine.ModelFormatError, match=r"model\.layers\.1\.self_attn\.k_proj\.weight"):
        engine.load(model_copy)


def test_prompt_longer_than_context(checkpoint_factory):
    model = engine.load(checkpoint_factory("llama"), device="cpu", precision="fp32")
    too_long = [5] * (model.info.context_length + 1)
    with pytest.raises(engine.PromptTooLongError, match="context window is 256"):
        list(model.generate(too_long, engine.Sampling(max_new_tokens=4)))
    with pytest.raises(engine.PromptTooLongError):
        model.logits(torch.tensor([too_long]))
    stream = model.generate(too_long, engine.Sampling(max_new_tokens=4), truncate=True)
    assert len(list(stream)) == 4
    assert stream.stats.truncated_prompt_tokens == len(too_long) - model.info.context_length // 2


def test_generation_that_reaches_the_context_end_says_so(checkpoint_factory):
    model = engine.load(checkpoint_factory("llama"), device="cpu", precision="fp32")
    prompt = [5] * (model.info.context_length - 3)
    stream = model.generate(prompt, engine.Sampling(max_new_tokens=50, stop_on_eos=False))
    assert len(list(stream)) == 3
    assert stream.stats.stop_reason == "context"


def test_bad_device_and_precision(checkpoint_factory):
    path = checkpoint_factory("llama")
    with pytest.raises(engine.PrecisionError, match="available: auto, fp32"):
        engine.load(path, precision="int3")
    if not torch.cuda.is_available():
        with pytest.raises(engine.DeviceError, match="no usable CUDA"):
            engine.load(path, device="cuda")
    with pytest.raises(engine.DeviceError, match="unknown device"):
        engine.load(path, device="tpu")


def test_a_closed_model_says_so(checkpoint_factory):
    model = engine.load(checkpoint_factory("llama"), device="cpu", precision="fp32")
    prompt = model.tokenizer.encode("To be")
    model.close()
    for call in (lambda: list(model.generate(prompt)), lambda: model.logits([prompt]), lambda: model.memory(),
                 lambda: model.attention(prompt)):
        with pytest.raises(engine.EngineError, match="closed"):
            call()


def test_tokenizer_json_padding_and_truncation_never_apply(tmp_path, checkpoint_factory):
    """Fine-tuners' tokenizer.json files often store padding and truncation settings; transformers'
    fast tokenizer never applies them to one text, and neither may glasslm."""
    import json
    import shutil

    import transformers

    folder = tmp_path / "padded"
    shutil.copytree(checkpoint_factory("llama", "bytelevel"), folder)
    data = json.loads((folder / "tokenizer.json").read_text())
    pad_id = data["model"]["vocab"].get("</s>", 1)
    data["padding"] = {"strategy": {"Fixed": 64}, "direction": "Right", "pad_to_multiple_of": None,
                       "pad_id": pad_id, "pad_type_id": 0, "pad_token": "</s>"}
    data["truncation"] = {"direction": "Right", "max_length": 5, "strategy": "LongestFirst", "stride": 0}
    (folder / "tokenizer.json").write_text(json.dumps(data))
    model = engine.load(folder)
    text = "The animal didn't cross the street because it was tired."
    reference = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    ids = model.tokenizer.encode(text)
    assert ids == reference(text, add_special_tokens=False).input_ids
    assert 5 < len(ids) < 64


# ---- broken model folders: each case one clear EngineError (issue: reliability, item 5) -------

def _write(path, text):
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("case,match", [
    ("config_list", "config.json is not a JSON object"),
    ("hidden_abc", "wrong type or value"),
    ("config_dir", "is a folder, not a file"),
    ("weights_dir", "is a folder, not a weights file"),
    ("index_list", "no valid weight_map"),
    ("index_escape", "no valid weight_map"),
    ("tokenizer_config_list", "tokenizer_config.json is not a JSON object"),
    ("generation_config_list", "generation_config.json is not a JSON object"),
    ("eos_text", "is not a token id"),
])
def test_broken_model_folder_is_one_clear_error(model_copy, case, match):
    config = json.loads((model_copy / "config.json").read_text())
    if case == "config_list":
        _write(model_copy / "config.json", "[1, 2, 3]")
    elif case == "hidden_abc":
        _write(model_copy / "config.json", json.dumps({**config, "hidden_size": "abc"}))
    elif case == "config_dir":
        (model_copy / "config.json").unlink()
        (model_copy / "config.json").mkdir()
    elif case == "weights_dir":
        (model_copy / "model.safetensors").unlink()
        (model_copy / "model.safetensors").mkdir()
    elif case == "index_list":
        _write(model_copy / "model.safetensors.index.json", "[]")
    elif case == "index_escape":
        _write(model_copy / "model.safetensors.index.json", json.dumps({"weight_map": {"a": "../../etc/passwd"}}))
    elif case == "tokenizer_config_list":
        _write(model_copy / "tokenizer_config.json", '["x"]')
    elif case == "generation_config_list":
        _write(model_copy / "generation_config.json", "[]")
    elif case == "eos_text":
        _write(model_copy / "generation_config.json", json.dumps({"eos_token_id": "two"}))
    with pytest.raises(engine.EngineError, match=match):
        engine.load(model_copy)


@pytest.mark.parametrize("case,match", [
    ("number", "is not text"),
    ("list_of_strings", "has no chat template"),
    ("not_utf8", "is not UTF-8"),
    ("bad_json", "chat_template.json is not valid JSON"),
    ("divide", "failed while rendering .*ZeroDivisionError"),
    ("add", "failed while rendering .*TypeError"),
    ("syntax", "syntax error"),
])
def test_broken_chat_template_fails_chat_only(model_copy, case, match):
    tokenizer_config = json.loads((model_copy / "tokenizer_config.json").read_text())
    if case == "number":
        tokenizer_config["chat_template"] = 42
    elif case == "list_of_strings":
        tokenizer_config["chat_template"] = ["{{ 'a' }}", "{{ 'b' }}"]
    elif case in ("not_utf8",):
        (model_copy / "chat_template.jinja").write_bytes(b"{{ '\xff\xfe' }}")
    elif case == "bad_json":
        tokenizer_config.pop("chat_template")
        _write(model_copy / "chat_template.json", "{not json")
    elif case == "divide":
        tokenizer_config["chat_template"] = "{{ 1/0 }}"
    elif case == "add":
        tokenizer_config["chat_template"] = "{{ 'a' + 1 }}"
    elif case == "syntax":
        tokenizer_config["chat_template"] = "{% for %}"
    _write(model_copy / "tokenizer_config.json", json.dumps(tokenizer_config))
    model = engine.load(model_copy)  # loading never fails on the template
    ids = model.tokenizer.encode("To be")
    assert len(list(model.generate(ids, engine.Sampling(max_new_tokens=3, stop_on_eos=False)))) == 3
    with pytest.raises(engine.EngineError, match=match):
        model.chat([{"role": "user", "content": "hi"}])


def test_tokenizer_larger_than_the_embedding_is_refused(model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    from safetensors.torch import load_file, save_file

    weights = load_file(model_copy / "model.safetensors")
    cut = config["vocab_size"] - 10
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        if name in weights:
            weights[name] = weights[name][:cut].contiguous()
    save_file(weights, model_copy / "model.safetensors")
    _write(model_copy / "config.json", json.dumps({**config, "vocab_size": cut}))
    with pytest.raises(engine.ModelFormatError, match="tokenizer has .* tokens but the model's embedding has only"):
        engine.load(model_copy)


def test_nan_weights_are_refused_at_load(model_copy):
    from safetensors.torch import load_file, save_file

    weights = load_file(model_copy / "model.safetensors")
    weights["model.layers.0.mlp.down_proj.weight"][0, 0] = float("nan")
    save_file(weights, model_copy / "model.safetensors")
    with pytest.raises(engine.ModelFormatError, match="down_proj.weight holds NaN"):
        engine.load(model_copy)


def test_nan_scores_while_sampling_are_one_clear_error(checkpoint_factory):
    model = engine.load(checkpoint_factory("llama"))
    with torch.no_grad():
        model.network.model.norm.weight.fill_(float("nan"))  # as fp16 overflow would leave them
    ids = model.tokenizer.encode("To be")
    for settings in (engine.Sampling(max_new_tokens=3), engine.Sampling(max_new_tokens=3, temperature=0.8, seed=1)):
        with pytest.raises(engine.EngineError, match="NaN or infinite scores at generated token 1"):
            list(model.generate(ids, settings))
