"""Errors a user can cause. Each message is one sentence that says what went wrong and what to do.

Internal invariants use `assert`; everything here is something a person can fix
(a bad path, a corrupt file, an unsupported model, a prompt that is too long, no memory).
"""


class EngineError(Exception):
    """Base class of every error a user can cause in the engine."""


class ModelFormatError(EngineError):
    """The model folder is missing a file, or a file is corrupt or inconsistent."""


class UnsupportedModelError(EngineError):
    """The checkpoint's architecture or options are not implemented here."""


class PrecisionError(EngineError):
    """The requested precision is unknown or cannot run on this machine."""


class DeviceError(EngineError):
    """The requested device does not exist on this machine."""


class PromptTooLongError(EngineError):
    """The prompt (plus the tokens to generate) does not fit the context window."""


class OutOfMemoryError(EngineError):
    """The model or its cache did not fit in the device's memory."""


def is_out_of_memory(err: BaseException) -> bool:
    """True for torch's CUDA OOM and for the CPU allocator's 'can't allocate memory' RuntimeError."""
    import torch

    if isinstance(err, torch.OutOfMemoryError | MemoryError):
        return True
    return isinstance(err, RuntimeError) and "can't allocate memory" in str(err)
