"""The Inside page: the ideas of how a Transformer works, shown on the loaded model (tokens,
embeddings, positions, layers, heads, attention, generation and the KV cache, quantization),
and the "Check this answer" view the chat opens. Every computation runs on a model worker."""
