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

from .common import Fields, csv_rows_with_lines, header

COLUMNS = ("sent_more", "sent_less", "stereo_antistereo", "bias_type")


def convert(path: Path, suite_id: str) -> tuple[dict, list[dict], list[int]]:
    """(header, items, the CSV line each item came from)."""
    rows = csv_rows_with_lines(path, set(COLUMNS))
    items, lines = [], []
    for n, (line, row) in enumerate(rows):
        f = Fields(path, line, row)
        direction = f.choice("stereo_antistereo", ("stereo", "antistereo"))
        more, less = f.text("sent_more").strip(), f.text("sent_less").strip()
        bias_type = f.text("bias_type").strip()
        if direction == "antistereo":
            more, less = less, more
        if more == less:
            continue  # nothing to compare
        index = (row.get("") or "").strip() or str(n)
        items.append({"id": f"crows-{index}", "kind": "minimal_pair", "part": bias_type,
                      "category": bias_type, "more": more, "less": less,
                      "metadata": {"direction": direction, "pair_index": index}})
        lines.append(line)
    head = header(suite_id, "CrowS-Pairs", "Sentence pairs differing in the social group mentioned; "
                  "share of pairs where the stereotyped sentence is more likely.", path,
                  "https://github.com/nyu-mll/crows-pairs")
    return head, items, lines
