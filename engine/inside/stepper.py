"""Generation one token at a time, explained: the model's distribution at each step, what the
sampling settings make of it, the token chosen and why, and the key/value cache it fills.

`Stepper` prefills a prompt into a cache of its own (the chat's cache is left as it is), then
each `step()` applies exactly what the token loop applies (sampling.py: repetition penalty,
temperature, top-k, top-p, min-p, then argmax or a draw from a seeded generator), so a seeded
Stepper picks the same tokens as `Model.generate` with the same settings. `cache_info` says how
big the cache is and how much of the prompt the chat's cache already holds (what a chat turn
reuses). It does not stream to a user or stop on stop strings.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..errors import EngineError
from ..kv_cache import KVCache
from ..sampling import apply_repetition_penalty, filter_logits
from ..tokenizer import TextStream
from ..sampling import Sampling
from .checks import checked_ids

SHOWN = 10  # candidates reported per step


@dataclass(frozen=True)
class Candidate:
    id: int
    text: str
    prob: float  # the model's own probability
    adjusted: float  # the probability after the sampling settings (0 when filtered out; 1 or 0 when greedy)


@dataclass(frozen=True)
class Step:
    index: int  # 0 for the first generated token
    chosen: Candidate
    rank: int  # 1 = the model's most likely token
    candidates: tuple[Candidate, ...]  # the model's top SHOWN tokens, best first
    kept: int  # tokens the settings left in the running (the vocabulary size when nothing filters)
    reason: str  # one sentence on why this token
    text: str  # everything generated so far
    finished: str = ""  # "eos" or "length" when this step ended the generation


@dataclass(frozen=True)
class CacheInfo:
    dtype: str
    n_layers: int
    n_kv_heads: int
    head_dim: int
    element_bytes: int  # bytes of one cached number in the compute dtype
    bytes_per_token_per_layer: int  # keys + values of one token in one layer (all its KV heads)
    bytes_per_token: int  # the same over every layer
    tokens: int  # positions held now
    bytes_held: int  # tokens x bytes_per_token
    bytes_allocated: int  # this stepper's cache as allocated (prompt + max new tokens)
    context_bytes: int  # a cache as long as the model's context window
    chat_reused: int  # leading prompt tokens the chat's cache already holds (a chat turn would not recompute them)


def kv_bytes_per_token_per_layer(model) -> int:
    c = model.config
    element = torch.empty((), dtype=model.compute_dtype).element_size()
    return 2 * c.num_key_value_heads * c.head_dim * element  # keys and values


class Stepper:
    def __init__(self, model, prompt_ids, settings: Sampling | None = None):
        self.model = model
        self.prompt_ids = checked_ids(model, prompt_ids)
        self.settings = settings or Sampling()
        room = model.info.context_length - len(self.prompt_ids)
        if room <= 0:
            raise EngineError("the prompt fills the whole context window; shorten it to leave room to generate")
        self.max_new = min(self.settings.max_new_tokens, room)
        seed = self.settings.seed if self.settings.seed is not None else random.randrange(2**63)
        self.generator = torch.Generator(device=model.device).manual_seed(seed)
        self.eos = set(model.tokenizer.eos_ids) if self.settings.stop_on_eos else set()
        self.chat_reused = model.cached_prefix(self.prompt_ids)
        c = model.config
        self.cache = KVCache.allocate(c.num_hidden_layers, 1, c.num_key_value_heads,
                                      len(self.prompt_ids) + self.max_new, c.head_dim, model.compute_dtype,
                                      model.device)
        self.generated: list[int] = []
        self.stream = TextStream(model.tokenizer, self.prompt_ids)
        self.text = ""
        self.finished = ""
        self._seen = torch.tensor(self.prompt_ids, dtype=torch.long, device=model.device)
        self._logits = self._forward(self.prompt_ids, 0)  # (V,)
        self._position = len(self.prompt_ids)

    @torch.inference_mode()
    def _forward(self, ids: list[int], start: int) -> torch.Tensor:
        x = torch.tensor([ids], dtype=torch.long, device=self.model.device)  # (1, T)
        return self.model.network(x, cache=self.cache, start=start, last_only=True)[0, -1].float()  # (V,)

    @torch.inference_mode()
    def step(self) -> Step:
        if self.finished:
            raise EngineError(f"this generation has ended ({self.finished}); start a new one")
        s, tokenizer = self.settings, self.model.tokenizer
        scores = self._logits  # (V,)
        probs = scores.softmax(-1)  # (V,) the model's own distribution
        adjusted_logits = apply_repetition_penalty(scores, self._seen, s.repetition_penalty)
        if s.temperature <= 0.0:
            chosen = int(torch.argmax(adjusted_logits))
            adjusted = torch.zeros_like(probs)
            adjusted[chosen] = 1.0
            kept = 1
        else:
            filtered = filter_logits(adjusted_logits / s.temperature, s)
            adjusted = filtered.softmax(-1)  # (V,)
            chosen = int(torch.multinomial(adjusted, 1, generator=self.generator))
            kept = int(torch.isfinite(filtered).sum())
        top = torch.topk(probs, min(SHOWN, probs.shape[0]))
        candidates = tuple(Candidate(int(i), tokenizer.token_text(int(i)), float(p), float(adjusted[int(i)]))
                           for p, i in zip(top.values.tolist(), top.indices.tolist()))
        rank = int((probs > probs[chosen]).sum()) + 1
        pick = Candidate(chosen, tokenizer.token_text(chosen), float(probs[chosen]), float(adjusted[chosen]))
        reason = explain(pick, rank, kept, probs.shape[0], s, int(torch.argmax(probs)) != chosen)
        index = len(self.generated)
        self.generated.append(chosen)
        if s.repetition_penalty != 1.0:
            self._seen = torch.cat((self._seen, torch.tensor([chosen], device=self._seen.device)))
        if chosen in self.eos:
            self.finished = "eos"
            self.text += self.stream.flush()
        else:
            self.text += self.stream.push(chosen)
            if len(self.generated) >= self.max_new:
                self.finished = "length"
                self.text += self.stream.flush()
            else:
                self._logits = self._forward([chosen], self._position)
                self._position += 1
        return Step(index, pick, rank, candidates, kept, reason, self.text, self.finished)

    def cache_info(self) -> CacheInfo:
        model, c = self.model, self.model.config
        per_layer = kv_bytes_per_token_per_layer(model)
        per_token = per_layer * c.num_hidden_layers
        held = self._position  # prompt and generated tokens fed so far (the last chosen one is fed next step)
        element = torch.empty((), dtype=model.compute_dtype).element_size()
        return CacheInfo(str(model.compute_dtype).replace("torch.", ""), c.num_hidden_layers, c.num_key_value_heads,
                         c.head_dim, element, per_layer, per_token,
                         held, held * per_token, self.cache.nbytes(), model.info.context_length * per_token,
                         self.chat_reused)


def explain(pick: Candidate, rank: int, kept: int, vocab: int, s: Sampling, penalty_moved: bool) -> str:
    """One sentence on why `pick` was chosen under settings `s`."""
    model_p = f"the model gave it {pick.prob:.1%}, rank {rank}"
    if s.temperature <= 0.0:
        why = "greedy (temperature 0): the highest score wins"
        if penalty_moved and s.repetition_penalty != 1.0:
            why += f", after the repetition penalty {s.repetition_penalty:g} lowered tokens already seen"
        return f"{why}; {model_p}."
    filters = [f"top-k {s.top_k}" if s.top_k else "", f"top-p {s.top_p:g}" if s.top_p < 1.0 else "",
               f"min-p {s.min_p:g}" if s.min_p > 0.0 else ""]
    filters = [f for f in filters if f]
    pool = f"{kept} of {vocab} tokens left by {', '.join(filters)}" if filters else f"all {vocab} tokens"
    penalty = f", repetition penalty {s.repetition_penalty:g}" if s.repetition_penalty != 1.0 else ""
    return (f"drawn at random (seeded) at temperature {s.temperature:g}{penalty} from {pool}; "
            f"it had {pick.adjusted:.1%} after the settings, {model_p}.")
