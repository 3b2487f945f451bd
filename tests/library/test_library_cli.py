"""`glasslm models` and `glasslm pull` through the real entry point (desktop.cli.main), in a
temporary HOME, against LocalHub through HF_ENDPOINT: tables, JSON, added folders, exit codes,
one-line errors, and what HF_HUB_OFFLINE does."""
from __future__ import annotations

import json

from desktop.cli import main
from local_hub import HubRepo
from model_files import checkpoint_files, hf_cache_repo, ollama_model, write_gguf


def test_glasslm_models_lists_adds_and_removes(home, capsys, checkpoint_factory):
    hf_cache_repo(home / ".cache" / "huggingface" / "hub", "acme/tiny-llama", checkpoint_files(checkpoint_factory("llama")))
    write_gguf(home / ".lmstudio" / "models" / "pub" / "Tiny-GGUF" / "tiny.Q8_0.gguf")
    ollama_model(home / ".ollama" / "models", write_gguf(home / "src" / "o.gguf", tensor_type="F16"), "tiny", "1b")
    mine = home / "mine"
    write_gguf(mine / "extra.gguf", arch="bert")
    capsys.readouterr()  # what making the checkpoint printed

    assert main(["models", "--add", str(mine)]) == 0
    out, err = capsys.readouterr()
    assert err == f"added {mine}\n"
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SOURCE", "FORMAT", "ARCH", "PARAMS", "QUANT", "SIZE", "CONTEXT", "OPENS", "PATH"]
    rows = {line.split()[0]: line for line in lines[1:] if line and not line.startswith(("Added", "Not listed", " "))}
    assert {"bard-mini", "acme/tiny-llama", "pub/Tiny-GGUF/tiny.Q8_0.gguf", "tiny:1b", "extra.gguf"} <= set(rows)
    assert rows["tiny:1b"].split()[1:4] == ["ollama", "gguf", "llama"] and " F16 " in rows["tiny:1b"]
    assert "no: architecture bert not supported" in rows["extra.gguf"]
    assert lines[-1] == f"Added folders: {mine}"

    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    by_name = {m["name"]: m for m in listed["models"]}
    assert by_name["acme/tiny-llama"]["source"] == "hf-cache" and by_name["acme/tiny-llama"]["can_open"] is True
    assert listed["folders"] == [str(mine)]

    assert main(["models", "--remove", str(mine), "--json"]) == 0
    assert "extra.gguf" not in {m["name"] for m in json.loads(capsys.readouterr().out)["models"]}
    assert main(["models", "--remove", str(mine)]) == 2
    assert capsys.readouterr().err == f"glasslm: error: {mine} is not one of the added folders (added: none)\n"


def test_glasslm_pull_through_hf_endpoint(home, hub, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    q4 = write_gguf(home / "src" / "a.gguf", tensor_type="Q4_0").read_bytes()
    q8 = write_gguf(home / "src" / "b.gguf").read_bytes()
    hub.add(HubRepo("acme/tiny-GGUF", {"tiny.Q4_0.gguf": q4, "tiny.Q8_0.gguf": q8}))

    assert main(["pull", "acme/tiny-GGUF"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("glasslm: error: acme/tiny-GGUF holds 2 GGUF files; choose one with --file NAME:\n")
    assert "  tiny.Q8_0.gguf  (" in err and "Traceback" not in err

    assert main(["pull", "acme/tiny-GGUF", "--file", "tiny.Q8_0.gguf"]) == 0
    out, err = capsys.readouterr()
    path = out.strip()
    assert path.endswith("/snapshots/" + HubRepo("acme/tiny-GGUF", {}).commit + "/tiny.Q8_0.gguf")
    assert f"open it with: glasslm chat --model {path}" in err
    assert open(path, "rb").read() == q8

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.log.clear()
    assert main(["pull", "acme/tiny-GGUF", "--file", "tiny.Q8_0.gguf"]) == 0
    assert capsys.readouterr().out.startswith("acme/tiny-GGUF is already in the cache (HF_HUB_OFFLINE is set)")
    assert main(["pull", "acme/other"]) == 2
    assert capsys.readouterr().err.startswith("glasslm: error: HF_HUB_OFFLINE is set, so nothing is downloaded")
    assert hub.log == []
