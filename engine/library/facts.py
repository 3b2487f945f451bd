"""`Facts`: what a model's headers say about it, and `judge`: whether glasslm can open it.

Facts are read once per file (gguf_facts.py, folder_facts.py) and cached by size and
modification time; the judgement is made fresh every time from the engine's own tables
(`engine.config.SUPPORTED_MODEL_TYPES`, `engine.formats.gguf_tables`), so a model becomes
openable as soon as the engine learns its architecture, without re-reading any file.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

FACTS_VERSION = 1  # bump when what is read changes, so cached facts are read again


@dataclass(frozen=True)
class Facts:
    format: str  # "gguf" | "safetensors" | "pickle"
    name: str  # the model's own name (general.name, or the folder/file name)
    architecture: str | None = None  # GGUF general.architecture, or config.json's model_type
    n_params: int | None = None  # elements over every weight tensor
    quantization: str | None = None  # "Q4_1", "BF16", "bitsandbytes nf4", ...
    context_length: int | None = None  # tokens the model was trained to attend over
    size_bytes: int = 0  # on disk
    tensor_types: tuple[str, ...] = ()  # GGUF tensor types / safetensors dtypes present, most common first
    config: dict | None = None  # a folder's config.json, judged with the engine's own config reader
    problem: str = ""  # a reason no engine version would open it (pickle weights, no tokenizer), in a few words
    incomplete: str = ""  # why it is half-written or broken: such a model is never listed
    split_count: int = 1  # GGUF files split in parts (model-00001-of-00003.gguf)
    missing_tensors: tuple[str, ...] = field(default=())  # required tensors the file lacks

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: dict) -> "Facts":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        for name in ("tensor_types", "missing_tensors"):
            values[name] = tuple(values.get(name) or ())
        return cls(**values)


def judge(facts: Facts) -> tuple[bool, str]:
    """(can glasslm open it, and if not why in a few words), from the engine's tables as they are now."""
    if facts.problem:
        return False, facts.problem
    if facts.format == "gguf":
        return _judge_gguf(facts)
    if facts.format == "safetensors":
        return _judge_config(facts.config or {})
    return False, f"{facts.format} files are not supported"


def _judge_gguf(facts: Facts) -> tuple[bool, str]:
    from ..formats.gguf_tables import ARCHITECTURES, TENSOR_TYPES

    if facts.architecture not in ARCHITECTURES:
        return False, f"architecture {facts.architecture or 'unknown'} not supported"
    unsupported = [t for t in facts.tensor_types if t not in TENSOR_TYPES]
    if unsupported:
        kinds = ", ".join(unsupported[:3])
        return False, f"tensor type{'s' if len(unsupported) > 1 else ''} {kinds} not supported"
    if facts.split_count > 1:
        return False, f"split in {facts.split_count} GGUF files; merge them with llama-gguf-split --merge"
    if facts.missing_tensors:
        return False, f"no {facts.missing_tensors[0]} tensor"
    return True, ""


def _judge_config(config: dict) -> tuple[bool, str]:
    from ..config import SUPPORTED_MODEL_TYPES, ModelConfig
    from ..errors import EngineError

    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        return False, f"architecture {model_type or 'unknown'} not supported"
    try:
        ModelConfig.from_dict(config)
    except EngineError as err:
        return False, str(err).split(";")[0]
    return True, ""
