"""The narrow interface through which evals reach a model, and its adapter for `engine`.

`LanguageModel` is all the runner needs: log-likelihoods of continuations given contexts,
and generation with settings. Tests use small fakes; other backends can plug in.
`EngineBackend` adapts an `engine.Model`, tokenizing the way lm-evaluation-harness does:

- trailing whitespace of the context moves to the continuation (word-boundary spaces belong
  to the continuation); context and context+continuation are encoded separately and the
  continuation tokens are `whole[len(context):]`;
- no BOS unless the tokenizer config says `add_bos_token`; an empty context is replaced by
  the BOS token (or the first EOS token when there is no BOS), as lm-eval does;
- requests sharing one context (the choices of a multiple-choice item) go through
  `model.continuation_logprobs`, which runs the context once; the rest are sorted by
  length (longest first), right-padded, and run one forward per batch with the
  log-softmax taken only at continuation positions;
- inputs longer than the context window lose their first tokens (lm-eval's left
  truncation); generation prompts likewise.

Results do not depend on the batch size (up to float rounding). This module does not know
about suites, scoring or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class LanguageModel(Protocol):
    name: str

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """For each (context, continuation): (sum of the continuation's token logprobs, is_greedy)."""
        ...

    def generate(self, prompt: str, settings: dict) -> str:
        """The text generated after `prompt` with sampling `settings` (temperature, seed, ...)."""
        ...


@dataclass(frozen=True)
class _Encoded:
    index: int  # position in the caller's request list
    context: tuple[int, ...]
    continuation: tuple[int, ...]


class EngineBackend:
    """`LanguageModel` over an `engine.Model`.

    use_chat_template: "auto" (generation uses the checkpoint's chat template when it has one),
    True, or False. Log-likelihood requests always score raw text, as lm-eval does by default.
    batch_size: sequences per padded forward; max_batch_logits caps batch x length x vocab so
    the fp32 logits of one forward stay bounded.
    """

    def __init__(self, model: Any, use_chat_template: bool | str = "auto", batch_size: int = 16,
                 max_batch_logits: int = 2**27, system_prompt: str | None = None):
        self.model = model
        self.tokenizer = model.tokenizer
        info = model.info
        self.name = getattr(info, "name", "") or Path(str(info.path)).name
        self.batch_size = max(1, int(batch_size))
        self.max_batch_logits = max_batch_logits
        self.system_prompt = system_prompt
        has_template = bool(getattr(model, "has_chat_template", False))
        self.use_chat_template = has_template if use_chat_template == "auto" else bool(use_chat_template)
        self.add_bos = bool(getattr(self.tokenizer, "add_bos", False))  # the tokenizer config's add_bos_token
        self.context_length = int(getattr(info, "context_length", 0) or 0)
        # One flag per request of the latest loglikelihood() call (or one for the latest generate()):
        # True when the input was longer than the context window and lost its first tokens.
        self.last_truncated: list[bool] = []

    # ---- log-likelihood -------------------------------------------------------------------
    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """Token ids of (context, continuation), split the way lm-eval splits them."""
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        prefix = self._prefix()
        if not context:
            return self._empty_context_prefix(), self._encode(continuation)
        whole = self._encode(context + continuation)
        ctx = self._encode(context)
        return prefix + ctx, whole[len(ctx):]

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        encoded = [_Encoded(i, tuple(c), tuple(t)) for i, (c, t) in
                   enumerate(self.encode_pair(ctx, cont) for ctx, cont in requests)]
        window = self.context_length
        self.last_truncated = [bool(window) and len(e.context) + len(e.continuation) - 1 > window for e in encoded]
        results: list[tuple[float, bool] | None] = [None] * len(encoded)
        by_context: dict[tuple[int, ...], list[_Encoded]] = {}
        for e in encoded:
            by_context.setdefault(e.context, []).append(e)
        padded: list[_Encoded] = []
        shared = hasattr(self.model, "continuation_logprobs")
        for context, group in by_context.items():
            longest = len(context) + max(len(e.continuation) for e in group)
            fits = not self.context_length or longest <= self.context_length
            # Too long for the window: the padded path truncates from the left, as lm-eval does.
            if shared and fits and len(group) > 1 and all(e.continuation for e in group):
                scores = self.model.continuation_logprobs(list(context), [list(e.continuation) for e in group])
                for e, s in zip(group, scores):
                    results[e.index] = (float(s.logprob), bool(s.greedy))
            else:
                padded.extend(group)
        for e, r in zip(padded, self._padded_loglikelihood(padded)):
            results[e.index] = r
        return results  # type: ignore[return-value]

    def _padded_loglikelihood(self, requests: list[_Encoded]) -> list[tuple[float, bool]]:
        import torch

        import engine

        out: dict[int, tuple[float, bool]] = {}
        # Longest first (as lm-eval) so the first batch shows memory trouble early.
        order = sorted(requests, key=lambda e: (-(len(e.context) + len(e.continuation)), e.index))
        vocab = int(getattr(self.model.info, "vocab_size", 0) or 1)
        start = 0
        while start < len(order):
            longest = self._input(order[start])[0].__len__()
            fits = max(1, self.max_batch_logits // max(1, longest * vocab))
            batch = order[start: start + min(self.batch_size, fits)]
            start += len(batch)
            inputs = [self._input(e) for e in batch]
            width = max(len(ids) for ids, _ in inputs)
            pad = self._pad_id()
            tokens = torch.full((len(batch), width), pad, dtype=torch.long)  # (B, T) right padded
            for row, (ids, _) in enumerate(inputs):
                tokens[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            logits = self.model.logits(tokens)  # (B, T, V) fp32
            for row, (e, (ids, n_cont)) in enumerate(zip(batch, inputs)):
                if n_cont == 0:  # nothing to score (empty continuation)
                    out[e.index] = (0.0, True)
                    continue
                positions = slice(len(ids) - n_cont, len(ids))  # logits predicting the continuation
                logprobs = logits[row, positions].float().log_softmax(-1)  # (n_cont, V)
                target = torch.tensor(e.continuation[-n_cont:], dtype=torch.long, device=logprobs.device)
                score = engine.score_tokens(logprobs, target)
                out[e.index] = (score.logprob, score.greedy)
        return [out[e.index] for e in requests]

    def _input(self, e: _Encoded) -> tuple[list[int], int]:
        """(input ids, n continuation tokens scored): (context + continuation)[:-1], left-truncated."""
        whole = list(e.context) + list(e.continuation)
        ids = whole[:-1]
        if self.context_length and len(ids) > self.context_length:
            ids = ids[-self.context_length:]
        return ids, min(len(e.continuation), len(ids))

    # ---- generation -----------------------------------------------------------------------
    def render(self, prompt: str) -> str:
        """The text actually sent for `prompt` (after the chat template, when used)."""
        if not self.use_chat_template:
            return prompt
        messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else [])
        messages.append({"role": "user", "content": prompt})
        return self.model.render_chat(messages, add_generation_prompt=True)

    def generate(self, prompt: str, settings: dict) -> str:
        import engine

        text = self.render(prompt)
        ids = self._encode(text) if self.use_chat_template else self._prefix() + self._encode(text)
        sampling = engine.Sampling.from_dict(settings)
        generation = self.model.generate(ids, sampling, truncate=True)  # a prompt over the window loses its start
        text = "".join(token.text for token in generation)
        dropped = getattr(getattr(generation, "stats", None), "truncated_prompt_tokens", 0)
        self.last_truncated = [bool(dropped)]
        return text

    # ---- tokens ---------------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _prefix(self) -> list[int]:
        bos = getattr(self.tokenizer, "bos_id", None)
        return [bos] if self.add_bos and bos is not None else []

    def _empty_context_prefix(self) -> list[int]:
        bos = getattr(self.tokenizer, "bos_id", None)
        if bos is not None:
            return [bos]
        eos = list(getattr(self.tokenizer, "eos_ids", []) or [])
        if not eos:
            raise ValueError("the tokenizer has neither a BOS nor an EOS token to stand for an empty context")
        return [eos[0]]

    def _pad_id(self) -> int:
        eos = list(getattr(self.tokenizer, "eos_ids", []) or [])
        return eos[0] if eos else 0  # padding sits after the real tokens; causal attention never sees it

