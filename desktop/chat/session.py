"""`ChatSession`: the Chat page's state and logic, without widgets.

It keeps the open conversation (a `ConversationTree` read from `History`), the branch shown,
and the reply being streamed; it sends chat requests to a `ModelHost` and writes to the
history database: a user message as soon as it is sent (so nothing typed is lost), an
assistant message once, when complete, with its settings, stats and tokens, and a "Check this
answer" result with the reply it checks. It emits
signals the page redraws from. It does not draw and never calls the model directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

import engine
from history import History, HistoryError

from ..model_host import ModelHost
from ..records import reply_settings, tokens_from_json, tokens_to_json
from .tree import ConversationTree

TITLE_CHARS = 60


@dataclass
class PendingReply:
    rid: int
    conversation_id: int
    parent_id: int  # the user message being answered
    settings: dict
    tokens: list[engine.Token] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(t.text for t in self.tokens)


class ChatSession(QObject):
    path_changed = Signal()  # the shown messages (or the pending reply's presence) changed
    reply_progress = Signal()  # the pending reply got tokens
    reply_saved = Signal(int)  # message id of a finished reply
    error = Signal(str)
    busy_changed = Signal(bool)
    context_changed = Signal(int, int)  # tokens used, context window
    conversations_changed = Signal()
    settings_loaded = Signal(dict)  # an opened conversation's settings

    def __init__(self, host: ModelHost, history: History, settings_source, parent: QObject | None = None):
        """settings_source() -> (engine.Sampling, system prompt): what the settings panel shows now."""
        super().__init__(parent)
        self.host, self.history, self.settings_source = host, history, settings_source
        self.conversation_id: int | None = None
        self.tree = ConversationTree()
        self.leaf_id: int | None = None
        self.pending: PendingReply | None = None
        self._count_rid: int | None = None
        host.tokens.connect(self._on_tokens)
        host.finished.connect(self._on_finished)
        host.failed.connect(self._on_failed)
        host.counted.connect(self._on_counted)
        host.loaded.connect(lambda _r: self.refresh_context())

    # ---- what is shown ---------------------------------------------------------------------------
    def path(self) -> list[dict]:
        return self.tree.path_to(self.leaf_id)

    def is_busy(self) -> bool:
        return self.pending is not None

    def showing_pending(self) -> bool:
        return self.pending is not None and self.pending.conversation_id == self.conversation_id

    def model_messages(self, path: list[dict], system_prompt: str) -> list[dict]:
        messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
        return messages + [{"role": m["role"], "content": m["content"]} for m in path]

    # ---- actions -----------------------------------------------------------------------------------
    def send(self, text: str) -> bool:
        """Save the user's message and start a reply; False (with an error shown) if it cannot start."""
        if not self._can_start():
            return False
        sampling, system_prompt = self.settings_source()
        try:
            if self.conversation_id is None:
                self._create_conversation(text, sampling, system_prompt)
        except HistoryError as err:
            self.error.emit(str(err))
            return False
        return self._add_user_and_reply(text, parent_id=self.leaf_id)

    def regenerate(self) -> bool:
        """A new reply to the last user message on the shown path (a sibling of the old reply)."""
        path = self.path()
        users = [m for m in path if m["role"] == "user"]
        if not users or not self._can_start():
            return False
        self.leaf_id = users[-1]["id"]
        self._start_reply(users[-1]["id"])
        return True

    def edit_and_resend(self, message_id: int, text: str) -> bool:
        """Branch: a new user message beside `message_id` (same parent), then a reply to it."""
        if message_id not in self.tree.by_id or not self._can_start():
            return False
        return self._add_user_and_reply(text, parent_id=self.tree.by_id[message_id].get("parent_id"))

    def _add_user_and_reply(self, text: str, parent_id: int | None) -> bool:
        """Save the user's message (before any reply, so nothing typed is lost), then start the reply."""
        try:
            user_id = self.history.add_message(self.conversation_id, "user", text, parent_id=parent_id)
        except HistoryError as err:
            self.error.emit(str(err))
            return False
        self._reload(leaf=user_id)
        self._start_reply(user_id)
        return True

    def stop(self):
        if self.pending is not None:
            self.host.cancel(self.pending.rid)

    def new_chat(self):
        self.stop()  # the partial reply is still saved to its own conversation when it ends
        self.conversation_id, self.tree, self.leaf_id = None, ConversationTree(), None
        self.path_changed.emit()
        self.refresh_context()

    def open(self, conversation_id: int):
        if conversation_id == self.conversation_id:
            return
        self.stop()
        try:
            self.conversation_id = conversation_id
            self._reload()
        except HistoryError as err:
            self.error.emit(str(err))
            return
        replies = [m for m in self.path() if m["role"] == "assistant" and m.get("settings")]
        if replies:  # show the settings that produced the latest reply
            self.settings_loaded.emit(replies[-1]["settings"])
        self.refresh_context()

    def select_branch(self, message_id: int):
        """Show the newest path through message_id (one of a set of siblings)."""
        if message_id in self.tree.by_id:
            self.leaf_id = self.tree.leaf_below(message_id)
            self.path_changed.emit()
            self.refresh_context()

    def refresh_context(self):
        info = self.host.info
        if info is None:
            return
        path = self.path()
        if not path:
            self.context_changed.emit(0, info.context_length)
            return
        self._count_rid = self.host.count(self.model_messages(path, self.settings_source()[1]))

    # ---- host results ----------------------------------------------------------------------------
    def _on_tokens(self, rid: int, tokens: list):
        if self.pending is not None and rid == self.pending.rid:
            self.pending.tokens.extend(tokens)
            self.reply_progress.emit()

    def _on_finished(self, rid: int, stats: engine.Stats):
        pending = self.pending
        if pending is None or rid != pending.rid:
            return
        self.pending = None
        try:
            message_id = self.history.add_message(
                pending.conversation_id, "assistant", pending.text, parent_id=pending.parent_id,
                settings=pending.settings, stats=stats.to_dict(), tokens=tokens_to_json(pending.tokens))
            self.history.update_conversation(pending.conversation_id, settings=pending.settings)
        except HistoryError as err:
            self.error.emit(f"the reply could not be saved: {err}")
            message_id = None
        if pending.conversation_id == self.conversation_id:
            self._reload(leaf=message_id)
            info = self.host.info
            if info is not None and stats.prompt_tokens:
                self.context_changed.emit(stats.prompt_tokens + stats.generated_tokens, info.context_length)
        self.busy_changed.emit(False)
        self.conversations_changed.emit()
        if message_id is not None:
            self.reply_saved.emit(message_id)

    def _on_failed(self, rid: int, message: str):
        if self.pending is not None and rid == self.pending.rid:
            self.pending = None  # the user message stays saved: Regenerate retries it
            self.path_changed.emit()
            self.busy_changed.emit(False)
            self.error.emit(message)

    def _on_counted(self, rid: int, count: int):
        if rid == self._count_rid and self.host.info is not None:
            self.context_changed.emit(count, self.host.info.context_length)

    # ---- internals ----------------------------------------------------------------------------
    def _can_start(self) -> bool:
        if self.pending is not None:
            self.error.emit("a reply is still being written; wait for it or press Stop")
            return False
        if self.host.info is None:
            what = "the model is still loading" if self.host.is_loading else "no model is loaded"
            self.error.emit(f"{what}; your message is kept, send it once a model is loaded")
            return False
        return True

    def _create_conversation(self, text: str, sampling: engine.Sampling, system_prompt: str):
        info = self.host.info
        model_id = self.history.upsert_model(info.to_dict()) if info is not None else None
        title = " ".join(text.split())[:TITLE_CHARS] or "New chat"
        self.conversation_id = self.history.new_conversation(
            title, model_id, reply_settings(sampling, system_prompt, info))
        self.conversations_changed.emit()

    def _start_reply(self, user_id: int):
        sampling, system_prompt = self.settings_source()
        messages = self.model_messages(self.tree.path_to(user_id), system_prompt)
        rid = self.host.chat(messages, sampling, truncate=True)  # a long chat drops its oldest turns
        self.pending = PendingReply(rid, self.conversation_id, user_id,
                                    reply_settings(sampling, system_prompt, self.host.info))
        self.path_changed.emit()
        self.busy_changed.emit(True)

    def _reload(self, leaf: int | None = None):
        messages = self.history.messages(self.conversation_id)
        checks = self.history.answer_checks(self.conversation_id)
        for message in messages:
            if message["id"] in checks:  # the newest "Check this answer" result kept with the reply
                row = checks[message["id"]]
                message.update(check=row["check"], check_summary=row["summary"], checked_at=row["created_at"])
        self.tree = ConversationTree(messages)
        self.leaf_id = leaf if leaf in self.tree.by_id else self.tree.newest_leaf()
        self.path_changed.emit()

    # ---- inspection helpers used by the page ------------------------------------------------------
    def tokens_of(self, message_id: int) -> list[engine.Token]:
        return tokens_from_json(self.tree.by_id[message_id].get("tokens"))

    def check_inputs(self, message_id: int) -> tuple[list[dict], list[int], str] | None:
        """What "Check this answer" needs for a shown reply: the messages before it (system prompt
        included), its generated ids (empty when none were stored) and its text; None if not shown."""
        path = self.path()
        index = next((i for i, m in enumerate(path) if m["id"] == message_id), None)
        if index is None or path[index]["role"] != "assistant":
            return None
        message = path[index]
        system = (message.get("settings") or {}).get("system_prompt", self.settings_source()[1])
        return (self.model_messages(path[:index], system), [t.id for t in self.tokens_of(message_id)],
                message["content"])

    def save_check(self, message_id: int, check: dict, summary: str) -> bool:
        """Keep a check with its message in the history (and in the shown tree); False if it could not be saved."""
        try:
            self.history.add_answer_check(message_id, check, summary)
        except HistoryError as err:
            self.error.emit(f"the check could not be saved: {err}")
            return False
        message = self.tree.by_id.get(message_id)
        if message is not None:
            message.update(check=check, check_summary=summary)
            self.path_changed.emit()
        return True

    def attention_for(self, message_id: int) -> int | None:
        """Ask the host for the attention map of one shown message; returns the request id."""
        path = self.path()
        index = next((i for i, m in enumerate(path) if m["id"] == message_id), None)
        if index is None or self.host.info is None:
            return None
        message = path[index]
        system = (message.get("settings") or {}).get("system_prompt", self.settings_source()[1])
        before = self.model_messages(path[:index], system)
        reply_ids = [t.id for t in self.tokens_of(message_id)] if message["role"] == "assistant" else []
        return self.host.attention(before, {"role": message["role"], "content": message["content"]}, reply_ids)
