"""What the finders report: `Found` (a file or folder that holds a model, with its display name)
and `Skipped` (something that looks like a model but is not listed, and why).

Finders only walk folders and read small index files (manifests, the HF cache layout); what a
model is comes later, from its headers (gguf_facts.py, folder_facts.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# where a model was found, in the order the library lists them
SOURCES = ("shipped", "hf-cache", "lmstudio", "ollama", "gpt4all", "folder")


@dataclass(frozen=True)
class Found:
    path: Path  # what engine.load opens: a model folder or a GGUF file (an Ollama blob is one)
    source: str  # one of SOURCES
    name: str  # how the tool that keeps it names it: "org/repo", "llama3.2:1b", "publisher/repo/file.gguf"
    kind: str  # "folder" | "gguf"


@dataclass(frozen=True)
class Skipped:
    name: str
    source: str
    path: str
    reason: str  # in a few words, with what to do when there is something to do
