"""The benchmark commands run end to end on a tiny checkpoint and print their tables (no speed is asserted)."""
import re

from benchmarks import gemv_floor
from benchmarks.__main__ import main as bench_main


def test_bench_prints_both_implementations_and_the_ratio(checkpoint_factory, capsys):
    path = checkpoint_factory("llama")
    assert bench_main(["bench", "--model", str(path), "--precision", "fp32,nf4,int4", "--prompt-tokens", "8",
                       "--new-tokens", "6", "--repeats", "1", "--compare-hf"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"memory bandwidth \(tensor copy\): [\d.]+ GB/s", out)
    for precision in ("fp32", "nf4"):
        ours = re.search(rf"^\| {precision} \| glasslm \| ([\d.]+) \| (\d+) \| ([\d.]+) \| (\d+)% \| (\d+) \| "
                         r"([\d.]+)x decode, ([\d.]+)x first token \|$", out, re.M)
        assert ours and float(ours.group(1)) > 0, out
        assert re.search(rf"^\| {precision} \| transformers \| ([\d.]+) \|", out, re.M), out
    # int4 has no transformers path: it is compared with transformers' 4-bit, bitsandbytes nf4
    assert re.search(r"^\| int4 \| glasslm \| [\d.]+ \| \d+ \| [\d.]+ \| \d+% \| \d+ \| [\d.]+x decode", out, re.M), out
    assert len(re.findall(r"^\| nf4 \| transformers \|", out, re.M)) == 2, out


def test_floors_print_decode_and_prefill(checkpoint_factory, capsys):
    gemv_floor.main(["--model", str(checkpoint_factory("llama")), "--prompt-tokens", "16", "--repeats", "5"])
    out = capsys.readouterr().out
    assert re.search(r"decode floor, 1 thread\(s\): 9 matmuls", out), out  # 2 layers x 4 stacked + output
    assert re.search(r"prefill floor, \d+ thread\(s\), 16 tokens: 9 matmuls, [\d.]+ GFLOP", out), out


def test_bench_refuses_bad_arguments_in_one_line(capsys):
    assert bench_main(["bench", "--random", "hidden=x"]) == 2
    assert bench_main(["bench", "--new-tokens", "1"]) == 2
    err = capsys.readouterr().err
    assert "'hidden=x': use a known shape name" in err and "--new-tokens must be at least 2" in err
    assert "Traceback" not in err
