"""Rendering a checkpoint's own Jinja chat template, the way transformers does.

Uses jinja2's immutable sandbox (templates come from downloaded files and must not reach
Python objects), the same trim/lstrip settings, `raise_exception`, `strftime_now` and a
`tojson` that keeps non-ASCII text. It does not tokenize.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import ModelFormatError


class _GenerationBlock(Extension):
    """`{% generation %}...{% endgeneration %}` marks assistant text for training masks; render its body as is."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def _raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=16)
def compile_template(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_GenerationBlock, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as err:
        raise ModelFormatError(f"the model's chat template has a syntax error (line {err.lineno}: {err.message})") from None
    except Exception as err:  # e.g. a template so deeply nested the parser gives up
        raise ModelFormatError(f"the model's chat template could not be read ({type(err).__name__})") from None


def render(source: str, messages: list[dict], add_generation_prompt: bool, special_tokens: dict[str, str]) -> str:
    template = compile_template(source)
    try:
        return template.render(
            messages=messages, add_generation_prompt=add_generation_prompt, tools=None, documents=None,
            **special_tokens,
        )
    except jinja2.TemplateError as err:
        raise ModelFormatError(f"the model's chat template refused these messages: {err}") from None
    except Exception as err:  # the template's own code failed ({{ 1/0 }}, {{ 'a' + 1 }}): the file's fault, not ours
        raise ModelFormatError(f"the model's chat template failed while rendering ({type(err).__name__}: {err}); "
                               "fix the template, or use plain generation instead of chat") from None
