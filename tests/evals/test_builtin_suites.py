"""The four built-in suites (issue 6): format, sizes, balance, answer keys, determinism.

Plain-json checks that do not depend on the evals opener; when `evals.suite.load_suite` is
importable the files are also validated through it.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / "evals" / "suites"
IDS = ("hallucination", "bias", "prompt-sensitivity", "calibration")
# hallucination 2: the same items, scored by the answer-matching and clustering rules of issue 18
VERSIONS = {"hallucination": "2", "bias": "1", "prompt-sensitivity": "1", "calibration": "1"}
KINDS = {"multiple_choice", "generation", "minimal_pair", "self_consistency"}
BIAS_CATEGORIES = {"gender", "age", "race_ethnicity", "religion", "disability", "nationality", "socioeconomic_status"}


def read(suite: str) -> tuple[dict, list[dict]]:
    lines = (SUITES / f"{suite}.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in rows)
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def suites() -> dict[str, tuple[dict, list[dict]]]:
    return {s: read(s) for s in IDS}


def mc(items, part=None):
    return [i for i in items if i["kind"] == "multiple_choice" and (part is None or i["part"] == part)]


def check_choice_item(item: dict) -> None:
    choices, answer = item["choices"], item["answer"]
    assert isinstance(choices, list) and len(choices) >= 2, item["id"]
    assert all(isinstance(c, str) and c == c.strip() and c for c in choices), item["id"]
    assert len(set(choices)) == len(choices), item["id"]
    assert isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices), item["id"]
    correct = item.get("correct", [answer])
    assert answer in correct and len(set(correct)) == len(correct) < len(choices), item["id"]
    assert all(0 <= c < len(choices) for c in correct), item["id"]


def position_shares(items: list[dict], key=lambda i: i["answer"]) -> dict[int, float]:
    counts = Counter(key(i) for i in items)
    return {pos: n / len(items) for pos, n in counts.items()}


# ------------------------------------------------------------------------------ every suite
@pytest.mark.parametrize("suite", IDS)
def test_header_and_common_fields(suites, suite):
    head, items = suites[suite]
    assert head["suite"] == suite and head["version"] == VERSIONS[suite]
    assert set(head) == {"suite", "version", "title", "description"}
    assert head["title"].strip() and len(head["description"]) > 80
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), [x for x, n in Counter(ids).items() if n > 1]
    for item in items:
        assert isinstance(item["id"], str) and item["id"], item
        assert item["kind"] in KINDS, item["id"]
        assert isinstance(item["part"], str) and item["part"], item["id"]
        assert isinstance(item.get("category", ""), str)
        assert isinstance(item.get("metadata", {}), dict)
        if item["kind"] == "multiple_choice":
            check_choice_item(item)
            assert item["prompt"].rstrip().endswith(":"), item["id"]  # choices follow " " + choice


def test_no_repeated_questions(suites):
    for suite in ("hallucination", "calibration", "prompt-sensitivity"):
        prompts = [i["prompt"] for i in suites[suite][1] if "prompt" in i and i["part"] != "self_consistency"]
        assert len(prompts) == len(set(prompts)), suite


# ------------------------------------------------------------------------------ hallucination
def test_hallucination_parts_and_sizes(suites):
    _, items = suites["hallucination"]
    parts = Counter(i["part"] for i in items)
    assert set(parts) == {"closed_book", "made_up_entities", "self_consistency"}
    assert len(items) >= 150
    assert parts["closed_book"] >= 80 and parts["made_up_entities"] >= 50 and parts["self_consistency"] >= 25


def test_hallucination_closed_book(suites):
    items = mc(suites["hallucination"][1], "closed_book")
    assert all(len(i["choices"]) == 4 for i in items)
    multi = [i for i in items if len(i["correct"]) > 1]
    assert len(multi) >= 20  # MC2 needs items with several true choices
    assert all(len(i["correct"]) <= 2 for i in items)
    assert max(position_shares(items).values()) <= 0.40
    assert len({i["category"] for i in items}) >= 5


def test_made_up_entities_decline_rule(suites):
    items = [i for i in suites["hallucination"][1] if i["part"] == "made_up_entities"]
    assert all(i["kind"] == "generation" and i["rule"] == {"type": "abstention"} for i in items)
    per_type = Counter(i["category"] for i in items)
    assert set(per_type) == {"person", "place", "book", "event", "invention"}
    assert min(per_type.values()) >= 8
    names = [i["metadata"]["invented"] for i in items]
    assert len(set(names)) == len(names)
    # the question must mention the invented thing it is about
    for i in items:
        key = i["metadata"]["invented"].split()[-1].strip("'")
        assert key.lower() in i["prompt"].lower(), i["id"]


def test_self_consistency_items(suites):
    items = [i for i in suites["hallucination"][1] if i["part"] == "self_consistency"]
    for i in items:
        assert i["kind"] == "self_consistency"
        assert i["samples"] >= 2 and i["temperature"] > 0
        assert isinstance(i["answer"], list) and i["answer"] and all(a.strip() for a in i["answer"])


# ------------------------------------------------------------------------------ bias
def test_bias_bbq_structure(suites):
    items = mc(suites["bias"][1], "bbq")
    assert len(items) >= 200
    per_cat = Counter(i["category"] for i in items)
    assert set(per_cat) == BIAS_CATEGORIES and min(per_cat.values()) >= 25
    forms = defaultdict(set)
    for i in items:
        m = i["metadata"]
        assert len(i["choices"]) == 3
        cond, pol = m["context_condition"], m["question_polarity"]
        assert cond in ("ambig", "disambig") and pol in ("neg", "nonneg")
        t, u = m["target_index"], m["unknown_index"]
        assert len({t, u}) == 2 and 0 <= t < 3 and 0 <= u < 3
        if cond == "ambig":
            assert i["answer"] == u, i["id"]
        else:
            assert i["answer"] != u, i["id"]
            # the disambiguating sentence names the answer, and the context mentions both people
            assert i["choices"][i["answer"]].lower() in i["prompt"].lower()
        context = i["prompt"].split("\nQuestion:")[0]
        for k in range(3):
            if k != u:
                assert i["choices"][k].lower().removeprefix("the ") in context.lower(), i["id"]
        forms[m["scenario"]].add((cond, pol))
    # every scenario in both contexts and both polarities
    assert all(f == {("ambig", "neg"), ("ambig", "nonneg"), ("disambig", "neg"), ("disambig", "nonneg")}
               for f in forms.values())


def test_bias_bbq_disambiguated_answers_are_consistent(suites):
    """Within a scenario, the disambiguated neg and nonneg answers are the two different people,
    and half of each category's scenarios confirm the stereotype (so s_DIS of a perfect model is 0)."""
    items = mc(suites["bias"][1], "bbq")
    by_scenario = defaultdict(dict)
    for i in items:
        m = i["metadata"]
        if m["context_condition"] == "disambig":
            by_scenario[m["scenario"]][m["question_polarity"]] = i
    consistent = Counter()
    for scenario, pair in by_scenario.items():
        neg, nonneg = pair["neg"], pair["nonneg"]
        assert neg["choices"][neg["answer"]] != nonneg["choices"][nonneg["answer"]], scenario
        neg_is_target = neg["answer"] == neg["metadata"]["target_index"]
        assert neg_is_target == neg["metadata"]["stereotype_consistent"]
        consistent[(neg["category"], neg_is_target)] += 1
    for cat in BIAS_CATEGORIES:
        assert consistent[(cat, True)] == consistent[(cat, False)] >= 4, cat
    # a perfect model's s_DIS: share of biased answers among non-unknown ones is exactly 1/2
    biased = sum(
        (i["answer"] == i["metadata"]["target_index"]) == (i["metadata"]["question_polarity"] == "neg")
        for i in items if i["metadata"]["context_condition"] == "disambig"
    )
    assert biased * 2 == sum(1 for i in items if i["metadata"]["context_condition"] == "disambig")


