"""The token loop: prefill once, then one-token decode steps through the static KV cache,
streaming a `Token` per step.

A `Generation` is an iterator of tokens with `.stats` filled in when it ends and `.cancel()`
to stop it between any two tokens. It reuses the cached prefix a previous generation left
(so a follow-up chat turn prefills only its new tokens). It does not load models or render
chat templates.
"""
from __future__ import annotations

import math
import random
import time
from typing import Protocol

import torch

from .errors import EngineError, PromptTooLongError
from .sampling import Sampling, choose
from .tokenizer import TextStream, Tokenizer
from .types import Alternative, ModelInfo, Stats, Token


class Steps(Protocol):
    """What the token loop needs of a model (engine.Model is one): no import of model.py, which
    imports this file."""

    info: ModelInfo
    tokenizer: Tokenizer
    device: torch.device
    pipelined_decode: bool

    def prefill(self, prompt_ids: list[int], needed_len: int) -> tuple[torch.Tensor, int, int]: ...

    def decode_step(self, token: torch.Tensor, position: int, epoch: int) -> torch.Tensor: ...

    def note_cached(self, ids: list[int], filled: int, epoch: int) -> None: ...

TOP_ALTERNATIVES = 5


class Generation:
    def __init__(self, model: Steps, prompt_ids: list[int], settings: Sampling, truncate: bool = False,
                 top: int = TOP_ALTERNATIVES):
        """top: how many of the most likely tokens each Token lists as alternatives (0 for none)."""
        context = model.info.context_length
        if not prompt_ids:
            raise PromptTooLongError("the prompt is empty; give at least one token")
        self.stats = Stats()
        if len(prompt_ids) >= context:
            if not truncate:
                raise PromptTooLongError(
                    f"the prompt is {len(prompt_ids)} tokens but this model's context window is {context}; "
                    "shorten the prompt or start a new chat"
                )
            keep = context // 2
            self.stats.truncated_prompt_tokens = len(prompt_ids) - keep
            prompt_ids = prompt_ids[-keep:]
        self.model = model
        self.prompt_ids = list(prompt_ids)
        self.settings = settings
        self.max_new = min(settings.max_new_tokens, context - len(prompt_ids))
        self.context_limited = self.max_new < settings.max_new_tokens
        self.top = max(0, int(top))
        self._cancelled = False
        self._iterator = self._run()

    def cancel(self):
        """Stop before the next token; the stream then ends with stop_reason 'cancelled'."""
        self._cancelled = True

    def __iter__(self):
        return self

    def __next__(self) -> Token:
        return next(self._iterator)

    def text(self) -> str:
        """Run to the end and return the whole text."""
        return "".join(token.text for token in self)

    def _run(self):
        model, s, stats = self.model, self.settings, self.stats
        seed = s.seed if s.seed is not None else random.randrange(2**63)
        generator = torch.Generator(device=model.device).manual_seed(seed)
        eos = set(model.tokenizer.eos_ids) if s.stop_on_eos else set()
        stream = TextStream(model.tokenizer, self.prompt_ids)
        stop_holdback = max((len(x) for x in s.stop), default=0)
        # tokens held back while a stop string may still form: at least the last (longest stop - 1)
        # characters, so a stop string always lies wholly inside the held text
        pending = []
        started = time.perf_counter()
        stats.prompt_tokens = len(self.prompt_ids)
        seen = torch.tensor(self.prompt_ids, dtype=torch.long, device=model.device)
        # The model takes its lock inside each step, never across a yield.
        logits, reused, epoch = model.prefill(self.prompt_ids, len(self.prompt_ids) + self.max_new)  # (V,)
        stats.reused_prompt_tokens = reused
        prefill_done = time.perf_counter()
        stats.prefill_tokens_per_s = (len(self.prompt_ids) - reused) / max(prefill_done - started, 1e-9)
        position = len(self.prompt_ids)
        generated: list[int] = []
        first_token_at = None
        stop_reason = "length" if not self.context_limited else "context"
        pipelined = model.pipelined_decode
        while len(generated) < self.max_new:
            if self._cancelled:
                stop_reason = "cancelled"
                break
            # Choose on the device and start the copy of what the host needs. On a GPU the next step
            # is queued before waiting for that copy, so the GPU computes step t+1 while the host
            # streams token t; on the CPU nothing runs ahead, so token t is shown first.
            scores = logits.float()  # (V,)
            logprobs = scores.log_softmax(-1)  # (V,)
            try:
                chosen = choose(scores, s, generator, seen)  # (1,) on the device
            except RuntimeError as err:  # multinomial refuses NaN/inf probabilities
                if torch.isfinite(scores).all():
                    raise
                raise _not_finite(len(generated)) from err
            top = torch.topk(logprobs, min(self.top, logprobs.shape[-1]))
            summary = _HostCopy(chosen, logprobs.gather(0, chosen), top.values, top.indices)
            if s.repetition_penalty != 1.0:
                seen = torch.cat((seen, chosen))
            step_next = len(generated) + 1 < self.max_new
            if step_next and pipelined:
                logits = model.decode_step(chosen, position, epoch)  # (V,), queued
                position += 1
            values = summary.wait()
            if math.isnan(values[1]):  # NaN logits (corrupt weights, or fp16 overflow)
                raise _not_finite(len(generated))
            token_id, k = int(values[0]), top.values.shape[-1]
            generated.append(token_id)
            alternatives = tuple(
                Alternative(int(i), model.tokenizer.token_text(int(i)), v)
                for v, i in zip(values[2:2 + k], values[2 + k:])
            )
            token = Token(token_id, "", values[1], alternatives)
            if first_token_at is None:
                first_token_at = time.perf_counter()
                stats.time_to_first_token_s = first_token_at - started
            if token_id in eos:
                stop_reason = "eos"
                yield from self._release(pending, final=True)[0]
                pending = []
                yield token
                break
            delta = stream.push(token_id)
            pending.append(Token(token.id, delta, token.logprob, token.top))
            hit = _find_stop("".join(t.text for t in pending), s.stop) if s.stop else None
            if hit is not None:
                stop_reason = "stop"
                out, _ = self._release(pending, final=True, cut=hit)
                yield from out
                pending = []
                break
            out, pending = self._release(pending, final=False, holdback=stop_holdback - 1)
            yield from out
            if step_next and not pipelined:
                logits = model.decode_step(chosen, position, epoch)  # (V,)
                position += 1
        tail = stream.flush() if stop_reason not in ("stop",) else ""
        if pending or tail:
            out, _ = self._release(pending, final=True)
            out = list(out)
            if tail and out:
                out[-1] = Token(out[-1].id, out[-1].text + tail, out[-1].logprob, out[-1].top)
            yield from out
        fed = position - len(self.prompt_ids)  # generated tokens whose keys/values are in the cache
        model.note_cached(self.prompt_ids + generated[:fed], position, epoch)
        finished = time.perf_counter()
        stats.generated_tokens = len(generated)
        stats.stop_reason = stop_reason
        stats.total_s = finished - started
        if first_token_at is not None and len(generated) > 1:
            stats.decode_tokens_per_s = (len(generated) - 1) / max(finished - first_token_at, 1e-9)

    @staticmethod
    def _release(pending: list[Token], final: bool, holdback: int = 0, cut: int | None = None):
        """Split held tokens into those safe to yield now and those still held back for stop strings."""
        if cut is not None:  # a stop string starts at `cut` chars into the pending text: trim there
            out, used = [], 0
            for t in pending:
                room = cut - used
                if room <= 0:
                    break
                out.append(Token(t.id, t.text[:room], t.logprob, t.top))
                used += len(t.text)
            return out, []
        if final or holdback <= 0:
            return list(pending), []
        text = "".join(t.text for t in pending)
        keep_chars = min(holdback, len(text))
        out, used, limit = [], 0, len(text) - keep_chars
        split = 0
        for i, t in enumerate(pending):
            if used + len(t.text) > limit:
                break
            used += len(t.text)
            split = i + 1
        out = pending[:split]
        return out, pending[split:]


class _HostCopy:
    """Small 1-D device tensors copied to the host without blocking; wait() returns them as one flat
    list of floats (token ids stay exact: they are far below 2**24)."""

    def __init__(self, *tensors: torch.Tensor):
        self.event = None
        if tensors[0].device.type == "cuda":
            packed = torch.cat([t.float() for t in tensors])  # one small device-to-host copy
            self.host = torch.empty(packed.shape, dtype=packed.dtype, pin_memory=True)
            self.host.copy_(packed, non_blocking=True)
            self.event = torch.cuda.Event()
            self.event.record()
        else:
            self.tensors = tensors

    def wait(self) -> list[float]:
        if self.event is None:
            return [value for t in self.tensors for value in t.tolist()]
        self.event.synchronize()
        return self.host.tolist()


def _not_finite(step: int) -> EngineError:
    return EngineError(f"the model produced NaN or infinite scores at generated token {step + 1}; its weights are "
                       "corrupt or this precision overflows: try fp32 or bf16, or re-download the model")


def _find_stop(text: str, stops: tuple[str, ...]) -> int | None:
    """Index where the earliest stop string starts in text, or None."""
    found = [index for stop in stops if stop and (index := text.find(stop)) != -1]
    return min(found) if found else None
