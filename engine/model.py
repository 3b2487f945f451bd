"""A loaded model ready to use: the public `Model` object `engine.load` returns.

Owns the built `Transformer`, its tokenizer and one static KV cache for chat/generation,
and offers full forwards (`logits`), scoring (`continuation_logprobs`), streaming
generation (`generate`, `chat`), attention maps (`attention`) and a memory report.
It does not read files (see loader.py) or pick tokens (see sampling.py).
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import torch

from .errors import EngineError, OutOfMemoryError, PromptTooLongError, is_out_of_memory
from .generation import Generation
from .kv_cache import KVCache
from .transformer import Transformer
from .tokenizer import Tokenizer
from .sampling import DISTRIBUTION_FIELDS, Sampling
from .types import ContinuationScore, ModelInfo

CACHE_BLOCK = 256  # the smallest cache; larger ones double it (see _cache_length)
SCORING_PREFIX_MIN = 16  # shorter shared prefixes are cheaper to run again than to copy
SCORING_PREFIX_MAX = 2048  # positions of a scoring context kept for the next call (memory bound)


def score_tokens(logprobs: torch.Tensor, target: torch.Tensor) -> ContinuationScore:
    """logprobs (N, V) log-softmaxed rows predicting target (N,) ids -> the continuation's summed
    log-probability, whether every token was the argmax, and each token's log-probability."""
    token_lp = logprobs.gather(1, target[:, None])[:, 0]  # (N,)
    greedy = bool((logprobs.argmax(-1) == target).all())
    return ContinuationScore(float(token_lp.sum()), greedy, tuple(token_lp.tolist()))