def test_bias_bbq_balance(suites):
    items = mc(suites["bias"][1], "bbq")
    pol = Counter((i["category"], i["metadata"]["context_condition"], i["metadata"]["question_polarity"]) for i in items)
    for cat in BIAS_CATEGORIES:
        counts = {pol[(cat, c, p)] for c in ("ambig", "disambig") for p in ("neg", "nonneg")}
        assert len(counts) == 1, cat
    for key in (lambda i: i["answer"], lambda i: i["metadata"]["unknown_index"], lambda i: i["metadata"]["target_index"]):
        shares = position_shares(items, key)
        assert set(shares) == {0, 1, 2} and max(shares.values()) <= 0.40 and min(shares.values()) >= 0.27


def test_bias_minimal_pairs(suites):
    pairs = [i for i in suites["bias"][1] if i["part"] == "pairs"]
    assert len(pairs) >= 100 and all(i["kind"] == "minimal_pair" for i in pairs)
    per_cat = Counter(i["category"] for i in pairs)
    assert set(per_cat) == BIAS_CATEGORIES and min(per_cat.values()) >= 14
    assert len({i["more"] for i in pairs}) == len(pairs)
    for i in pairs:
        a, b = i["more"].split(), i["less"].split()
        assert a != b
        # minimal: outside one short differing span the two sentences are identical
        pre = 0
        while pre < min(len(a), len(b)) and a[pre] == b[pre]:
            pre += 1
        suf = 0
        while suf < min(len(a), len(b)) - pre and a[-1 - suf] == b[-1 - suf]:
            suf += 1
        assert len(a) - pre - suf <= 3 and len(b) - pre - suf <= 3, i["id"]
        assert i["metadata"]["target_group"] in i["more"] and i["metadata"]["other_group"] in i["less"]


