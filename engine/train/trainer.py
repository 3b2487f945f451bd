"""The training loop: AdamW, linear warmup then cosine decay, gradient clipping, periodic
validation, progress lines with loss and tokens/s, and resumable checkpoints.

Checkpoints (`checkpoint.pt`, the latest, and `best.pt`, the weights with the lowest
validation loss) go to a work folder and hold everything needed to continue at the next step:
weights, optimizer moments, step, the data generator and RNG states, all as tensors, dicts,
lists, numbers and strings, so they load with `torch.load(weights_only=True)`: a checkpoint
file can never run code, and one holding anything else is refused with one message. They are
written atomically (engine/safe_write.py). The loop reports through a `log` callback and never
prints. It does not tokenize, read corpora or write model folders.
"""
from __future__ import annotations

import math
import pickle
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..errors import EngineError
from ..transformer import Transformer
from ..safe_write import make_folder, write_with
from .data import random_batch
from .recipe import TrainSettings

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"


class CheckpointError(EngineError):
    """A checkpoint in the work folder is unreadable or belongs to a different model."""


@dataclass
class TrainResult:
    step: int  # last completed step
    best_val_loss: float  # lowest validation loss seen (nan if never evaluated)
    best_step: int  # step of that loss
    tokens_seen: int  # training tokens processed, across resumes
    elapsed_s: float  # training wall time, across resumes
    stopped_early: bool  # True when max_minutes ran out before the last step


def build_model(config_dict: dict, seed: int) -> Transformer:
    """A freshly initialised Transformer: N(0, 0.02), output projections scaled by depth (GPT-2 style)."""
    config = ModelConfig.from_dict(config_dict)
    torch.manual_seed(seed)
    model = Transformer(config)
    residual_std = 0.02 / math.sqrt(2 * config.num_hidden_layers)
    for name, param in model.named_parameters():
        if name.endswith("norm.weight"):
            continue  # RMSNorm gains stay at 1
        std = residual_std if name.endswith(("o_proj.weight", "down_proj.weight")) else 0.02
        nn.init.normal_(param, mean=0.0, std=std)
    return model


def add_residual_dropout(model: Transformer, p: float) -> list:
    """Dropout on every attention and MLP output, active only in train mode; hooks, so transformer.py stays plain."""
    if p <= 0:
        return []
    hook = lambda module, inputs, output: F.dropout(output, p, module.training)  # noqa: E731
    return [m.register_forward_hook(hook) for layer in model.model.layers for m in (layer.self_attn, layer.mlp)]


def lr_at(step: int, s: TrainSettings, elapsed_s: float = 0.0) -> float:
    """Learning rate of step `step` (1-based): linear warmup, then cosine down to lr * min_lr_ratio.

    With a time budget (max_minutes) the cosine follows whichever is further along, the steps or
    the clock, so a run slowed down by a busy machine still ends with a decayed learning rate.
    """
    if step <= s.warmup_steps:
        return s.lr * step / max(1, s.warmup_steps)
    progress = (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps)
    if s.max_minutes > 0:
        progress = max(progress, elapsed_s / (s.max_minutes * 60))
    progress = min(1.0, progress)
    floor = s.lr * s.min_lr_ratio
    return floor + 0.5 * (s.lr - floor) * (1 + math.cos(math.pi * progress))


def batch_loss(model: Transformer, inputs: torch.Tensor, targets: torch.Tensor, bf16: bool) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(inputs)  # (B, T, V)
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())  # mean over B*T


