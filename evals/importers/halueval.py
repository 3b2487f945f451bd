"""HaluEval (Li et al. 2023) -> a suite of hallucination judgements, in the benchmark's own form.

Reads the published `qa_data.json`, `dialogue_data.json` and `summarization_data.json` (JSON
lines, or a JSON array), recognized by their fields:

- QA: knowledge, question, right_answer, hallucinated_answer;
- dialogue: knowledge, dialogue_history, right_response, hallucinated_response;
- summarization: document, right_summary, hallucinated_summary.

The model is the judge: shown the benchmark's instruction for the task (its few-shot
`<task>_evaluation_instruction.txt`, kept verbatim in `halueval_instructions.py`) and one
question with an answer (a dialogue with a response, a document with a summary), it must say
whether the answer contains hallucinated information. The prompt is the one HaluEval's
`evaluate.py` sends to completion models: `instruction + "\\n\\n#Question#: " + question +
"\\n#Answer#: " + answer + "\\n#Your Judgement#:"` (the knowledge field is not shown, as there).

Differences from the paper's script, on purpose: each row gives two items, one with the right
answer (expected judgement "No") and one with the hallucinated answer ("Yes"), instead of one
coin-flipped per row, so every run sees the same balanced items; and the judgement is read as
the likelier of the continuations " Yes" and " No" (a multiple-choice item), so a reply is
never "failed" for wandering off. Items carry `metadata.classification` so the report adds
precision and recall per class (Yes = hallucinated) next to accuracy. Part = the task.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetImportError
from . import halueval_instructions as instructions
from .common import header, read_json_records, read_text

CHOICES = ["Yes", "No"]  # index 0: "the answer is hallucinated"
# task: (fields that identify it, instruction, how the pair is shown, the right and hallucinated fields)
TASKS = {
    "qa": (("question", "right_answer", "hallucinated_answer"), instructions.QA,
           ("#Question#", "question", "#Answer#"), "right_answer", "hallucinated_answer"),
    "dialogue": (("dialogue_history", "right_response", "hallucinated_response"), instructions.DIALOGUE,
                 ("#Dialogue History#", "dialogue_history", "#Response#"), "right_response", "hallucinated_response"),
    "summarization": (("document", "right_summary", "hallucinated_summary"), instructions.SUMMARIZATION,
                      ("#Document#", "document", "#Summary#"), "right_summary", "hallucinated_summary"),
}


def detect_task(record: dict) -> str | None:
    for task, (fields, *_rest) in TASKS.items():
        if all(f in record for f in fields):
            return task
    return None


def prompt(task: str, context: str, answer: str) -> str:
    """The benchmark's completion prompt for one (question, answer) pair of `task`."""
    _fields, instruction, (context_label, _key, answer_label), _right, _wrong = TASKS[task]
    return f"{instruction}\n\n{context_label}: {context}\n{answer_label}: {answer}\n#Your Judgement#:"


def convert(path: Path, suite_id: str) -> tuple[dict, list[dict]]:
    records = read_json_records(path, read_text(path))
    if records is None:
        raise DatasetImportError(f"{path.name} is not JSON lines; give a HaluEval data file such as data/qa_data.json")
    if not records:
        return _header(suite_id, path, "qa"), []
    task = detect_task(records[0])
    if task is None:
        raise DatasetImportError(
            f"{path.name} record 1 has neither the QA, the dialogue nor the summarization fields of HaluEval "
            "(e.g. question, right_answer, hallucinated_answer); give qa_data.json, dialogue_data.json or "
            "summarization_data.json")
    fields, _instruction, (_label, context_key, _answer_label), right_key, wrong_key = TASKS[task]
    items = []
    for n, rec in enumerate(records, start=1):
        missing = [f for f in fields if not isinstance(rec.get(f), str)]
        if missing:
            raise DatasetImportError(f"{path.name} record {n}: missing or not text: {', '.join(missing)} "
                                     f"(every record of a HaluEval {task} file has them)")
        context = rec[context_key].strip()
        for key, hallucinated in ((right_key, False), (wrong_key, True)):
            answer = rec[key].strip()
            if not context or not answer:
                continue
            items.append({"id": f"halueval-{task}-{n:05d}-{'hallucinated' if hallucinated else 'right'}",
                          "kind": "multiple_choice", "part": task, "category": task,
                          "prompt": prompt(task, context, answer), "choices": CHOICES,
                          "answer": 0 if hallucinated else 1,
                          "metadata": {"classification": True, "record": n, "hallucinated": hallucinated}})
    return _header(suite_id, path, task), items


def _header(suite_id: str, path: Path, task: str) -> dict:
    return header(suite_id, f"HaluEval ({task})",
                  "Is the given answer hallucinated? The model judges each pair (Yes/No) with the benchmark's "
                  "instruction; accuracy and precision/recall per class.", path, "https://github.com/RUCAIBox/HaluEval")
