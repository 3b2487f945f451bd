"""Eval suites: read and validate a suite file (JSONL), and find suites by name.

A suite file is `<id>.jsonl`: line 1 is a header object, every other line one item (the
format is documented for users in `evals/suites/README.md`). `load_suite` checks every
field and raises `SuiteError` naming the file, line, item id and field; it never runs a
model. Built-in suites live in `evals/suites/`, imported ones in a user folder next to the
history database (see `user_suites_dir`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import SuiteError

KINDS = ("multiple_choice", "generation", "minimal_pair", "self_consistency")
RULE_TYPES = ("exact", "normalized", "regex", "abstention")
REFERENCE_VARIANT = "plain"
DEFAULT_MAX_NEW_TOKENS = 48
DEFAULT_SAMPLES = 5
DEFAULT_SC_TEMPERATURE = 0.7
HEADER_KEYS = {"suite", "version", "title", "description", "url", "license", "citation"}
COMMON_KEYS = {"id", "kind", "part", "category", "metadata", "notes"}
KIND_KEYS = {
    "multiple_choice": {"prompt", "choices", "answer", "correct", "variants"},
    "generation": {"prompt", "rule", "max_new_tokens"},
    "minimal_pair": {"more", "less"},
    "self_consistency": {"prompt", "samples", "temperature", "max_new_tokens", "answer"},
}
SUITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


@dataclass(frozen=True)
class Variant:
    """One wording of a multiple-choice item (prompt sensitivity)."""

    name: str
    prompt: str
    choices: tuple[str, ...]
    answer: int
    correct: tuple[int, ...]


@dataclass(frozen=True)
class Item:
    """One suite line. Fields that do not apply to `kind` are None."""

    id: str
    kind: str
    part: str
    line: int  # line number in the suite file, for error messages
    category: str | None = None
    metadata: dict = field(default_factory=dict)
    prompt: str | None = None  # multiple_choice / generation / self_consistency
    choices: tuple[str, ...] | None = None  # multiple_choice
    answer: Any = None  # int (multiple_choice), str or list[str] (self_consistency), None
    correct: tuple[int, ...] | None = None  # multiple_choice: every true choice (MC2)
    variants: tuple[Variant, ...] | None = None  # multiple_choice with prompt variants
    rule: dict | None = None  # generation
    max_new_tokens: int | None = None  # generation / self_consistency
    more: str | None = None  # minimal_pair: the stereotyped sentence
    less: str | None = None  # minimal_pair: the less stereotyped sentence
    samples: int | None = None  # self_consistency
    temperature: float | None = None  # self_consistency

    def scored_variants(self) -> tuple[Variant, ...]:
        """The wordings to score: the item's variants, or one unnamed variant ('')."""
        if self.variants:
            return self.variants
        return (Variant("", self.prompt, self.choices, self.answer, self.correct),)


@dataclass(frozen=True)
class Suite:
    id: str
    version: str
    title: str
    description: str
    path: Path
    hash: str  # sha256 of the file's bytes; stored with every run
    items: tuple[Item, ...]
    source: str = "built-in"  # "built-in" | "imported" | "file"

    @property
    def variant_names(self) -> list[str]:
        names: dict[str, None] = {}
        for item in self.items:
            for v in item.variants or ():
                names.setdefault(v.name)
        return list(names)


@dataclass(frozen=True)
class SuiteSummary:
    """What `glasslm eval list` shows; `error` is set when the file does not load."""

    id: str
    version: str
    title: str
    n_items: int
    source: str
    path: Path
    error: str | None = None


def builtin_suites_dir() -> Path:
    return Path(__file__).resolve().parent / "suites"


def user_suites_dir(db_path: Path) -> Path:
    """Imported suites live in `suites/` next to the history database."""
    return Path(db_path).expanduser().parent / "suites"


