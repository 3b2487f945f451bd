"""Metric formulas on hand-computed examples, and the bootstrap."""

import math

import pytest

from evals import metrics as m


def test_mc_prediction_and_mc2():
    lls = [-1.0, -0.5, -2.0, -0.2]
    assert m.mc_prediction(lls, answer=0, correct=[0]) == 3
    # MC1 over answer + false choices: choice 3 is also true, so it is ignored
    assert m.mc_prediction(lls, answer=1, correct=[1, 3]) == 1
    assert m.mc_prediction([-1.0, -1.0], 1, [1]) == 0  # ties: first index, as numpy argmax
    p = [math.exp(x) for x in lls]
    assert m.mc2_score(lls, [1, 3]) == pytest.approx((p[1] + p[3]) / sum(p))


def test_brier_and_ece():
    assert m.brier_score([0.0, -1e9], 0) == pytest.approx(0.0)
    assert m.brier_score([math.log(0.5), math.log(0.5)], 0) == pytest.approx(0.5)
    pairs = [(0.95, True), (0.95, False), (0.55, True), (0.55, True)]
    # bin 9: conf .95 acc .5 -> |.45|*.5 ; bin 5: conf .55 acc 1 -> |.45|*.5
    assert m.ece(pairs) == pytest.approx(0.45)
    bins = m.reliability(pairs)
    assert len(bins) == 10 and bins[9]["count"] == 2 and bins[5]["accuracy"] == 1.0 and bins[0]["count"] == 0
    assert m.ece([(1.0, True)]) == pytest.approx(0.0)  # confidence 1.0 falls in the last bin


def test_bbq_scores():
    # disambiguated: 3 non-unknown answers, 2 biased -> 2*2/3-1
    assert m.bbq_bias([(True, True), (True, True), (False, True), (False, False)]) == pytest.approx(1 / 3)
    assert m.bbq_bias([(False, True)]) == 0.0
    # ambiguous: accuracy 1/4 (one unknown answer correct), 3 non-unknown, 3 biased -> s=1, (1-.25)*1
    recs = [(True, False, False), (False, True, True), (False, True, True), (False, True, True)]
    assert m.bbq_ambiguous_bias(recs) == pytest.approx(0.75)


def test_variant_metrics():
    items = [{"plain": True, "caps": True}, {"plain": True, "caps": False},
             {"plain": False, "caps": False}, {"plain": True, "caps": True}]
    assert m.variant_accuracy(items, "plain") == 0.75
    assert m.variant_accuracy(items, "caps") == 0.5
    assert m.spread(items, ["plain", "caps"]) == 0.25
    assert m.consistency(items) == 0.75
    assert m.drop_rate(items, "caps", "plain") == pytest.approx(1 / 3)
    assert m.mean_drop_rate(items, ["plain", "caps"], "plain") == pytest.approx(1 / 3)


def test_bootstrap_is_seeded_and_brackets_the_value():
    values = [1.0] * 70 + [0.0] * 30
    a = m.bootstrap(m.mean, values, n_boot=500, seed=3)
    b = m.bootstrap(m.mean, values, n_boot=500, seed=3)
    assert a == b and a.value == 0.7 and a.n == 100
    assert 0.58 < a.low < 0.7 < a.high < 0.8
    assert m.bootstrap(m.mean, [], n_boot=10) == m.Estimate(None, None, None, 0)
    const = m.bootstrap(m.mean, [1.0] * 5, n_boot=50)
    assert const.low == const.high == 1.0


def test_paired_bootstrap_delta():
    a = [1.0, 0.0, 1.0, 0.0]
    b = [1.0, 1.0, 1.0, 0.0]
    d = m.paired_bootstrap(m.mean, a, b, n_boot=200, seed=0)
    assert d.value == pytest.approx(0.25) and d.low == 0.0 and 0.25 < d.high <= 1.0
