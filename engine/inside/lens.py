"""The logit lens: what the model would predict if it stopped after each layer.

One forward pass keeps the residual stream after the embeddings and after every layer
(`Transformer.forward(residuals=...)`); each is read through the final norm and the output head
(`Transformer.readout`), exactly as the last layer's is, so row 0 is the guess from the
embeddings alone and the last row is the model's own prediction. Only the top-k of each row is
kept (a full [layers, T, vocab] would not fit for real vocabularies). It draws nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import checked_ids


@dataclass(frozen=True)
class LogitLens:
    input_ids: tuple[int, ...]  # the T tokens read
    token_ids: torch.Tensor  # (n_layers + 1, T, top_k) the most likely next tokens after each layer, best first
    probs: torch.Tensor  # (n_layers + 1, T, top_k) their probabilities
    final_token_probs: torch.Tensor  # (n_layers + 1, T) probability, at each layer, of the last row's top token

    @property
    def n_rows(self) -> int:
        return self.token_ids.shape[0]


@torch.inference_mode()
def logit_lens(model, ids, top_k: int = 5) -> LogitLens:
    ids = checked_ids(model, ids)
    top_k = max(1, min(int(top_k), model.config.vocab_size))
    network = model.network
    residuals: list[torch.Tensor] = []
    network(torch.tensor([ids], dtype=torch.long, device=model.device), last_only=True, residuals=residuals)
    token_ids, probs, final_rows = [], [], []
    final_top = None
    for x in reversed(residuals):  # the last layer first, so every row can report the final guess
        p = network.readout(x)[0].float().softmax(-1)  # (T, V)
        best = torch.topk(p, top_k, dim=-1)  # (T, k)
        if final_top is None:
            final_top = best.indices[:, :1]  # (T, 1)
        token_ids.append(best.indices.cpu())
        probs.append(best.values.cpu())
        final_rows.append(p.gather(1, final_top)[:, 0].cpu())  # (T,)
    return LogitLens(tuple(ids), torch.stack(token_ids[::-1]), torch.stack(probs[::-1]),
                     torch.stack(final_rows[::-1]))
