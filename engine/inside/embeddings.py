"""Similar tokens get similar embeddings: nearest tokens by cosine similarity of the input
embedding rows, and a 2-D map (PCA) of a list of words.

A word that takes several tokens is placed at the mean of its tokens' embeddings (said in the
result). Reads the embedding matrix only; runs no forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import EngineError


@dataclass(frozen=True)
class Neighbor:
    id: int
    text: str  # the token decoded on its own
    cosine: float


@dataclass(frozen=True)
class WordMap:
    words: tuple[str, ...]
    token_ids: tuple[tuple[int, ...], ...]  # the tokens of each word (its point is their mean embedding)
    coords: torch.Tensor  # (N, 2) positions on the first two principal components
    explained: tuple[float, float]  # share of the words' variance each component holds


def input_embeddings(model) -> torch.Tensor:
    """The rows the tokenizer can produce of the input embedding matrix: FloatTensor (V, C)."""
    weight = model.network.model.embed_tokens.weight  # (V_model, C); padding rows past the tokenizer dropped
    rows = min(weight.shape[0], model.tokenizer.vocab_size)
    return weight[:rows].float()


@torch.inference_mode()
def embedding_neighbors(model, token_id: int, k: int = 10) -> list[Neighbor]:
    """The k tokens whose input embeddings are closest by cosine to token_id's, most similar first
    (the token itself left out)."""
    table = input_embeddings(model)  # (V, C)
    if not 0 <= int(token_id) < table.shape[0]:
        raise EngineError(f"token id {token_id} is outside this tokenizer's vocabulary (0..{table.shape[0] - 1})")
    if k < 1:
        raise EngineError("ask for at least one neighbor")
    unit = table / table.norm(dim=-1, keepdim=True).clamp_min(1e-12)  # (V, C)
    cosine = unit @ unit[int(token_id)]  # (V,)
    cosine[int(token_id)] = float("-inf")
    best = torch.topk(cosine, min(k, table.shape[0] - 1))
    return [Neighbor(int(i), model.tokenizer.token_text(int(i)), float(c))
            for c, i in zip(best.values.tolist(), best.indices.tolist())]


def word_ids(tokenizer, word: str) -> list[int]:
    """The tokens of `word` as it appears inside a sentence (after a space), without the bare
    space marker some tokenizers emit first."""
    ids = tokenizer.encode(" " + word.strip())
    while len(ids) > 1 and not tokenizer.token_text(ids[0]).strip():
        ids = ids[1:]
    return ids


@torch.inference_mode()
def word_map(model, words: list[str]) -> WordMap:
    """Each word's (mean) embedding projected on the two directions of largest variance among them."""
    words = [w.strip() for w in words if w.strip()]
    if len(set(words)) < 3:
        raise EngineError("type at least three different words, separated by commas, to draw a map")
    table = input_embeddings(model)
    ids = [tuple(word_ids(model.tokenizer, w)) for w in words]
    points = torch.stack([table[list(i)].mean(0) for i in ids])  # (N, C)
    centered = points - points.mean(0, keepdim=True)  # (N, C)
    _, singular, directions = torch.linalg.svd(centered, full_matrices=False)  # directions (N, C)
    coords = centered @ directions[:2].T  # (N, 2)
    variance = singular ** 2
    share = (variance[:2] / variance.sum().clamp_min(1e-12)).tolist()
    return WordMap(tuple(words), tuple(ids), coords, (share[0], share[1]))