# ------------------------------------------------------------------------------ prompt sensitivity
def test_prompt_sensitivity_variants(suites):
    items = suites["prompt-sensitivity"][1]
    assert len(items) >= 100
    names = [v["name"] for v in items[0]["variants"]]
    assert names[0] == "plain" and len(names) >= 8 and len(set(names)) == len(names)
    by_variant = defaultdict(list)
    for i in items:
        assert [v["name"] for v in i["variants"]] == names, i["id"]
        plain = i["variants"][0]
        assert (plain["prompt"], plain["choices"], plain["answer"]) == (i["prompt"], i["choices"], i["answer"])
        prompts = [v["prompt"] for v in i["variants"]]
        assert len(set(prompts)) == len(prompts), i["id"]  # every variant really differs
        answer_text = i["metadata"]["answer_text"]
        assert sorted(i["metadata"]["options"]) == sorted(set(i["metadata"]["options"]))
        for v in i["variants"]:
            check_choice_item(v | {"id": f"{i['id']}/{v['name']}"})
            assert len(v["choices"]) == 4
            # the answer label is written next to the answer text in this variant's prompt, and
            # every option text appears exactly once
            label = re.escape(v["choices"][v["answer"]])
            pattern = rf"(?:^|\n|\| ){label}[ .):\-]*{re.escape(answer_text)}(?=\n|$| \|)"
            assert re.search(pattern, v["prompt"]), (i["id"], v["name"])
            for opt in i["metadata"]["options"]:
                assert len(re.findall(rf"[ .)\-:]{re.escape(opt)}(?=\n|$| \|)", v["prompt"])) == 1, (i["id"], v["name"], opt)
            by_variant[v["name"]].append(v)
    for name, vs in by_variant.items():
        assert max(position_shares(vs).values()) <= 0.40, name
    # the permutation variants move the answer; the typo variant changes only the question
    assert all(a["answer"] != b["answer"] for a, b in zip(by_variant["plain"], by_variant["order_shuffled"]))
    for plain, typo in zip(by_variant["plain"], by_variant["typos"]):
        p_lines, t_lines = plain["prompt"].split("\n"), typo["prompt"].split("\n")
        assert p_lines[0] != t_lines[0] and p_lines[1:] == t_lines[1:]


# ------------------------------------------------------------------------------ calibration
def test_calibration(suites):
    items = suites["calibration"][1]
    assert len(items) >= 200 and all(i["kind"] == "multiple_choice" for i in items)
    assert all(len(i["choices"]) == 4 and i.get("correct", [i["answer"]]) == [i["answer"]] for i in items)
    assert max(position_shares(items).values()) <= 0.40
    levels = Counter(i["metadata"]["difficulty"] for i in items)
    assert set(levels) == {"easy", "medium", "hard"} and min(levels.values()) >= 40
    domains = Counter(i["category"] for i in items)
    assert len(domains) >= 5 and min(domains.values()) >= 15
    hal_ids = {i["id"] for i in suites["hallucination"][1]}
    assert not hal_ids & {i["id"] for i in items}


def test_arithmetic_answer_keys(suites):
    """Recompute every "What is X <op> Y?" item instead of trusting the tables."""
    ops = {"plus": lambda a, b: a + b, "minus": lambda a, b: a - b,
           "multiplied by": lambda a, b: a * b, "divided by": lambda a, b: a / b}
    pat = re.compile(r"What is (\d+(?:\.\d+)?) (plus|minus|multiplied by|divided by) (\d+(?:\.\d+)?)\?")
    checked = 0
    for suite in ("hallucination", "calibration", "prompt-sensitivity"):
        for i in mc(suites[suite][1]):
            m = pat.search(i["prompt"])
            if not m:
                continue
            text = i["metadata"]["answer_text"] if suite == "prompt-sensitivity" else i["choices"][i["answer"]]
            assert float(text) == ops[m.group(2)](float(m.group(1)), float(m.group(3))), i["id"]
            checked += 1
    assert checked >= 20


# ------------------------------------------------------------------------------ generator
def test_regenerating_gives_identical_bytes(tmp_path):
    from evals.suites.build import make_suites

    make_suites.write_all(tmp_path)
    for suite in IDS:
        assert (tmp_path / f"{suite}.jsonl").read_bytes() == (SUITES / f"{suite}.jsonl").read_bytes(), (
            f"{suite}.jsonl is stale: run python -m evals.suites.build.make_suites"
        )
    assert make_suites.main(["--check", "--out", str(tmp_path)]) == 0


def test_readme_beside_each_suite():
    for suite in IDS:
        text = (SUITES / f"{suite}.md").read_text(encoding="utf-8")
        assert len(text) > 1500 and "95%" in text and "Limits" in text, suite


def test_loads_through_evals_loader():
    suite_mod = pytest.importorskip("evals.suite")
    for suite in IDS:
        loaded = suite_mod.load_suite(SUITES / f"{suite}.jsonl")
        assert loaded.id == suite and len(loaded.items) == len(read(suite)[1])
    ps = suite_mod.load_suite(SUITES / "prompt-sensitivity.jsonl")
    assert ps.variant_names[0] == "plain" and len(ps.variant_names) >= 8
