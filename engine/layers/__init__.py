"""The pieces a decoder layer is made of, one job per module.

- linear.py: calling a projection cheaply, and several projections stacked into one matmul;
- norms.py: RMSNorm (Llama's and Gemma's 1 + weight form) and LayerNorm with bias (GPT-2);
- positions.py: rotary tables (per rope kind: global, Gemma 3's local, LongRoPE's long factors)
  and applying them, also to part of a head (partial rotary);
- span.py: what one forward call's tokens share (positions, which keys each query may see, the cache);
- attention.py: the projections, and `attend`, the one cached-attention function every path uses;
- mlp.py: gated (SwiGLU, GeGLU) and plain (GPT-2) MLPs with their activations;
- block.py: `DecoderLayer`, the one layer step (pre-norm, or Gemma's norms around each sublayer).
Nothing here reads files, tokenizes or samples; engine/transformer.py stacks these into a `Transformer`.
"""
