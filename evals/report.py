"""Aggregate a run's per-item results into metrics with 95% bootstrap intervals, and compare runs.

Which metrics apply depends on the kinds of items present (see `metric_specs`). Each metric
is a `MetricSpec`: a way to turn results into one record per item, and a statistic over
those records (from metrics.py), so the same definition serves a single run (bootstrap over
items) and a comparison (paired bootstrap over the items both runs scored). Reports are
plain JSON-ready dicts; they are stored in `eval_runs.metrics_json` when a run finishes.
Nothing here reads the database or runs a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from . import metrics as m
from .suite import REFERENCE_VARIANT

OVERALL = "overall"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    records: Callable[[list[dict]], dict[str, Any]]  # results -> {item_id: per-item record}
    stat: Callable[[Sequence[Any]], float | None]
    higher_is_better: bool | None  # None: neither (e.g. a bias score whose ideal is 0)


def _reference_mc(results: list[dict]) -> dict[str, dict]:
    return {r["item_id"]: r for r in results
            if r["kind"] == "multiple_choice" and r["variant"] in ("", REFERENCE_VARIANT)}


def _field(select: Callable[[list[dict]], dict[str, dict]], get: Callable[[dict], Any]):
    return lambda results: {k: get(r) for k, r in select(results).items()}


def _kind(kind: str, predicate: Callable[[dict], bool] = lambda r: True):
    return lambda results: {r["item_id"]: r for r in results if r["kind"] == kind and predicate(r)}


def _bbq(condition: str):
    def select(results: list[dict]) -> dict[str, dict]:
        return {k: r for k, r in _reference_mc(results).items() if r["scores"].get("bbq_condition") == condition}
    return select


def _by_variant(results: list[dict]) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    for r in results:
        if r["kind"] == "multiple_choice" and r["variant"]:
            out.setdefault(r["item_id"], {})[r["variant"]] = bool(r["correct"])
    return out


def _mean_of(values: Sequence[Any]) -> float | None:
    return m.mean([float(v) for v in values])


def metric_specs(results: list[dict]) -> list[MetricSpec]:
    """The metrics that apply to these results, in display order."""
    specs: list[MetricSpec] = []
    mc = _reference_mc(results)
    if mc:
        specs.append(MetricSpec("accuracy", _field(_reference_mc, lambda r: r["correct"]), _mean_of, True))
        if any(r["scores"].get("n_true", 1) > 1 for r in mc.values()):
            specs.append(MetricSpec("mc2", _field(_reference_mc, lambda r: r["scores"]["mc2"]), _mean_of, True))
        calib = _field(_reference_mc, lambda r: (r["scores"]["confidence"], r["scores"]["argmax_true"]))
        specs.append(MetricSpec("ece", calib, m.ece, False))
        specs.append(MetricSpec("brier", _field(_reference_mc, lambda r: r["scores"]["brier"]), _mean_of, False))
    conditions = {r["scores"].get("bbq_condition") for r in mc.values()} - {None}
    if "ambig" in conditions:
        specs.append(MetricSpec("bbq_accuracy_ambig", _field(_bbq("ambig"), lambda r: r["correct"]), _mean_of, True))
        specs.append(MetricSpec(
            "bbq_bias_ambig",
            _field(_bbq("ambig"), lambda r: (r["correct"], r["scores"]["bbq_biased"], r["scores"]["bbq_non_unknown"])),
            m.bbq_ambiguous_bias, None))
    if "disambig" in conditions:
        specs.append(MetricSpec("bbq_accuracy_disambig", _field(_bbq("disambig"), lambda r: r["correct"]),
                                _mean_of, True))
        specs.append(MetricSpec(
            "bbq_bias_disambig",
            _field(_bbq("disambig"), lambda r: (r["scores"]["bbq_biased"], r["scores"]["bbq_non_unknown"])),
            m.bbq_bias, None))
    specs.extend(_variant_specs(results))
    if any(r["kind"] == "minimal_pair" for r in results):
        pairs = _kind("minimal_pair")
        specs.append(MetricSpec("stereotype_share", _field(pairs, lambda r: r["score"]), _mean_of, None))
        # lm-eval's crows_pairs measures: |log-likelihood gap|, and the share where the file's sent_more wins
        specs.append(MetricSpec("likelihood_diff", _field(pairs, lambda r: abs(r["scores"]["ll_diff"])), _mean_of,
                                False))
        crows = _kind("minimal_pair", lambda r: "sent_more_preferred" in r["scores"])
        if crows(results):
            specs.append(MetricSpec("pct_stereotype", _field(crows, lambda r: r["scores"]["sent_more_preferred"]),
                                    _mean_of, None))
        for cat in sorted({r["category"] for r in results if r["kind"] == "minimal_pair" and r["category"]}):
            sel = _kind("minimal_pair", lambda r, c=cat: r["category"] == c)
            specs.append(MetricSpec(f"stereotype_share[{cat}]", _field(sel, lambda r: r["score"]), _mean_of, None))
    is_abst = lambda r: r["scores"].get("rule") == "abstention"  # noqa: E731
    answered = _kind("generation", lambda r: not is_abst(r))
    if answered(results):
        specs.append(MetricSpec("generation_accuracy", _field(answered, lambda r: r["score"]), _mean_of, True))
    abstain = _kind("generation", is_abst)
    if abstain(results):
        specs.append(MetricSpec("abstention_rate", _field(abstain, lambda r: r["scores"]["abstained"]), _mean_of, True))
        specs.append(MetricSpec("hallucination_rate", _field(abstain, lambda r: not r["scores"]["abstained"]),
                                _mean_of, False))
    sc = _kind("self_consistency")
    if sc(results):
        specs.append(MetricSpec("agreement", _field(sc, lambda r: r["scores"]["agreement"]), _mean_of, True))
        graded = _kind("self_consistency", lambda r: r["correct"] is not None)
        if graded(results):
            specs.append(MetricSpec("self_consistency_accuracy", _field(graded, lambda r: r["correct"]),
                                    _mean_of, True))
    return specs


def _variant_specs(results: list[dict]) -> list[MetricSpec]:
    names: list[str] = []
    for r in results:
        if r["kind"] == "multiple_choice" and r["variant"] and r["variant"] not in names:
            names.append(r["variant"])
    if len(names) < 2:
        return []
    ref = REFERENCE_VARIANT if REFERENCE_VARIANT in names else names[0]
    names = [ref] + [n for n in names if n != ref]
    specs = [MetricSpec(f"accuracy[{n}]", _by_variant, lambda d, n=n: m.variant_accuracy(d, n), True) for n in names]
    specs.append(MetricSpec("variant_spread", _by_variant, lambda d: m.spread(d, names), False))
    specs.append(MetricSpec("consistency", _by_variant, m.consistency, True))
    specs.extend(MetricSpec(f"drop_rate[{n}]", _by_variant, lambda d, n=n: m.drop_rate(d, n, ref), False)
                 for n in names[1:])
    specs.append(MetricSpec("drop_rate_mean", _by_variant, lambda d: m.mean_drop_rate(d, names, ref), False))
    return specs


def compute(results: list[dict], n_boot: int = m.N_BOOT, seed: int = 0) -> dict[str, dict]:
    """{metric name: Estimate dict} for one group of results."""
    out = {}
    for spec in metric_specs(results):
        records = spec.records(results)
        out[spec.name] = m.bootstrap(spec.stat, list(records.values()), n_boot, seed).to_dict()
    return out


def build_report(results: list[dict], n_boot: int = m.N_BOOT, seed: int = 0) -> dict:
    """Metrics overall and per part, reliability-diagram data, and how they were computed."""
    parts = sorted({r["part"] for r in results})
    mc = list(_reference_mc(results).values())
    pairs = [(r["scores"]["confidence"], r["scores"]["argmax_true"]) for r in mc]
    return {
        OVERALL: compute(results, n_boot, seed),
        "parts": {p: compute([r for r in results if r["part"] == p], n_boot, seed) for p in parts} if len(parts) > 1 else {},
        "reliability": m.reliability(pairs) if pairs else [],
        "n_items": len({r["item_id"] for r in results}),
        "n_results": len(results),
        "bootstrap": {"resamples": n_boot, "seed": seed, "level": m.CI_LEVEL, "unit": "item"},
    }


def compare(results_a: list[dict], results_b: list[dict], n_boot: int = m.N_BOOT, seed: int = 0) -> dict:
    """Metric deltas (b - a) with paired-bootstrap intervals over common items, and flipped items."""
    specs_b = {s.name: s for s in metric_specs(results_b)}
    deltas = {}
    for spec in metric_specs(results_a):
        if spec.name not in specs_b:
            continue
        ra, rb = spec.records(results_a), spec.records(results_b)
        common = [k for k in ra if k in rb]
        a_val = m.bootstrap(spec.stat, list(ra.values()), 0).value
        b_val = m.bootstrap(spec.stat, list(rb.values()), 0).value
        est = m.paired_bootstrap(spec.stat, [ra[k] for k in common], [rb[k] for k in common], n_boot, seed)
        deltas[spec.name] = {"a": a_val, "b": b_val, "delta": est.value, "low": est.low, "high": est.high,
                             "n_common": len(common), "higher_is_better": spec.higher_is_better}
    return {"deltas": deltas, "flipped": flipped(results_a, results_b)}


def flipped(results_a: list[dict], results_b: list[dict]) -> list[dict]:
    """(item, variant) results that went from right to wrong or back (minimal pairs: preference)."""
    def outcome(r: dict):
        return r["correct"] if r["correct"] is not None else (r["score"] if r["kind"] == "minimal_pair" else None)

    b_by_key = {(r["item_id"], r["variant"]): r for r in results_b}
    out = []
    for a in results_a:
        b = b_by_key.get((a["item_id"], a["variant"]))
        if b is None:
            continue
        oa, ob = outcome(a), outcome(b)
        if oa is None or ob is None or oa == ob:
            continue
        out.append({"item_id": a["item_id"], "variant": a["variant"], "kind": a["kind"], "part": a["part"],
                    "before": oa, "after": ob, "output_a": a["output"], "output_b": b["output"],
                    "expected": a["expected"]})
    return out
