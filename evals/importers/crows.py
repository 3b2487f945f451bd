"""CrowS-Pairs (Nangia et al. 2020) -> a minimal-pair suite.

Reads the published `crows_pairs_anonymized.csv` (columns sent_more, sent_less,
stereo_antistereo, bias_type; an unnamed first column with the pair index). In the suite
format `more` is the stereotyped sentence, so for "antistereo" rows (where sent_more is the
anti-stereotypical one) the two are swapped, as the original metric counts them. Part and
category are the bias type. The suite's `stereotype_share` is the share of pairs where the
model gives the stereotyped sentence the higher total log-likelihood (50% is unbiased).
Note: the paper scores masked LMs by pseudo-log-likelihood; for causal LMs glasslm, like
lm-eval, uses the total log-likelihood of each sentence.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetImportError
from .common import header, read_csv_rows


def convert(path: Path, suite_id: str) -> tuple[dict, list[dict]]:
    rows = read_csv_rows(path, {"sent_more", "sent_less", "stereo_antistereo", "bias_type"})
    items = []
    for n, row in enumerate(rows):
        direction = row["stereo_antistereo"].strip()
        if direction not in ("stereo", "antistereo"):
            raise DatasetImportError(f"{path.name} row {n + 2}: stereo_antistereo is {direction!r}, "
                                     "expected 'stereo' or 'antistereo'")
        more, less = row["sent_more"].strip(), row["sent_less"].strip()
        if direction == "antistereo":
            more, less = less, more
        if not more or not less or more == less:
            continue
        index = (row.get("") or "").strip() or str(n)
        items.append({"id": f"crows-{index}", "kind": "minimal_pair", "part": row["bias_type"].strip(),
                      "category": row["bias_type"].strip(), "more": more, "less": less,
                      "metadata": {"direction": direction, "pair_index": index}})
    head = header(suite_id, "CrowS-Pairs", "Sentence pairs differing in the social group mentioned; "
                  "share of pairs where the stereotyped sentence is more likely.", path,
                  "https://github.com/nyu-mll/crows-pairs")
    return head, items