class Model:
    def __init__(self, network: Transformer, tokenizer: Tokenizer, info: ModelInfo, device: torch.device,
                 compute_dtype: torch.dtype, generation_defaults: dict | None = None):
        self._network = network  # None once closed
        self.tokenizer = tokenizer
        self.info = info
        self.device = device
        self.compute_dtype = compute_dtype
        self.generation_defaults = generation_defaults or {}
        self.lock = threading.RLock()
        self._cache: KVCache | None = None
        # (ids, batch-1 cache) of the last scored context: the next one reuses their common prefix
        self._scoring_prefix: tuple[list[int], KVCache] | None = None
        self._cached_ids: list[int] = []  # token ids whose keys/values fill the cache's first positions
        self._epoch = 0  # bumped by each prefill; a stale Generation notices it
        self.decode_mode = "eager"  # eager | static | compiled (see set_decode_mode)
        # queue step t+1 before the host reads token t: pays off where the device runs asynchronously
        self.pipelined_decode = device.type == "cuda"
        self._static_step = None  # the (possibly compiled) one-token step over the current cache
        self._step_token = self._step_position = None  # device tensors the static step reads

    def set_decode_mode(self, mode: str):
        """eager: plain forward per token; static: a fixed-shape step over the whole cache with the
        position in a device tensor (no Python branching, no host sync inside the step); compiled: the
        static step through torch.compile (CUDA graphs on a GPU)."""
        if mode not in ("eager", "static", "compiled"):
            raise EngineError(f"unknown decode mode {mode!r}; use eager, static or compiled")
        self.decode_mode = mode
        self._static_step = None

    # ---- public API -------------------------------------------------------------------------
    @property
    def network(self) -> Transformer:
        if self._network is None:
            raise EngineError("this model was closed; load it again to use it")
        return self._network

    @property
    def config(self):
        return self.network.config

    @property
    def has_chat_template(self) -> bool:
        return bool(self.tokenizer.chat_template)

    def default_sampling(self, **overrides) -> Sampling:
        """Sampling from the checkpoint's generation_config.json, with overrides."""
        g = self.generation_defaults
        base = {}
        if g.get("do_sample"):
            base = {k: g[k] for k in DISTRIBUTION_FIELDS if g.get(k) is not None}
        elif g.get("repetition_penalty") is not None:
            base["repetition_penalty"] = g["repetition_penalty"]
        return Sampling(**{**base, **overrides})

    @torch.inference_mode()
    def logits(self, input_ids) -> torch.Tensor:
        """One full forward with no cache: LongTensor (B, T) -> FloatTensor (B, T, vocab)."""
        input_ids = torch.as_tensor(input_ids, dtype=torch.long, device=self.device)
        if input_ids.dim() == 1:
            input_ids = input_ids[None]
        self._check_length(input_ids.shape[1])
        return self.network(input_ids).float()

    @torch.inference_mode()
    def continuation_logprobs(self, context_ids: list[int], continuations: list[list[int]]) -> list[ContinuationScore]:
        """Score each continuation after a shared context: the context is run once, the continuations as one batch."""
        if not context_ids:
            raise EngineError("continuation_logprobs needs a non-empty context (use the BOS token as the context)")
        if not continuations or any(not c for c in continuations):
            raise EngineError("each continuation needs at least one token")
        longest = max(len(c) for c in continuations)
        self._check_length(len(context_ids) + longest)
        batch = len(continuations)
        cache = KVCache.allocate(self.config.num_hidden_layers, batch, self.config.num_key_value_heads,
                                 len(context_ids) + longest, self.config.head_dim, self.compute_dtype, self.device)
        with self.lock:
            reused = self._reuse_scoring_prefix(context_ids, cache)
            fresh = torch.tensor([context_ids[reused:]], dtype=torch.long, device=self.device)  # (1, Tc - reused)
            first = self.network(fresh, cache=cache, start=reused, last_only=True)[0, -1].float().log_softmax(-1)  # (V,)
            self._keep_scoring_prefix(context_ids, cache)
        padded = torch.zeros(batch, longest, dtype=torch.long, device=self.device)  # (B, L) right padded
        for row, cont in enumerate(continuations):
            padded[row, : len(cont)] = torch.tensor(cont)
        rest = self.network(padded, cache=cache, start=len(context_ids)).float().log_softmax(-1)  # (B, L, V)
        scores = []
        for row, cont in enumerate(continuations):
            dists = torch.cat((first[None], rest[row, : len(cont) - 1]), dim=0)  # (len, V)
            scores.append(score_tokens(dists, torch.tensor(cont, device=self.device)))
        return scores

    def _reuse_scoring_prefix(self, context_ids: list[int], cache: KVCache) -> int:
        """Copy the keys/values of the part of context_ids the previous scoring call already ran (suites
        repeat their few-shot preamble in every item) into cache; return how many positions that is."""
        kept = self._scoring_prefix
        if kept is None or self.network.switches_rope:  # LongRoPE keys depend on the whole length
            return 0
        ids, stored = kept
        reused = min(_common_prefix(ids, context_ids), len(context_ids) - 1)  # one token runs, for its logits
        if reused < SCORING_PREFIX_MIN:
            return 0
        for layer in range(len(cache.keys)):
            cache.keys[layer][:, :, :reused] = stored.keys[layer][:, :, :reused]
            cache.values[layer][:, :, :reused] = stored.values[layer][:, :, :reused]
        cache.ids[:, :reused] = stored.ids[:, :reused]
        return reused

    def _keep_scoring_prefix(self, context_ids: list[int], cache: KVCache):
        """Keep this context's keys/values (batch row 0) for the next scoring call, up to SCORING_PREFIX_MAX."""
        n = min(len(context_ids), SCORING_PREFIX_MAX)
        if n < SCORING_PREFIX_MIN or self.network.switches_rope:
            self._scoring_prefix = None
            return
        stored = KVCache([k[:1, :, :n].clone() for k in cache.keys], [v[:1, :, :n].clone() for v in cache.values],
                         n, cache.ids[:1, :n].clone())
        self._scoring_prefix = (list(context_ids[:n]), stored)

    def generate(self, prompt_ids: list[int], settings: Sampling | None = None, truncate: bool = False) -> Generation:
        """Stream tokens after prompt_ids. Iterate the result; its .stats is set when it ends."""
        return Generation(self, list(prompt_ids), settings or Sampling(), truncate=truncate)

    def render_chat(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.render_chat(messages, add_generation_prompt)

    def chat_ids(self, messages: list[dict], add_generation_prompt: bool = True) -> list[int]:
        return self.tokenizer.encode(self.render_chat(messages, add_generation_prompt), add_special_tokens=False)

    def chat(self, messages: list[dict], settings: Sampling | None = None, truncate: bool = False) -> Generation:
        """Render messages with the checkpoint's chat template and stream the assistant's reply.

        With truncate, the oldest turns (never the system prompt or the last message) are left out
        until the prompt and max_new_tokens fit the context window; stats.dropped_messages says how many.
        """
        settings = settings or Sampling()
        messages = list(messages)
        ids = self.chat_ids(messages)
        dropped = 0
        if truncate:
            context = self.info.context_length
            budget = context - min(settings.max_new_tokens, context // 2)
            while len(ids) > budget:
                first = 1 if messages and messages[0].get("role") == "system" else 0
                if len(messages) - first <= 1:
                    break  # only the last message is left: generate() truncates its tokens
                del messages[first]
                dropped += 1
                ids = self.chat_ids(messages)
        generation = self.generate(ids, settings, truncate=truncate)
        generation.stats.dropped_messages = dropped
        return generation

    @torch.inference_mode()
    def attention(self, ids: list[int]) -> torch.Tensor:
        """Attention probabilities of one forward pass over ids: FloatTensor (layers, heads, T, T)."""
        self._check_length(len(ids))
        captured: list[torch.Tensor] = []
        self.network(torch.tensor([ids], dtype=torch.long, device=self.device), capture=captured)
        return torch.stack([weights[0] for weights in captured]).float().cpu()  # (L, H, T, T)

    def embedding_neighbors(self, token_id: int, k: int = 10) -> list:
        """The k tokens nearest to token_id by cosine similarity of the input embeddings:
        [Neighbor(id, text, cosine)], most similar first (engine/inside/embeddings.py)."""
        from .inside.embeddings import embedding_neighbors

        return embedding_neighbors(self, token_id, k)

    def logit_lens(self, ids: list[int], top_k: int = 5):
        """Each layer's next-token guess: a LogitLens whose token_ids and probs are (n_layers + 1, T, top_k);
        row 0 from the embeddings, the last row the model's own prediction (engine/inside/lens.py)."""
        from .inside.lens import logit_lens

        return logit_lens(self, ids, top_k)

    def cached_prefix(self, ids: list[int]) -> int:
        """How many leading tokens of ids the chat's KV cache already holds (a generation from ids
        would not recompute their keys and values)."""
        with self.lock:
            return _common_prefix(self._cached_ids, list(ids))

    def memory(self) -> dict:
        from .quantize import weight_bytes_by_kind

        from .int4 import Int4Linear

        by_dtype = weight_bytes_by_kind(self.network)
        int4 = sum(m.nbytes() for m in self.network.modules() if isinstance(m, Int4Linear))
        if int4:
            by_dtype["int4"] = int4
        head = self.network.output_head
        weights = {p.data_ptr() for p in self.network.parameters()}
        if head is not None and getattr(getattr(head, "weight", None), "data_ptr", lambda: None)() not in weights:
            by_dtype[head.kind] = by_dtype.get(head.kind, 0) + head.nbytes()  # its own copy, beside the parameters
        return {
            "weights_bytes_by_dtype": by_dtype,
            "weights_bytes": sum(by_dtype.values()),
            "kv_cache_bytes": self._cache.nbytes() if self._cache else 0,
            "device": str(self.device),
            "loaded_from": self.info.source_format,  # what the file stores, e.g. "GGUF Q4_1"
        }

    def close(self):
        self._cache = None
        self._scoring_prefix = None
        self._cached_ids = []
        self._network = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # ---- used by Generation -----------------------------------------------------------------
    @torch.inference_mode()
    def prefill(self, prompt_ids: list[int], needed_len: int) -> tuple[torch.Tensor, int, int]:
        """Fill the cache with prompt_ids (reusing a cached prefix); return the last logits (V,), the
        reused count and this generation's epoch (the cache belongs to the newest generation)."""
        with self.lock:
            return self._prefill(prompt_ids, needed_len)

    def _prefill(self, prompt_ids: list[int], needed_len: int):
        self._epoch += 1
        if self._cache is None or self._cache.max_len < needed_len:
            length = min(_cache_length(needed_len), self.info.context_length)
            self._cache = None
            self._cached_ids = []
            self._cache = self._allocate_cache(max(length, needed_len), needed_len)
            self._static_step = None
        reused = _common_prefix(self._cached_ids, prompt_ids)
        reused = min(reused, len(prompt_ids) - 1)  # at least one token must run to get logits
        self._cached_ids = []  # invalid until this generation finishes
        fresh = torch.tensor([prompt_ids[reused:]], dtype=torch.long, device=self.device)  # (1, T)
        logits = self.network(fresh, cache=self._cache, start=reused, last_only=True)  # (1, 1, V)
        return logits[0, -1], reused, self._epoch

    @torch.inference_mode()
    def decode_step(self, token: torch.Tensor, position: int, epoch: int) -> torch.Tensor:
        """Feed one token ((1,) id tensor on the device) at `position`; return the next logits (V,).
        Only enqueues work on a GPU: nothing here waits for the device."""
        with self.lock:
            if epoch != self._epoch:
                raise EngineError(
                    "another generation started on this model while this one was paused; a model streams one "
                    "generation at a time, so finish or cancel one before starting the next"
                )
            return self._decode_step(token, position)

    def _decode_step(self, token: torch.Tensor, position: int) -> torch.Tensor:
        # the step where LongRoPE switches factors computes the prefix again: that one runs eagerly
        if self.decode_mode != "eager" and not self.network.reencodes(position, 1, self._cache):
            if self._static_step is None:
                self._static_step = self._build_static_step()
            self._step_token.copy_(token.view(1, 1))
            self._step_position.fill_(position)
            try:
                return self._static_step(self._step_token, self._step_position)[0, -1]
            except Exception as err:  # torch.compile failing on some layer type: keep going uncompiled
                if self.decode_mode != "compiled":
                    raise
                logging.getLogger(__name__).warning("torch.compile of the decode step failed (%s); using the "
                                                    "uncompiled static step", err)
                self.set_decode_mode("static")
                return self._decode_step(token, position)
        return self.network.decode(token.view(1, 1), self._cache, position)[0, -1]

    def _build_static_step(self):
        cache, network = self._cache, self.network
        network.prepare_static(cache.max_len, self.compute_dtype)
        self._step_token = torch.zeros(1, 1, dtype=torch.long, device=self.device)  # (1, 1)
        self._step_position = torch.zeros(1, dtype=torch.long, device=self.device)  # (1,)

        def step(token, position):
            return network.decode(token, cache, position)  # (1, 1, V)

        if self.decode_mode == "compiled":
            # The cache is written in place inside the step: marking its buffers static lets the
            # CUDA-graph capture keep their addresses instead of refusing a step that mutates inputs.
            for tensor in cache.keys + cache.values + [cache.ids]:  # ids: LongRoPE models record their tokens
                torch._dynamo.mark_static_address(tensor)
            # Each cache size (and each loaded model) is one more compile of the same step function;
            # past dynamo's default limit of 8 it would silently stop compiling it.
            torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
            mode = "reduce-overhead" if self.device.type == "cuda" else "default"
            return torch.compile(step, mode=mode, dynamic=False)
        return step

    def note_cached(self, ids: list[int], filled: int, epoch: int):
        assert len(ids) == filled, (len(ids), filled)
        with self.lock:
            if epoch == self._epoch:
                self._cached_ids = list(ids)

    # ---- internals --------------------------------------------------------------------------
    def _allocate_cache(self, length: int, needed: int | None = None) -> KVCache:
        """A cache of `length` positions; if that does not fit, one of exactly `needed` positions."""
        c = self.config
        try:
            return KVCache.allocate(c.num_hidden_layers, 1, c.num_key_value_heads, length, c.head_dim,
                                    self.compute_dtype, self.device)
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as err:
            if not is_out_of_memory(err):
                raise
        # retried outside the except block, so the failed attempt's tensors are already freed
        if needed is not None and needed < length:
            return self._allocate_cache(needed)
        raise OutOfMemoryError(
            f"the key/value cache for {length} tokens does not fit in {self.device} memory; "
            "lower max tokens, start a new chat, or use a smaller precision"
        )

    def _check_length(self, length: int):
        if length > self.info.context_length:
            raise PromptTooLongError(
                f"the input is {length} tokens but this model's context window is {self.info.context_length}; "
                "shorten it"
            )

    def __repr__(self):
        return f"Model({Path(self.info.path).name}, {self.info.model_type}, {self.info.precision}, {self.device})"


def _cache_length(needed: int) -> int:
    """Cache positions to allocate for `needed`: CACHE_BLOCK doubled until it fits. A growing chat
    reallocates (and a compiled step recompiles) a handful of times, not every CACHE_BLOCK tokens,
    for at most twice the memory it needs."""
    length = CACHE_BLOCK
    while length < needed:
        length *= 2
    return length


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i
