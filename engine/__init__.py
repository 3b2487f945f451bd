"""glasslm's inference engine: load decoder-only checkpoints (Hugging Face folders, GGUF files) and run them.

Public surface: `load`, `Model` (logits, generate, chat, continuation_logprobs, attention,
memory), `Sampling`, `Token`, `Alternative`, `Stats`, `EngineError`. The engine imports no
Qt, no SQL and no transformers.
"""
from .devices import PRECISIONS, available_devices
from .errors import (
    DeviceError,
    EngineError,
    ModelFormatError,
    OutOfMemoryError,
    PrecisionError,
    PromptTooLongError,
    UnsupportedModelError,
)
from .generation import Generation
from .loader import bundled_model_path, default_model_note, default_model_path, load
from .model import Model, score_tokens
from .sampling import DISTRIBUTION_FIELDS, NUMBER_FIELDS, SAMPLING_FIELDS, Sampling
from .types import Alternative, ContinuationScore, DeviceInfo, ModelInfo, Stats, Token

__all__ = [
    "load", "default_model_path", "default_model_note", "bundled_model_path", "available_devices", "PRECISIONS", "Model", "Generation", "Sampling",
    "SAMPLING_FIELDS", "DISTRIBUTION_FIELDS", "NUMBER_FIELDS", "score_tokens",
    "Token", "Alternative", "Stats", "ContinuationScore", "ModelInfo", "DeviceInfo", "EngineError",
    "ModelFormatError", "UnsupportedModelError", "PrecisionError", "DeviceError", "PromptTooLongError",
    "OutOfMemoryError",
]
