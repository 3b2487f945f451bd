"""The input checks every Inside computation shares: a non-empty list of token ids that the model's
vocabulary and context window can take. Raises the engine's named errors; computes nothing."""
from __future__ import annotations

from ..errors import EngineError, PromptTooLongError


def checked_ids(model, ids) -> list[int]:
    """ids as a list of ints, or a one-sentence EngineError saying what to change."""
    ids = [int(i) for i in ids]
    if not ids:
        raise EngineError("the text has no tokens; type some text first")
    vocab = model.config.vocab_size
    bad = next((i for i in ids if not 0 <= i < vocab), None)
    if bad is not None:
        raise EngineError(f"token id {bad} is outside this model's vocabulary (0..{vocab - 1})")
    if len(ids) > model.info.context_length:
        raise PromptTooLongError(f"the text is {len(ids)} tokens but this model's context window is "
                                 f"{model.info.context_length}; shorten it")
    return ids
