"""The tokenizer a GGUF file describes in its metadata, built as a `tokenizers.Tokenizer`.

GGUF has no tokenizer.json: llama.cpp stores the vocabulary (`tokenizer.ggml.tokens`), token
types, merges or scores, the pre-tokenizer's name and the special-token ids. This module turns
them into the same kind of tokenizer a Hugging Face folder ships, so the rest of the engine is
unchanged:
- `gpt2` (byte-level BPE): the file's merges, split the text with the regexes llama.cpp uses for
  the named pre-tokenizer (`tokenizer.ggml.pre`), then map bytes to the byte alphabet.
- `llama` (SentencePiece-style BPE with byte fallback): merges from the file, else recovered from
  the scores; a space is prefixed to the text and to the text after each special token, as
  sentencepiece and llama.cpp do.
Control and user-defined tokens are matched whole. It does not read tensors.
"""
from __future__ import annotations

from tokenizers import AddedToken, Regex, decoders, normalizers, pre_tokenizers, processors
from tokenizers import Tokenizer as HFTokenizer
from tokenizers.models import BPE

from ..errors import ModelFormatError, UnsupportedModelError
from ..tokenizer import Tokenizer

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

_GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
           r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
          r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_TEKKEN = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
           r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
           r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_GPT4O = (r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
          r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?"
          r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def _family(regexes: tuple[str, ...], nfc: bool = False, ignore_merges: bool = False) -> dict:
    return {"regexes": regexes, "nfc": nfc, "ignore_merges": ignore_merges}


# `tokenizer.ggml.pre` -> how text is split before the merges (the regexes run in turn, as in
# llama.cpp's llm_tokenizer_bpe); nfc where the original tokenizer.json normalizes to NFC.
PRE_TOKENIZERS = {
    **{name: _family((_GPT2,)) for name in ("gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais", "trillion",
                                            "jina-es", "jina-de", "jina-v1-en", "jina-v2-es", "jina-v2-de",
                                            "jina-v2-code", "roberta-bpe", "gigachat")},
    **{name: _family((_LLAMA3,), ignore_merges=True) for name in ("llama3", "llama-v3", "llama-bpe", "falcon3",
                                                                  "falcon-h1", "pixtral", "midm-2.0", "lfm2",
                                                                  "dbrx", "smaug-bpe")},
    **{name: _family((_QWEN2,), nfc=True) for name in ("qwen2", "deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan")},
    **{name: _family((r"\p{N}", _GPT2)) for name in ("smollm", "starcoder", "refact", "command-r", "codeshell",
                                                     "exaone", "minerva-7b")},
    "tekken": _family((_TEKKEN,)),
    "gpt-4o": _family((_GPT4O,)),
    "llama4": _family((_GPT4O,)),
    "default": _family((r"[\p{P}\$\+<=>\^~\|]+", _GPT2, r"\p{N}+", r"[0-9][0-9][0-9]")),
}


def build_tokenizer(metadata: dict, where: str, eos_extra=()) -> Tokenizer:
    """A glasslm Tokenizer from GGUF metadata (`metadata`: key -> value, arrays as lists)."""
    kind = metadata.get("tokenizer.ggml.model")
    tokens = metadata.get("tokenizer.ggml.tokens")
    if kind is None or not tokens:
        raise ModelFormatError(f"{where} has no tokenizer metadata (tokenizer.ggml.model and tokens); "
                               "glasslm needs the tokenizer stored in the GGUF file: convert the model again "
                               "with llama.cpp's convert_hf_to_gguf.py")
    types = list(metadata.get("tokenizer.ggml.token_type") or [NORMAL] * len(tokens))
    if len(types) != len(tokens):
        raise ModelFormatError(f"{where} has {len(tokens)} tokens but {len(types)} token types; the file is corrupt")
    if kind == "gpt2":
        backend = _byte_level(metadata, tokens, where)
    elif kind == "llama":
        backend = _sentencepiece(metadata, tokens, types, where)
    else:
        raise UnsupportedModelError(f"{where} uses tokenizer type {kind!r}; glasslm reads GGUF tokenizers of type "
                                    "gpt2 (byte-level BPE) and llama (SentencePiece)")
    _add_special(backend, tokens, types, byte_level=kind == "gpt2")
    special = _special_tokens(metadata, tokens)
    add_bos = bool(metadata.get("tokenizer.ggml.add_bos_token", kind == "llama"))
    add_eos = bool(metadata.get("tokenizer.ggml.add_eos_token", False))
    _post_processor(backend, special, add_bos, add_eos)
    config = {**special, "add_bos_token": add_bos, "add_eos_token": add_eos}
    template = metadata.get("tokenizer.chat_template")
    # llama.cpp treats end-of-turn and end-of-message tokens as ends of generation too
    ends = [metadata.get(k) for k in ("tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id")]
    return Tokenizer(backend, config, template if isinstance(template, str) else None,
                     eos_extra=[*eos_extra, *(i for i in ends if isinstance(i, int))])


def _byte_level(metadata: dict, tokens: list[str], where: str) -> HFTokenizer:
    pre = metadata.get("tokenizer.ggml.pre", "default") or "default"
    family = PRE_TOKENIZERS.get(pre)
    if family is None:
        raise UnsupportedModelError(f"{where} uses pre-tokenizer {pre!r}, which glasslm does not know; "
                                    f"known: {', '.join(sorted(PRE_TOKENIZERS))}")
    merges = [_split_merge(m, where) for m in metadata.get("tokenizer.ggml.merges") or []]
    model = BPE(vocab=_vocab(tokens), merges=merges, ignore_merges=family["ignore_merges"], fuse_unk=False,
                byte_fallback=False)
    backend = HFTokenizer(model)
    if family["nfc"]:
        backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r), behavior="isolated") for r in family["regexes"]]
        + [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    backend.decoder = decoders.ByteLevel()
    return backend


def _sentencepiece(metadata: dict, tokens: list[str], types: list[int], where: str) -> HFTokenizer:
    vocab = _vocab(tokens)
    if metadata.get("tokenizer.ggml.merges"):
        merges = [_split_merge(m, where) for m in metadata["tokenizer.ggml.merges"]]
    else:
        scores = metadata.get("tokenizer.ggml.scores")
        if not scores or len(scores) != len(tokens):
            raise ModelFormatError(f"{where} has a SentencePiece vocabulary without scores; the file is corrupt")
        skip = {t for t, kind in zip(tokens, types) if kind in (CONTROL, UNKNOWN, BYTE, UNUSED)}
        merges = _merges_from_scores(vocab, dict(zip(tokens, scores)), skip)
    unk_id = metadata.get("tokenizer.ggml.unknown_token_id")
    unk = tokens[unk_id] if isinstance(unk_id, int) and 0 <= unk_id < len(tokens) else None
    backend = HFTokenizer(BPE(vocab=vocab, merges=merges, unk_token=unk, fuse_unk=True, byte_fallback=True))
    prefix_space = bool(metadata.get("tokenizer.ggml.add_space_prefix", True))
    steps = [normalizers.Prepend("\u2581")] if prefix_space else []
    backend.normalizer = normalizers.Sequence(steps + [normalizers.Replace(" ", "\u2581")])
    decode = [decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()]
    backend.decoder = decoders.Sequence(decode + ([decoders.Strip(" ", 1, 0)] if prefix_space else []))
    return backend


def _vocab(tokens: list[str]) -> dict[str, int]:
    vocab: dict[str, int] = {}
    for index, token in enumerate(tokens):
        vocab.setdefault(token, index)  # a repeated token keeps its first id, as llama.cpp's lookup does
    return vocab


def _split_merge(merge: str, where: str) -> tuple[str, str]:
    left, sep, right = merge.partition(" ")
    if not sep or not left or not right:
        raise ModelFormatError(f"{where} has a malformed merge {merge!r}; the file is corrupt")
    return left, right


def _merges_from_scores(vocab: dict[str, int], scores: dict[str, float], skip: set[str]) -> list[tuple[str, str]]:
    """Merges a SentencePiece BPE vocabulary implies: every split of a piece into two known pieces,
    ranked by the merged piece's score, best first (sentencepiece merges the best-scoring pair)."""
    found = []
    for piece, score in scores.items():
        if piece in skip:
            continue
        local = [(piece[:i], piece[i:], score) for i in range(1, len(piece))
                 if piece[:i] in vocab and piece[i:] in vocab and piece[:i] not in skip and piece[i:] not in skip]
        found.extend(sorted(local, key=lambda m: (vocab[m[0]], vocab[m[1]])))
    found.sort(key=lambda m: (m[2], len(m[0]), len(m[1])), reverse=True)
    return [(left, right) for left, right, _ in found]


def _add_special(backend: HFTokenizer, tokens: list[str], types: list[int], byte_level: bool):
    """Control and unknown tokens match whole as special tokens; user-defined ones as plain added tokens."""
    special = [AddedToken(t, normalized=False, special=True) for t, kind in zip(tokens, types)
               if kind in (CONTROL, UNKNOWN) and t]
    user = [AddedToken(t, normalized=False, special=False) for t, kind in zip(tokens, types)
            if kind == USER_DEFINED and t]
    if special:
        backend.add_special_tokens(special)
    if user:
        backend.add_tokens(user)


def _special_tokens(metadata: dict, tokens: list[str]) -> dict[str, str]:
    found = {}
    for key, name in (("bos_token_id", "bos_token"), ("eos_token_id", "eos_token"),
                      ("unknown_token_id", "unk_token"), ("padding_token_id", "pad_token"),
                      ("seperator_token_id", "sep_token")):
        index = metadata.get(f"tokenizer.ggml.{key}")
        if isinstance(index, int) and 0 <= index < len(tokens):
            found[name] = tokens[index]
    return found


def _post_processor(backend: HFTokenizer, special: dict[str, str], add_bos: bool, add_eos: bool):
    """BOS/EOS added by encode(add_special_tokens=True), as the file's add_bos/add_eos flags say."""
    bos = special.get("bos_token") if add_bos else None
    eos = special.get("eos_token") if add_eos else None
    if bos is None and eos is None:
        return
    marks = [(t, backend.token_to_id(t)) for t in dict.fromkeys(x for x in (bos, eos) if x)]
    single = " ".join(([f"{bos}:0"] if bos else []) + ["$A:0"] + ([f"{eos}:0"] if eos else []))
    pair = single + " " + " ".join(([f"{bos}:1"] if bos else []) + ["$B:1"] + ([f"{eos}:1"] if eos else []))
    backend.post_processor = processors.TemplateProcessing(single=single, pair=pair, special_tokens=marks)