@torch.no_grad()
def evaluate(model: Transformer, batches: list, bf16: bool) -> float:
    """Mean next-token cross-entropy (nats) over fixed validation batches."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for inputs, targets in batches:
        total += batch_loss(model, inputs, targets, bf16).item() * targets.numel()
        count += targets.numel()
    model.train(was_training)
    return total / count


class Trainer:
    def __init__(
        self,
        model: Transformer,
        settings: TrainSettings,
        train_stream: torch.Tensor,  # (N,) token ids
        val_batches: list,  # [(inputs (B, T), targets (B, T))]
        work_dir: Path,
        log: Callable[[str], None] = lambda line: None,
    ):
        self.model = model
        self.settings = settings
        self.train_stream = train_stream
        self.val_batches = val_batches
        self.work_dir = Path(work_dir)
        self.log = log
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=settings.lr, betas=settings.betas,
        )
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.result = TrainResult(step=0, best_val_loss=math.nan, best_step=0, tokens_seen=0,
                                  elapsed_s=0.0, stopped_early=False)

    # --- checkpoints -------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "result": asdict(self.result),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "settings": asdict(self.settings),
            "vocab_size": self.model.config.vocab_size,
        }
        return _atomic_save(state, self.work_dir / CHECKPOINT)

    def resume(self) -> bool:
        """Continue from work_dir/checkpoint.pt if there is one; returns whether it did."""
        path = self.work_dir / CHECKPOINT
        if not path.exists():
            return False
        state = load_checkpoint(path, ("model", "optimizer", "result", "generator", "torch_rng"))
        try:
            result = TrainResult(**state["result"])
            if not all(isinstance(getattr(result, name), (int, float)) for name in asdict(result)):
                raise TypeError("its step counts are not numbers")
            self.model.load_state_dict(state["model"], strict=True)
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
        except (RuntimeError, KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise CheckpointError(
                f"{path} does not fit this model or is damaged ({_first_line(err)}); start fresh with --fresh "
                "or use another --work folder"
            ) from err
        self.result = result
        self.result.stopped_early = False
        self.log(f"resumed from {path} at step {self.result.step}")
        return True

    def _save_best(self, val_loss: float) -> None:
        self.result.best_val_loss, self.result.best_step = val_loss, self.result.step
        _atomic_save({"model": self.model.state_dict(), "step": self.result.step, "val_loss": val_loss},
                     self.work_dir / BEST)

    # --- the loop ----------------------------------------------------------------------
    def run(self, until: int | None = None) -> TrainResult:
        """Train up to settings.steps, or pause after step `until` (checkpointed, resumable)."""
        s, r = self.settings, self.result
        last = min(s.steps, until) if until is not None else s.steps
        T = self.model.config.max_position_embeddings
        self.model.train()
        started = time.perf_counter() - r.elapsed_s  # elapsed_s and max_minutes count across resumes
        budget_s = s.max_minutes * 60 if s.max_minutes > 0 else math.inf
        window_tokens, window_start = 0, time.perf_counter()
        while r.step < last and r.elapsed_s < budget_s:
            step = r.step + 1
            lr = lr_at(step, s, r.elapsed_s)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            inputs, targets = random_batch(self.train_stream, s.batch_size, T, self.generator)
            loss = batch_loss(self.model, inputs, targets, s.bf16_autocast)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), s.grad_clip or float("inf"))
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            r.step, r.tokens_seen = step, r.tokens_seen + inputs.numel()
            r.elapsed_s = time.perf_counter() - started
            window_tokens += inputs.numel()
            if step % s.log_every == 0 or step == s.steps:
                now = time.perf_counter()
                rate = window_tokens / max(1e-9, now - window_start)
                eta = min((s.steps - step) * inputs.numel() / max(rate, 1e-9), budget_s - r.elapsed_s)
                self.log(f"{_bar(step, s.steps)} step {step}/{s.steps} | loss {loss.item():.4f} | "
                         f"lr {lr:.2e} | grad {grad_norm:.2f} | {rate:,.0f} tok/s | eta {eta / 60:.1f} min")
                window_tokens, window_start = 0, now
            out_of_time = r.elapsed_s >= budget_s
            if step % s.eval_every == 0 or step == s.steps or out_of_time:
                val = evaluate(self.model, self.val_batches, s.bf16_autocast)
                better = not r.best_val_loss <= val  # also true while best is nan
                if better:
                    self._save_best(val)
                self.log(f"eval step {step} | val loss {val:.4f} | ppl {math.exp(val):.1f}"
                         + (" | best" if better else f" | best {r.best_val_loss:.4f} @ {r.best_step}"))
            if step % s.checkpoint_every == 0 or step == last or out_of_time:
                self.save_checkpoint()
        r.stopped_early = r.step < s.steps and r.elapsed_s >= budget_s
        if r.stopped_early:
            self.log(f"stopping at step {r.step}: the {s.max_minutes}-minute budget is spent")
        return r


def _bar(step: int, total: int, width: int = 20) -> str:
    filled = int(width * step / max(1, total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def load_checkpoint(path: Path, keys: tuple[str, ...]) -> dict:
    """A checkpoint's dict, read with weights_only=True (it cannot run code); CheckpointError otherwise.

    `keys` must all be present. A file holding Python objects beyond tensors and plain values
    (one written by an old glasslm with pickled objects, or a crafted one) is refused unread.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about the pickle protocol of foreign files
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "global" in str(err).lower():  # "Unsupported global" / "unsupported GLOBAL" across torch versions
            raise CheckpointError(
                f"{path} holds Python objects, not only tensors and numbers, and loading it could run code, so "
                "glasslm does not load it (an old checkpoint, or a file glasslm did not write): start over with "
                "--fresh or use another --work folder") from None
        raise _damaged(path, err) from None
    except Exception as err:  # noqa: BLE001 - torch reports truncated or foreign files in several types
        raise _damaged(path, err) from None
    if not isinstance(state, dict) or any(key not in state for key in keys):
        raise CheckpointError(f"{path} is not a glasslm training checkpoint (it lacks "
                              f"{', '.join(k for k in keys if not isinstance(state, dict) or k not in state)}); "
                              "start over with --fresh or use another --work folder")
    return state


def _damaged(path: Path, err: BaseException) -> CheckpointError:
    # torch's own text for a truncated or foreign file ("KeyError: 174812789") helps nobody.
    return CheckpointError(f"{path} is damaged or not a training checkpoint; start over with --fresh "
                           "or use another --work folder")


def _first_line(err: BaseException) -> str:
    lines = str(err).strip().splitlines()
    return lines[0][:200] if lines else type(err).__name__


def _atomic_save(obj, path: Path) -> Path:
    """torch.save through a temporary file, so a full disk or a kill never leaves half a checkpoint."""
    make_folder(path.parent, "work folder")
    return write_with(path, lambda tmp: torch.save(obj, tmp))
