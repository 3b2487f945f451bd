"""Quantization quality bounds on the bundled (trained) model: top-1 agreement with fp32 over 512 positions."""
import pytest

import engine
from benchmarks.quant_quality import DEFAULT_TEXT, agreement


@pytest.fixture(scope="module")
def reference():
    return engine.load(None, device="cpu", precision="fp32")


@pytest.mark.parametrize("precision,bound", [("int8", 0.95), ("nf4", 0.85)])
def test_quantized_bundled_model_agrees_with_fp32(reference, precision, bound):
    candidate = engine.load(None, device="cpu", precision=precision)
    result = agreement(reference, candidate, DEFAULT_TEXT.read_text(encoding="utf-8"), positions=512)
    print(precision, result)
    assert result["positions"] == 512
    assert result["top1_agreement"] >= bound
    assert 0 < result["mean_kl"] < 0.5
