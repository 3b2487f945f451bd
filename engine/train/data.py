"""Corpus reading, the train/validation split, and batches of token windows.

Documents are whole text files; validation holds out whole documents (a seeded choice), so
no held-out line has a near copy in training. Dialogue is also turned into chat exchanges
(`chat_format`), so the model learns the chat layout and to stop with <|eos|> after its reply.
Each document is framed as <|bos|> text <|eos|> and the documents are concatenated into one
token stream; a batch is random windows of that stream. Tokenizer training is elsewhere.
"""
from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import EngineError
from . import chat_format


class CorpusError(EngineError):
    """The corpus folders are missing, empty, or too small to split."""


@dataclass(frozen=True)
class Document:
    name: str  # file name, used for the seeded split and in reports
    text: str  # the whole text, newlines normalised to "\n"


@dataclass(frozen=True)
class Split:
    train: list[Document]  # documents the model and tokenizer learn from
    val: list[Document]  # whole documents held out for validation loss


# A speaker line as the Gutenberg plays write it: "Hor." or "FIRST WITCH." alone on a line.
_SPEAKER = re.compile(r"^([A-Z][A-Za-z']*(?: [A-Z][A-Za-z']*){0,3})\.$")


def read_corpus(folders: list[Path], file_glob: str = "*.txt") -> list[Document]:
    docs = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise CorpusError(f"corpus folder {folder} does not exist; pass a folder of .txt files with --corpus")
        for path in sorted(folder.glob(file_glob)):
            text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n").strip()
            if text:
                docs.append(Document(path.name, text))
    if len(docs) < 2:
        raise CorpusError(
            f"found {len(docs)} non-empty '{file_glob}' file(s) in {', '.join(map(str, folders))}; "
            "training needs at least two documents (one is held out for validation)"
        )
    return docs


def split_documents(docs: list[Document], val_fraction: float, seed: int) -> Split:
    """Hold out whole documents, in a seeded order, until they hold val_fraction of the characters."""
    order = sorted(docs, key=lambda d: zlib.crc32(f"{seed}:{d.name}".encode()))
    target = val_fraction * sum(len(d.text) for d in docs)
    val, held = [], 0
    for doc in order[:-1]:  # keep at least one document for training
        if held >= target:
            break
        val.append(doc)
        held += len(doc.text)
    val_names = {d.name for d in val}
    return Split(train=[d for d in docs if d.name not in val_names], val=val)


def speeches(text: str) -> list[tuple[str, str]]:
    """(speaker, speech) pairs of a play: a speaker line, then the lines up to the next blank line."""
    found = []
    for block in text.split("\n\n"):
        lines = block.strip("\n").split("\n")
        if len(lines) < 2:
            continue
        match = _SPEAKER.match(lines[0].strip())
        body = "\n".join(line for line in lines[1:] if not line.startswith("[")).strip()
        if match and body:
            found.append((match.group(1), body))
    return found


def chat_exchanges(doc: Document, fraction: float, seed: int) -> list[str]:
    """Rendered chats made of consecutive speeches by two different speakers of `doc`.

    A chosen speech becomes the user turn and the reply to it the assistant turn; sometimes one
    more exchange follows, and sometimes the scene's stage direction opens as a system message.
    """
    rng = random.Random(f"{seed}:{doc.name}")
    lines = speeches(doc.text)
    chats = []
    i = 0
    while i + 1 < len(lines):
        (who_a, a), (who_b, b) = lines[i], lines[i + 1]
        if who_a != who_b and rng.random() < fraction:
            messages = [{"role": "user", "content": a}, {"role": "assistant", "content": b}]
            if i + 3 < len(lines) and lines[i + 2][0] == who_a and lines[i + 3][0] == who_b and rng.random() < 0.5:
                messages += [{"role": "user", "content": lines[i + 2][1]},
                             {"role": "assistant", "content": lines[i + 3][1]}]
                i += 2
            if rng.random() < 0.1:
                messages.insert(0, {"role": "system", "content": f"A scene. {who_a} and {who_b} speak."})
            chats.append(chat_format.render(messages).rstrip())
            i += 2
        else:
            i += 1
    return chats


def token_stream(docs: list[Document], tokenizer, chat_fraction: float, seed: int) -> torch.Tensor:
    """All documents, then their chat exchanges, framed by bos/eos, as one LongTensor (N,)."""
    bos = tokenizer.token_to_id(chat_format.BOS_TOKEN)
    eos = tokenizer.token_to_id(chat_format.EOS_TOKEN)
    pieces = []
    texts = [d.text for d in docs]
    for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
        pieces.append([bos] + encoding.ids + [eos])
    chats = [c for d in docs for c in chat_exchanges(d, chat_fraction, seed)]
    for encoding in tokenizer.encode_batch(chats, add_special_tokens=False):
        pieces.append(encoding.ids)  # the template already wrote <|bos|> ... <|eos|>
    random.Random(seed).shuffle(pieces)
    return torch.tensor([t for piece in pieces for t in piece], dtype=torch.long)


def random_batch(stream: torch.Tensor, batch_size: int, context: int, generator: torch.Generator):
    """Inputs and targets (B, T): random windows of the stream, targets shifted by one."""
    if len(stream) <= context + 1:
        raise CorpusError(f"the training text has {len(stream)} tokens, fewer than one window of {context + 1}")
    starts = torch.randint(0, len(stream) - context - 1, (batch_size,), generator=generator)  # (B,)
    windows = torch.stack([stream[s : s + context + 1] for s in starts.tolist()])  # (B, T+1)
    return windows[:, :-1], windows[:, 1:]


def fixed_batches(stream: torch.Tensor, batch_size: int, context: int, max_batches: int):
    """Validation batches: consecutive non-overlapping windows, the same on every pass."""
    n_windows = min((len(stream) - 1) // context, batch_size * max_batches)
    if n_windows == 0:
        raise CorpusError(f"the validation text has {len(stream)} tokens, fewer than one window of {context + 1}")
    windows = torch.stack([stream[i * context : i * context + context + 1] for i in range(n_windows)])  # (N, T+1)
    return [(w[:, :-1], w[:, 1:]) for w in windows.split(batch_size)]
