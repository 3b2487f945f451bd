"""Training recipes: the model shape and optimisation settings of a run, as frozen dataclasses.

`BARD_MINI` is the recipe of the model shipped in `assets/models/bard-mini/`; `TINY` is a
seconds-long recipe for tests. This module holds numbers only; it reads no files and trains nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class ModelShape:
    vocab_size: int = 8192  # BPE vocabulary, special tokens included
    hidden_size: int = 384  # width of the residual stream
    intermediate_size: int = 1024  # width of the SwiGLU MLP
    num_layers: int = 6  # decoder blocks
    num_heads: int = 6  # query heads (head_dim = hidden_size / num_heads)
    num_kv_heads: int = 2  # key/value heads (grouped-query attention)
    context_length: int = 256  # training window and max_position_embeddings
    rope_theta: float = 10000.0  # rotary base
    rms_norm_eps: float = 1e-5  # RMSNorm epsilon
    tie_embeddings: bool = True  # lm_head reuses the embedding matrix (saves vocab*hidden params)


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 1800  # optimizer steps; the cosine schedule ends here
    batch_size: int = 16  # windows per step (tokens per step = batch_size * context_length)
    lr: float = 1.5e-3  # peak learning rate, reached after warmup
    min_lr_ratio: float = 0.1  # the cosine decays to lr * min_lr_ratio
    warmup_steps: int = 150  # linear warmup from 0
    weight_decay: float = 0.1  # AdamW decay on matrices (not on norms)
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW betas
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    dropout: float = 0.1  # dropout on each attention/MLP output during training only
    eval_every: int = 200  # steps between validation passes
    eval_batches: int = 20  # validation batches per pass (fixed windows, same every pass)
    checkpoint_every: int = 200  # steps between resumable checkpoints
    log_every: int = 10  # steps between progress lines
    seed: int = 1234  # seeds init, data order and the split
    bf16_autocast: bool = True  # bfloat16 matmuls (about 2-5x faster on CPUs with AMX/AVX512-BF16)
    max_minutes: float = 0.0  # training-time budget across resumes: the cosine ends by then and training stops; 0 = none


@dataclass(frozen=True)
class DataSettings:
    file_glob: str = "*.txt"  # which files of the corpus folders to read
    val_fraction: float = 0.05  # share of characters held out, as whole documents
    chat_fraction: float = 0.25  # share of speech pairs also rendered as chat-template exchanges
    tokenizer_sample_chars: int = 0  # train the tokenizer on at most this many characters; 0 = all


@dataclass(frozen=True)
class Recipe:
    name: str  # folder name of the exported model
    shape: ModelShape = field(default_factory=ModelShape)
    train: TrainSettings = field(default_factory=TrainSettings)
    data: DataSettings = field(default_factory=DataSettings)

    def with_overrides(self, **train_overrides) -> "Recipe":
        """A copy with some TrainSettings fields replaced (None values are ignored)."""
        changes = {k: v for k, v in train_overrides.items() if v is not None}
        return replace(self, train=replace(self.train, **changes))


# The shipped default model. `*_gut.txt` keeps the modern-spelling Gutenberg texts of the
# `shakespeare` package and skips its `*_gut_f.txt` First Folio duplicates, which would leak
# held-out plays into training under another spelling.
BARD_MINI = Recipe(
    name="bard-mini",
    shape=ModelShape(),
    train=TrainSettings(),
    data=DataSettings(file_glob="*_gut.txt"),
)

# A few-second run for tests: a small vocabulary and a two-layer model.
TINY = Recipe(
    name="tiny",
    shape=ModelShape(vocab_size=512, hidden_size=64, intermediate_size=128, num_layers=2,
                     num_heads=4, num_kv_heads=2, context_length=64),
    train=TrainSettings(steps=40, batch_size=8, lr=3e-3, warmup_steps=5, dropout=0.0, eval_every=20,
                        eval_batches=4, checkpoint_every=20, log_every=10, bf16_autocast=False),
    data=DataSettings(val_fraction=0.2, chat_fraction=0.25),
)

RECIPES = {r.name: r for r in (BARD_MINI, TINY)}
