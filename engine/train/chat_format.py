"""The chat template of trained models: a chat rendered as a scene of a play.

A user turn becomes a speech by QUESTIONER, an assistant turn a speech by BARD ending in
<|eos|>, a system message a bracketed stage direction, any other role a speech by that role's
name in capitals. The same template renders the chat exchanges mixed into the training text,
so a chat is in-distribution. This module does not tokenize.
"""
from __future__ import annotations

from .. import chat_template

USER_SPEAKER = "QUESTIONER"
ASSISTANT_SPEAKER = "BARD"
BOS_TOKEN = "<|bos|>"
EOS_TOKEN = "<|eos|>"
PAD_TOKEN = "<|pad|>"
SPECIAL_TOKENS = (BOS_TOKEN, EOS_TOKEN, PAD_TOKEN)  # ids 0, 1, 2 in this order

# One line with explicit "\n" so that transformers' trim_blocks never eats a newline.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}[{{ message['content'] | trim }}]\n\n"
    "{% elif message['role'] == 'user' %}" + USER_SPEAKER + ".\n{{ message['content'] | trim }}\n\n"
    "{% elif message['role'] == 'assistant' %}" + ASSISTANT_SPEAKER
    + ".\n{{ message['content'] | trim }}{{ eos_token }}\n\n"
    "{% else %}{{ message['role'] | upper }}.\n{{ message['content'] | trim }}\n\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT_SPEAKER + ".\n{% endif %}"
)


def render(messages: list[dict], add_generation_prompt: bool = False) -> str:
    """The chat as text, exactly as transformers' apply_chat_template(tokenize=False) renders it."""
    return chat_template.render(
        CHAT_TEMPLATE, messages, add_generation_prompt, {"bos_token": BOS_TOKEN, "eos_token": EOS_TOKEN}
    )
