"""BBQ (Parrish et al. 2022) -> a multiple-choice suite with bias metadata.

Reads the published per-category JSON-lines files (`data/Age.jsonl`, ...; or several
concatenated): example_id, question_polarity, context_condition, category, answer_info
{"ans0": [text, group], ...}, additional_metadata {"stereotyped_groups": [...]}, context,
question, ans0..ans2, label. Each example becomes one item in part = its category, prompt
"{context}\\n\\nQ: {question}\\nA:", the three answers as choices. The metadata carries
what the bias scores need:

- unknown_index: the answer whose answer_info group is "unknown";
- target_index: the non-unknown answer whose group belongs to the stereotyped groups (as
  lm-eval derives the biased answers: groups split on "_", intersectional labels such as
  "M-Black" or "lowSES-African" split into parts, "man"/"woman"/"boy"/"girl" tagged M/F,
  compared lowercase); null when none matches; target_indices when several do.

A "biased" answer is then the target in a negative question and the other non-unknown
answer in a non-negative one.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetImportError
from .common import Fields, header, json_records_with_lines, read_text

REQUIRED = ("example_id", "question_polarity", "context_condition", "category", "answer_info",
            "additional_metadata", "context", "question", "ans0", "ans1", "ans2", "label")
RENAMES = (("M-", "M_"), ("F-", "F_"), ("lowSES-", "lowSES_"), ("highSES-", "highSES_"),
           ("lowSES", "low SES"), ("highSES", "high SES"), ("nonObese", "non Obese"),
           ("nonDisabled", "non Disabled"), ("nonTrans", "non Trans"))


def groups(answer_info: list[str], answer_text: str) -> list[str]:
    """The lowercase group labels of one answer (its answer_info entry, split into parts)."""
    label = "_".join(a for a in answer_info if a) if any(answer_info) else ("Latino" if "Latina" in answer_text else "")
    for old, new in RENAMES:
        label = label.replace(old, new)
    if "woman" in label:
        label = label.replace("woman", "F_woman")
    elif "man" in label:
        label = label.replace("man", "M_man")
    label = label.replace("girl", "F_girl").replace("boy", "M_boy")
    return [g for g in label.lower().split("_") if g]


def target_indices(doc: dict) -> tuple[list[int], int]:
    """(indexes of the stereotyped-group answers, index of the unknown answer)."""
    stereotyped = {g.lower() for g in doc["additional_metadata"].get("stereotyped_groups", [])}
    targets, unknown = [], None
    for i in range(3):
        g = groups(list(doc["answer_info"].get(f"ans{i}", [])), doc[f"ans{i}"])
        if g and g[-1] == "unknown":
            unknown = i
        elif stereotyped & set(g):
            targets.append(i)
    if unknown is None:
        raise DatasetImportError(f"BBQ example {doc['example_id']} ({doc['category']}) has no 'unknown' answer in answer_info")
    return targets, unknown


def _checked(f: Fields) -> dict:
    """The fields the conversion reads, type-checked (errors name the file, line and field)."""
    missing = [k for k in REQUIRED if not f.has(k)]
    if missing:
        raise f.error(f"missing {', '.join(missing)}; is this a BBQ data file?")
    doc = {"example_id": f.ident("example_id"), "category": f.text("category").strip(),
           "question_polarity": f.choice("question_polarity", ("neg", "nonneg")),
           "context_condition": f.choice("context_condition", ("ambig", "disambig")),
           "context": f.text("context"), "question": f.text("question"), "label": f.index("label", 3),
           "question_index": f.record.get("question_index")}
    for i in range(3):
        doc[f"ans{i}"] = f.text(f"ans{i}")
    info = f.obj("answer_info")
    for key, value in info.items():
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise f.error(f"'answer_info.{key}' must be a list of strings, not {value!r}")
    doc["answer_info"] = info
    meta = f.obj("additional_metadata")
    groups_ = meta.get("stereotyped_groups", [])
    if not isinstance(groups_, list) or not all(isinstance(g, str) for g in groups_):
        raise f.error(f"'additional_metadata.stereotyped_groups' must be a list of strings, not {groups_!r}")
    subcategory = meta.get("subcategory")
    doc["additional_metadata"] = {"stereotyped_groups": groups_,
                                  "subcategory": subcategory if isinstance(subcategory, str) else None}
    return doc


def convert(path: Path, suite_id: str) -> tuple[dict, list[dict], list[int]]:
    """(header, items, the line of the BBQ file each item came from)."""
    records = json_records_with_lines(path, read_text(path))
    if records is None:
        raise DatasetImportError(f"{path.name} is not JSON lines; give a BBQ data file such as data/Age.jsonl")
    items, lines = [], []
    for line, record in records:
        f = Fields(path, line, record)
        doc = _checked(f)
        try:
            targets, unknown = target_indices(doc)
        except DatasetImportError as exc:
            raise f.error(f"{exc}; fix or delete that row") from None
        meta = {"context_condition": doc["context_condition"], "question_polarity": doc["question_polarity"],
                "target_index": targets[0] if targets else None, "unknown_index": unknown,
                "example_id": record["example_id"], "question_index": doc.get("question_index"),
                "stereotyped_groups": doc["additional_metadata"]["stereotyped_groups"],
                "subcategory": doc["additional_metadata"]["subcategory"]}
        if len(targets) > 1:
            meta["target_indices"] = targets
        items.append({"id": f"bbq-{doc['category']}-{doc['example_id']}", "kind": "multiple_choice",
                      "part": doc["category"], "category": doc["category"],
                      "prompt": f"{doc['context'].strip()}\n\nQ: {doc['question'].strip()}\nA:",
                      "choices": [doc["ans0"], doc["ans1"], doc["ans2"]], "answer": doc["label"],
                      "metadata": meta})
        lines.append(line)
    head = header(suite_id, "BBQ (bias benchmark for QA)",
                  "Ambiguous and disambiguated questions about social groups; accuracy and bias scores s_DIS, s_AMB.",
                  path, "https://github.com/nyu-mll/BBQ")
    return head, items, lines
