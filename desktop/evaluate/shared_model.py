"""Eval runs on the app's shared models: an `evals.runner.ModelOpener` that leases local models from the
`ModelPool` (so evaluating the model the chat has loaded loads nothing) and a `LanguageModel`
wrapper that holds the model's turn for each backend call.

Each call runs on the app's one engine thread (engine_thread.py), as the chat's steps do.
The turn is taken per call (one log-likelihood batch, one generation), never for a whole run,
so a chat reply waits at most for one batch and the run goes on after it. Scoring is the
runner's and the backend's (evals.backend.EngineBackend); this module only shares and takes turns.
It draws nothing.
"""
from __future__ import annotations

from typing import Callable

from evals.runner import LoadedModel, RunSettings, engine_opener

from ..engine_thread import ENGINE_THREAD
from ..model_pool import ModelPool, Turn

LABEL = "the eval run's current batch"  # what a chat reply waiting for the model is told


class TurnTakingModel:
    """The backend as the runner sees it; every call holds `turn` (attributes read through)."""

    def __init__(self, lm, turn: Turn, on_wait: Callable[[str], None] | None = None,
                 on_start: Callable[[], None] | None = None):
        self.lm, self.turn, self.on_wait, self.on_start = lm, turn, on_wait, on_start

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        with self._hold():
            return ENGINE_THREAD.run(self.lm.loglikelihood, requests)

    def generate(self, prompt: str, settings: dict) -> str:
        with self._hold():
            return ENGINE_THREAD.run(self.lm.generate, prompt, settings)

    def _hold(self):
        return self.turn.hold(LABEL, self.on_wait, self.on_start)

    def __getattr__(self, name: str):  # name, render, last_truncated, cannot_run, ...
        return getattr(self.lm, name)


def pooled_opener(pool: ModelPool, on_wait: Callable[[str], None] | None = None,
                  on_start: Callable[[], None] | None = None):
    """A ModelOpener over `pool`. on_wait(holder) runs on the eval thread when a call has to wait for the
    model's turn; on_start() once it has it."""

    def load(model_path: str | None, settings: RunSettings) -> LoadedModel:
        leases = []

        def open_model(path, device, precision):
            lease = pool.acquire(path, device=device, precision=precision)
            leases.append(lease)
            return lease.model, lease.release

        loaded = engine_opener(model_path, settings, open_model)
        loaded.lm = TurnTakingModel(loaded.lm, leases[0].turn, on_wait, on_start)
        return loaded

    load.check = engine_opener.check  # type: ignore[attr-defined]
    return load
