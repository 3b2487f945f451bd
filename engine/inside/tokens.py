"""How text becomes tokens: each token's id, its vocabulary entry, the characters it covers and
what kind of piece it is, plus counts, for one tokenizer (the loaded model's, or any model's
tokenizer read alone with `load_tokenizer`).

Kinds: "text" (a piece that decodes to whole characters), "special" (a control token such as
<|im_start|> or BOS), "byte" (a byte-fallback token <0xE6>, SentencePiece style) and "partial"
(a byte-level BPE piece holding only some bytes of a character: 東 may take three tokens). It
runs no model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..tokenizer import Tokenizer

BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
KINDS = ("text", "special", "byte", "partial")


@dataclass(frozen=True)
class TokenPiece:
    id: int
    piece: str  # the vocabulary entry as the tokenizer stores it ("Ġworld", "▁un", "<0xE6>")
    text: str  # what this token decodes to on its own ("" or "\ufffd" for part of a character)
    start: int  # character span [start, end) of the input it came from (start == end: added, e.g. BOS)
    end: int
    kind: str  # one of KINDS
    bytes_hex: str = ""  # the raw bytes of a "byte" or "partial" piece, e.g. "E6 9D"


@dataclass(frozen=True)
class TokenBreakdown:
    text: str
    pieces: tuple[TokenPiece, ...]

    @property
    def ids(self) -> list[int]:
        return [p.id for p in self.pieces]

    def counts(self) -> dict[str, int]:
        """Tokens of each kind, plus characters, UTF-8 bytes and whitespace-separated words of the text."""
        out = {kind: sum(p.kind == kind for p in self.pieces) for kind in KINDS}
        out.update(tokens=len(self.pieces), characters=len(self.text), bytes=len(self.text.encode("utf-8")),
                   words=len(self.text.split()))
        return out


def token_breakdown(tokenizer: Tokenizer, text: str, add_special_tokens: bool = False) -> TokenBreakdown:
    """Tokenize `text` and describe every token. add_special_tokens: what the tokenizer's post-processor
    adds (BOS for Llama-style tokenizers), as `tokenizer.encode` does."""
    encoding = tokenizer.backend.encode(text, add_special_tokens=add_special_tokens)
    specials = special_ids(tokenizer)
    pieces = []
    for token_id, piece, (start, end) in zip(encoding.ids, encoding.tokens, encoding.offsets):
        alone = tokenizer.token_text(token_id)
        if (match := BYTE_FALLBACK.match(piece)) is not None:  # (some tokenizers list these as added tokens too)
            kind, raw = "byte", bytes([int(match.group(1), 16)])
        elif token_id in specials:
            kind, raw = "special", b""
        elif "\ufffd" in alone and "\ufffd" not in text[start:end]:
            kind, raw = "partial", byte_level_bytes(piece) or b""
        else:
            kind, raw = "text", b""
        pieces.append(TokenPiece(token_id, piece, alone, start, end, kind, raw.hex(" ").upper()))
    return TokenBreakdown(text, tuple(pieces))


def special_ids(tokenizer: Tokenizer) -> set[int]:
    """Ids of the tokenizer's special (control) tokens."""
    ids = {i for i, added in tokenizer.backend.get_added_tokens_decoder().items() if added.special}
    for text in tokenizer.special_tokens.values():
        token_id = tokenizer.token_to_id(text)
        if token_id is not None:
            ids.add(token_id)
    return ids


@lru_cache(maxsize=1)
def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet: the printable character standing for each byte, inverted."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    chars, n = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(printable, chars)}


def byte_level_bytes(piece: str) -> bytes | None:
    """The bytes a byte-level BPE piece stands for ("Ã¶" -> b"\\xc3\\xb6"), or None if it is not one."""
    alphabet = _byte_level_alphabet()
    if not piece or any(c not in alphabet for c in piece):
        return None
    return bytes(alphabet[c] for c in piece)


def load_tokenizer(path: str | Path) -> Tokenizer:
    """The tokenizer of any model folder or GGUF file, without loading its weights."""
    from ..formats import open_source

    return open_source(Path(path).expanduser()).tokenizer