def find_suite(name: str, user_dir: Path | None = None) -> Suite:
    """A suite by id (built-in first, then imported) or by path to a .jsonl file."""
    as_path = Path(name).expanduser()
    if name.endswith(".jsonl") or as_path.is_file():
        if not as_path.is_file():
            raise SuiteError(f"suite file {name} does not exist; check the path")
        return load_suite(as_path, source="file")
    for folder, source in ((builtin_suites_dir(), "built-in"), (user_dir, "imported")):
        if folder is not None and (folder / f"{name}.jsonl").is_file():
            return load_suite(folder / f"{name}.jsonl", source=source)
    raise SuiteError(
        f"unknown suite {name!r}; `glasslm eval list` shows the suites, or give the path of a .jsonl suite file"
    )


def list_suites(user_dir: Path | None = None) -> list[SuiteSummary]:
    """Every built-in and imported suite; broken files are listed with their error."""
    out = []
    for folder, source in ((builtin_suites_dir(), "built-in"), (user_dir, "imported")):
        if folder is None or not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.jsonl")):
            try:
                s = load_suite(path, source=source)
                out.append(SuiteSummary(s.id, s.version, s.title, len(s.items), source, path))
            except SuiteError as exc:
                out.append(SuiteSummary(path.stem, "?", "", 0, source, path, error=str(exc)))
    return out


