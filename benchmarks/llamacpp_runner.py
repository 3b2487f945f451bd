"""Times llama.cpp (through llama-cpp-python) on a GGUF file, the way harness.py times glasslm.

Run by `glasslm bench --compare llama.cpp` with the Python of the separate llama.cpp virtualenv
(benchmarks/install_llamacpp.sh), never imported by glasslm: it needs only llama_cpp and the
standard library. Reads a JSON request on stdin ({"model", "prompt", "new_tokens", "repeats",
"threads"}), greedy-decodes exactly new_tokens tokens after the prompt ids (no EOS stop) and prints
one JSON line of medians: decode_tps, prefill_tps, ttft_s, and the tokens of the last run.
"""
import json
import statistics
import sys
import time


def main():
    import llama_cpp

    request = json.load(sys.stdin)
    prompt, new_tokens = request["prompt"], request["new_tokens"]
    model = llama_cpp.Llama(request["model"], n_threads=request["threads"], n_threads_batch=request["threads"],
                            n_ctx=len(prompt) + new_tokens + 8, n_batch=512, verbose=False)
    runs = {"ttft_s": [], "decode_tps": [], "prefill_tps": []}
    tokens = []
    for run in range(request["repeats"] + 1):  # the first run warms up
        model.reset()
        start = time.perf_counter()
        model.eval(prompt)
        tokens = [model.sample(temp=0.0)]
        first = time.perf_counter()
        for _ in range(new_tokens - 1):
            model.eval([tokens[-1]])
            tokens.append(model.sample(temp=0.0))
        end = time.perf_counter()
        if run:
            runs["ttft_s"].append(first - start)
            runs["prefill_tps"].append(len(prompt) / (first - start))
            runs["decode_tps"].append((new_tokens - 1) / (end - first))
    result = {key: statistics.median(values) for key, values in runs.items()}
    result["tokens"] = tokens
    result["version"] = llama_cpp.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()
