"""Loading nf4 streams tensors: peak memory stays near the quantized size, never the full model."""
import json
import subprocess
import sys
import textwrap

import torch

from checkpoints import make_tokenizer

CONFIG = dict(model_type="llama", vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
              num_attention_heads=12, num_key_value_heads=4, max_position_embeddings=512, tie_word_embeddings=True,
              rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=1)

MEASURE = textwrap.dedent("""
    import json, resource, sys
    import engine, engine.quantize
    engine.quantize.bnb()
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) * 1024
    before = rss()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model = engine.load(sys.argv[1], device="cpu", precision="nf4")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"before": before, "peak_before": peak_before, "peak": peak,
                      "weights": model.memory()["weights_bytes"], "params": model.info.n_params}))
""")


def write_random_checkpoint(folder):
    from safetensors.torch import save_file

    from engine.config import ModelConfig
    from engine.transformer import Transformer

    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    make_tokenizer(folder)
    with torch.device("meta"):
        shapes = {n: p.shape for n, p in Transformer(ModelConfig.from_dict(CONFIG)).named_parameters()}
    generator = torch.Generator().manual_seed(0)
    tensors = {n: (torch.randn(s, generator=generator) * 0.02).to(torch.bfloat16) for n, s in shapes.items()}
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    largest_fp32 = max(t.numel() for t in tensors.values()) * 4
    return sum(t.numel() for t in tensors.values()), largest_fp32


def test_nf4_load_peak_memory_stays_below_quantized_size_plus_largest_layer(tmp_path):
    n_params, largest_layer = write_random_checkpoint(tmp_path / "big")
    assert 90e6 < n_params < 120e6
    out = subprocess.run([sys.executable, "-c", MEASURE, str(tmp_path / "big")], capture_output=True, text=True,
                         check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    growth = result["peak"] - max(result["before"], result["peak_before"])
    bound = 1.2 * (result["weights"] + largest_layer)
    full_precision = n_params * 4
    print(f"nf4 load: peak growth {growth / 2**20:.0f} MiB, bound {bound / 2**20:.0f} MiB, "
          f"quantized weights {result['weights'] / 2**20:.0f} MiB, fp32 model {full_precision / 2**20:.0f} MiB")
    assert growth < bound
    assert growth < full_precision


CAPPED = textwrap.dedent("""
    import resource, sys
    import engine
    def vm_size():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize"):
                return int(line.split()[1]) * 1024
    cap = vm_size() + 150 * 2**20  # room for well under the 382 MiB an fp32 load needs
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        engine.load(sys.argv[1], device="cpu", precision="fp32")
    except engine.OutOfMemoryError as err:
        print("OOM:", err)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        model = engine.load(sys.argv[1], device="cpu", precision="nf4")  # the process is still usable
        print("then nf4 loaded:", model.info.precision)
""")


def test_out_of_memory_while_loading_is_a_clear_error_with_sizes(tmp_path):
    write_random_checkpoint(tmp_path / "big")
    out = subprocess.run([sys.executable, "-c", CAPPED, str(tmp_path / "big")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "OOM: the model did not fit in cpu memory" in out.stdout
    assert "nf4 ~" in out.stdout and "choose a smaller precision" in out.stdout
    assert "then nf4 loaded: nf4" in out.stdout
    assert "Traceback" not in out.stderr
