"""Views that look inside the model: per-token probabilities and attention heatmaps."""