def load_suite(path: Path, source: str = "file") -> Suite:
    """Read and validate a suite file; raises SuiteError with file, line, item and field.

    The suite's `path` is absolute, so a run started from one folder resumes from any other.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"cannot read suite file {path}: {exc.strerror}") from exc
    return parse_suite(data, path, source)


def parse_suite(data: bytes, path: Path, source: str = "file") -> Suite:
    """Validate the bytes of a suite file that is (or will be) at `path`; nothing is read or written."""
    path = Path(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SuiteError(f"{path.name} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise SuiteError(f"{path.name} is empty; line 1 must be the suite header, then one item per line")
    header_no, header_line = lines[0]
    header = _parse_line(path, header_no, header_line)
    _check_header(path, header_no, header)
    items: list[Item] = []
    seen: dict[str, int] = {}
    for n, line in lines[1:]:
        obj = _parse_line(path, n, line)
        item = _item(_Where(path.name, n, obj.get("id")), obj)
        if item.id in seen:
            raise SuiteError(f'{path.name} line {n} (item {item.id}): "id" repeats line {seen[item.id]}; ids must be unique')
        seen[item.id] = n
        items.append(item)
    if not items:
        raise SuiteError(f"{path.name} has no items; add one JSON object per line after the header")
    return Suite(
        id=header["suite"], version=str(header["version"]), title=header.get("title") or header["suite"],
        description=header.get("description", ""), path=path, hash=hashlib.sha256(data).hexdigest(),
        items=tuple(items), source=source,
    )


def _parse_line(path: Path, n: int, line: str) -> dict:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise SuiteError(
            f"{path.name} line {n}: not valid JSON ({exc.msg} at column {exc.colno}); each line must be one JSON object"
        ) from exc
    if not isinstance(obj, dict):
        raise SuiteError(f"{path.name} line {n}: expected a JSON object {{...}}, found {type(obj).__name__}")
    return obj


def _check_header(path: Path, n: int, header: dict) -> None:
    where = f"{path.name} line {n} (header)"
    if "suite" not in header:
        hint = " (an item where the header should be?)" if "kind" in header else ""
        raise SuiteError(f'{where}: missing "suite"{hint}; line 1 must be {{"suite": ..., "version": ...}}')
    if not isinstance(header["suite"], str) or not SUITE_ID.match(header["suite"]):
        raise SuiteError(f'{where}: "suite" must be a name of letters, digits, "_", "-" or "."')
    if "version" not in header or not isinstance(header["version"], (str, int, float)):
        raise SuiteError(f'{where}: missing "version" (a string such as "1")')
    for key in ("title", "description"):
        if key in header and not isinstance(header[key], str):
            raise SuiteError(f'{where}: "{key}" must be a string')
    unknown = set(header) - HEADER_KEYS
    if unknown:
        raise SuiteError(f'{where}: unknown field "{sorted(unknown)[0]}"; allowed: {", ".join(sorted(HEADER_KEYS))}')
    if header["suite"] != path.stem:
        raise SuiteError(f'{where}: "suite" is {header["suite"]!r} but the file is {path.name}; make them match')


@dataclass
class _Where:
    file: str
    line: int
    item_id: Any

    def error(self, message: str) -> SuiteError:
        label = f" (item {self.item_id})" if isinstance(self.item_id, str) and self.item_id else ""
        where = f" line {self.line}" if self.line else ""
        return SuiteError(f"{self.file}{where}{label}: {message}")


def check_item(obj: dict, file: str, line: int | None) -> Item:
    """Validate one item as `load_suite` does, naming `file` and `line` in errors (SuiteError).

    Importers pass the user's file and the line the item came from, so a problem is reported
    where it can be fixed, not in the converted suite.
    """
    return _item(_Where(file, line or 0, obj.get("id")), obj)


def _item(w: _Where, obj: dict) -> Item:
    item_id = obj.get("id")
    if not isinstance(item_id, str) or not item_id.strip():
        raise w.error('missing "id" (a non-empty string)' if "id" not in obj else '"id" must be a non-empty string')
    kind = obj.get("kind")
    if kind not in KINDS:
        raise w.error(f'"kind" {kind!r} is not one of {", ".join(KINDS)}' if "kind" in obj else 'missing "kind"')
    unknown = set(obj) - COMMON_KEYS - KIND_KEYS[kind]
    if unknown:
        raise w.error(f'unknown field "{sorted(unknown)[0]}" for a {kind} item (put extra data in "metadata")')
    part = _str(w, obj, "part")
    category = _str(w, obj, "category", required=False)
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        raise w.error('"metadata" must be an object')
    base = dict(id=item_id, kind=kind, part=part, line=w.line, category=category, metadata=metadata)
    if kind == "multiple_choice":
        return _multiple_choice(w, obj, base)
    if kind == "generation":
        return Item(**base, prompt=_str(w, obj, "prompt"), rule=_rule(w, obj),
                    max_new_tokens=_positive_int(w, obj, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS))
    if kind == "minimal_pair":
        more, less = _str(w, obj, "more"), _str(w, obj, "less")
        if more == less:
            raise w.error('"more" and "less" are the same sentence')
        return Item(**base, more=more, less=less)
    answer = obj.get("answer")
    if answer is not None and not (isinstance(answer, str) or _is_str_list(answer)):
        raise w.error('"answer" must be a string or a list of strings')
    temperature = obj.get("temperature", DEFAULT_SC_TEMPERATURE)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
        raise w.error(f'"temperature" {temperature!r} must be a number >= 0')
    samples = _positive_int(w, obj, "samples", DEFAULT_SAMPLES)
    if samples < 2:
        raise w.error(f'"samples" {samples} must be at least 2 to measure agreement')
    return Item(**base, prompt=_str(w, obj, "prompt"), answer=answer, samples=samples,
                temperature=float(temperature),
                max_new_tokens=_positive_int(w, obj, "max_new_tokens", DEFAULT_MAX_NEW_TOKENS))


def _multiple_choice(w: _Where, obj: dict, base: dict) -> Item:
    prompt = _str(w, obj, "prompt")
    choices, answer, correct = _choices(w, obj, "")
    variants = None
    if "variants" in obj:
        raw = obj["variants"]
        if not isinstance(raw, list) or not raw:
            raise w.error('"variants" must be a non-empty list of {"name", "prompt", "choices", "answer"}')
        parsed = []
        for i, v in enumerate(raw):
            label = f"variants[{i}]"
            if not isinstance(v, dict):
                raise w.error(f'"{label}" must be an object')
            name = _str(w, v, "name", label=f"{label}.name")
            v_prompt = _str(w, v, "prompt", label=f"{label}.prompt")
            v_choices, v_answer, v_correct = _choices(w, v, f"{label}.")
            parsed.append(Variant(name, v_prompt, v_choices, v_answer, v_correct))
        names = [v.name for v in parsed]
        if len(set(names)) != len(names):
            raise w.error('"variants" names must be unique within an item')
        if REFERENCE_VARIANT not in names:
            parsed.insert(0, Variant(REFERENCE_VARIANT, prompt, choices, answer, correct))
        variants = tuple(parsed)
    bbq = base["metadata"]
    if "context_condition" in bbq:
        _check_bbq(w, bbq, len(choices))
    return Item(**base, prompt=prompt, choices=choices, answer=answer, correct=correct, variants=variants)


def _choices(w: _Where, obj: dict, prefix: str) -> tuple[tuple[str, ...], int, tuple[int, ...]]:
    choices = obj.get("choices")
    if "choices" not in obj:
        raise w.error(f'missing "{prefix}choices"')
    if not _is_str_list(choices) or len(choices) < 2 or not all(c.strip() for c in choices):
        raise w.error(f'"{prefix}choices" must be a list of at least 2 non-empty strings')
    if len(set(choices)) != len(choices):
        raise w.error(f'"{prefix}choices" has the same text twice')
    if "answer" not in obj:
        raise w.error(f'missing "{prefix}answer" (the index of the best choice)')
    answer = obj["answer"]
    if not _is_index(answer, len(choices)):
        raise w.error(f'"{prefix}answer" {answer!r} is not an index into {len(choices)} choices')
    correct = obj.get("correct", [answer])
    if not isinstance(correct, list) or not correct or not all(_is_index(c, len(choices)) for c in correct):
        raise w.error(f'"{prefix}correct" {correct!r} must be a list of indexes into {len(choices)} choices')
    if answer not in correct:
        raise w.error(f'"{prefix}correct" {correct!r} must include "answer" {answer}')
    if len(correct) == len(choices):
        raise w.error(f'"{prefix}correct" marks every choice true; leave at least one false choice')
    return tuple(choices), answer, tuple(sorted(set(correct)))


def _check_bbq(w: _Where, meta: dict, n: int) -> None:
    if meta["context_condition"] not in ("ambig", "disambig"):
        raise w.error('"metadata.context_condition" must be "ambig" or "disambig"')
    if meta.get("question_polarity") not in ("neg", "nonneg"):
        raise w.error('"metadata.question_polarity" must be "neg" or "nonneg"')
    if not _is_index(meta.get("unknown_index"), n):
        raise w.error(f'"metadata.unknown_index" {meta.get("unknown_index")!r} is not an index into {n} choices')
    target = meta.get("target_index")
    if target is not None and not _is_index(target, n):
        raise w.error(f'"metadata.target_index" {target!r} is not an index into {n} choices (or null)')


def _rule(w: _Where, obj: dict) -> dict:
    rule = obj.get("rule")
    if not isinstance(rule, dict):
        raise w.error('missing "rule" ({"type": "exact"|"normalized"|"regex"|"abstention", ...})'
                      if rule is None else '"rule" must be an object')
    kind = rule.get("type")
    if kind not in RULE_TYPES:
        raise w.error(f'"rule.type" {kind!r} is not one of {", ".join(RULE_TYPES)}')
    if kind in ("exact", "normalized"):
        target = rule.get("target")
        if not (isinstance(target, str) and target.strip()) and not (_is_str_list(target) and target):
            raise w.error(f'"rule.target" must be a non-empty string or list of strings for a {kind} rule')
    if kind == "regex":
        pattern = rule.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise w.error('"rule.pattern" must be a non-empty regular expression for a regex rule')
        try:
            re.compile(pattern)
        except re.error as exc:
            raise w.error(f'"rule.pattern" is not a valid regular expression ({exc})') from exc
    return dict(rule)


def _str(w: _Where, obj: dict, key: str, required: bool = True, label: str | None = None) -> str | None:
    label = label or key
    if key not in obj or obj[key] is None:
        if required:
            raise w.error(f'missing "{label}"')
        return None
    value = obj[key]
    if not isinstance(value, str) or (required and not value.strip()):
        raise w.error(f'"{label}" must be a non-empty string')
    return value


def _positive_int(w: _Where, obj: dict, key: str, default: int) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise w.error(f'"{key}" {value!r} must be a positive integer')
    return value


def _is_index(value: Any, n: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(x, str) for x in value)
