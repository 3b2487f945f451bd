"""The tokenizer of a model folder: `tokenizer.json` through the `tokenizers` library,
special tokens and the chat template from `tokenizer_config.json` (or `chat_template.jinja`).

Also streams text: `TextStream` turns token ids into text deltas that never split a
character (byte-level and byte-fallback tokens can end mid-UTF-8 sequence). It does not
run the model.
"""
from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer

from . import chat_template
from .checkpoint import read_json
from .errors import ModelFormatError

SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token")


def _token_text(value) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value


class Tokenizer:
    def __init__(self, backend: HFTokenizer, config: dict, chat_template_source: str | None, eos_extra=()):
        self.backend = backend
        self.config = config
        self.chat_template = chat_template_source
        self.special_tokens = {
            key: text for key in SPECIAL_TOKEN_KEYS if (text := _token_text(config.get(key))) is not None
        }
        self.bos_id = self.token_to_id(self.special_tokens.get("bos_token"))
        eos = self.token_to_id(self.special_tokens.get("eos_token"))
        ids = ([eos] if eos is not None else []) + [i for i in eos_extra if i is not None]
        self.eos_ids: list[int] = list(dict.fromkeys(ids))
        self.add_bos = bool(config.get("add_bos_token", False))  # what transformers' tokenizer(text) adds
        self.vocab_size = backend.get_vocab_size(with_added_tokens=True)
        self._token_texts: dict[int, str] = {}
        self.chat_template_problem: str | None = None  # why the folder's template could not be read, if so

    @classmethod
    def from_folder(cls, folder: Path, eos_extra=()) -> "Tokenizer":
        path = folder / "tokenizer.json"
        if not path.exists():
            raise ModelFormatError(
                f"{folder} has no tokenizer.json; glasslm needs the fast-tokenizer file that "
                "Hugging Face model folders ship (save it with tokenizer.save_pretrained)"
            )
        try:
            backend = HFTokenizer.from_file(str(path))
        except Exception as err:  # tokenizers raises a bare Exception on a bad file
            raise ModelFormatError(f"{path} could not be read ({err}); re-download it")
        # Fine-tuners' files often store padding/truncation for batched training; transformers never
        # applies them to one text, and neither does glasslm (they would pad or cut every prompt).
        backend.no_padding()
        backend.no_truncation()
        config_path = folder / "tokenizer_config.json"
        config = read_json(config_path, "tokenizer_config.json") if config_path.exists() else {}
        if not isinstance(config, dict):
            raise ModelFormatError(f"{config_path} is not a JSON object; re-download the model's tokenizer files")
        for key in SPECIAL_TOKEN_KEYS:
            if key in config and not isinstance(_token_text(config[key]), (str, type(None))):
                raise ModelFormatError(f"{config_path} has a {key} that is not text; fix or re-download the file")
        template, problem = _chat_template_source(folder, config)
        tokenizer = cls(backend, config, template, eos_extra)
        tokenizer.chat_template_problem = problem
        return tokenizer

    def token_to_id(self, text: str | None) -> int | None:
        return None if text is None else self.backend.token_to_id(text)

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Token ids of `text`. With add_special_tokens, the tokenizer.json post-processor adds BOS etc.,
        which is what transformers' tokenizer(text) gives."""
        return self.backend.encode(text, add_special_tokens=add_special_tokens).ids

    def token_text(self, token_id: int) -> str:
        """The text of one token alone (for showing alternatives); cached."""
        text = self._token_texts.get(token_id)
        if text is None:
            text = self._token_texts[token_id] = self.backend.decode([token_id], skip_special_tokens=False)
        return text

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return self.backend.decode(list(ids), skip_special_tokens=skip_special_tokens)

    def render_chat(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        if self.chat_template_problem:
            raise ModelFormatError(self.chat_template_problem)
        if not self.chat_template:
            raise ModelFormatError(
                "this model has no chat template (tokenizer_config.json has no chat_template); "
                "use plain generation instead of chat"
            )
        return chat_template.render(self.chat_template, messages, add_generation_prompt, self.special_tokens)


def _chat_template_source(folder: Path, config: dict) -> tuple[str | None, str | None]:
    """(template source, None), or (None, why it cannot be used). A broken template is reported when
    a chat is rendered, never at load: plain generation must keep working."""
    jinja_file = folder / "chat_template.jinja"
    if jinja_file.exists():
        try:
            return jinja_file.read_text(encoding="utf-8"), None
        except UnicodeDecodeError:
            return None, f"{jinja_file} is not UTF-8 text; fix or re-download it (plain generation still works)"
        except OSError as err:
            return None, f"{jinja_file} could not be read ({err.strerror or err}); plain generation still works"
    template = config.get("chat_template")
    where = "tokenizer_config.json"
    json_file = folder / "chat_template.json"
    if template is None and json_file.exists():
        where = "chat_template.json"
        try:
            data = json.loads(json_file.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None, f"{json_file} is not valid JSON; fix or re-download it (plain generation still works)"
        template = data.get("chat_template") if isinstance(data, dict) else None
    if isinstance(template, list):  # named templates: use "default"
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default") or next(iter(named.values()), None)
    if template is not None and not isinstance(template, str):
        return None, (f"the chat template in {where} is not text (it is a {type(template).__name__}); "
                      "fix the file (plain generation still works)")
    return template, None


class TextStream:
    """Incremental detokenizer: feed ids one at a time, get text deltas of whole characters."""

    def __init__(self, tokenizer: Tokenizer, context_ids: list[int] = ()):
        self.tokenizer = tokenizer
        self.ids: list[int] = list(context_ids[-4:])  # a little context so leading spaces decode right
        self.prefix_offset = 0
        self.read_offset = len(self.ids)

    def push(self, token_id: int) -> str:
        self.ids.append(token_id)
        prefix_text = self.tokenizer.decode(self.ids[self.prefix_offset:self.read_offset])
        new_text = self.tokenizer.decode(self.ids[self.prefix_offset:])
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            delta = new_text[len(prefix_text):]
            self.prefix_offset = self.read_offset
            self.read_offset = len(self.ids)
            return delta
        return ""

    def flush(self) -> str:
        """Whatever is still held back at the end of the stream (e.g. bytes that never completed)."""
        prefix_text = self.tokenizer.decode(self.ids[self.prefix_offset:self.read_offset])
        new_text = self.tokenizer.decode(self.ids[self.prefix_offset:])
        self.prefix_offset = self.read_offset = len(self.ids)
        return new_text[len(prefix_text):] if len(new_text) > len(prefix_text) else ""
