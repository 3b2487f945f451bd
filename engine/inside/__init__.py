"""What happens inside a loaded model, as plain data: the computations behind the app's Inside page.

One module per idea of how a Transformer works, each a function of a loaded `Model` (or of
weights it already computed) returning small dataclasses or tensors:
- tokens.py: how text becomes tokens (boundaries, ids, byte pieces, special tokens);
- embeddings.py: nearest tokens by cosine of the input embeddings, a 2-D PCA map of words;
- positions.py: rotary frequencies per pair (scaling applied), learned position similarity,
  attention by relative distance per head;
- lens.py: the logit lens (each layer's residual stream read through the final norm and head);
- heads.py: each head's pattern summarised (previous-token, first-token sink, broad, self);
- stepper.py: generation one token at a time with the sampling settings explained, KV cache sizes;
- compare.py: the same text under two precisions, token by token;
- selfcheck.py: "check this answer", SelfCheckGPT-style agreement of sampled answers.
Nothing here draws, stores or imports Qt; `Model.embedding_neighbors` and `Model.logit_lens`
are thin wrappers over embeddings.py and lens.py.
"""
