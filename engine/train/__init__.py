"""Pretraining small Llama-architecture models: the code behind `glasslm train` and the bundled model.

Submodules: recipe (settings), data (corpus and batches), chat_format (the chat template),
tokenizer_trainer (byte-level BPE), trainer (the loop and checkpoints), export (the Hugging Face
folder), pipeline (one run end to end), cli (`register`).
Nothing here runs at inference time; the app never imports it.
"""
from .cli import register

__all__ = ["register"]
