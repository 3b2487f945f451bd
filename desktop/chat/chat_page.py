"""The Chat page: model panel on top; conversation list, chat column and composer, and the
Settings / Tokens / Attention / Check tabs side by side ("Check this answer" samples more
replies on the model worker and keeps the result with the message).

It only wires widgets to a `ChatSession` (state, history writes) and a `ModelHost` (model
work on the worker thread), and throttles Markdown re-rendering of the streaming reply to
about 30 frames a second.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QSplitter, QTabWidget, QVBoxLayout, QWidget

from history import History

from engine.inside.selfcheck import AnswerCheck

from ..inside.check_view import CheckView, check_job
from ..inspect.attention_view import AttentionView
from ..inspect.token_view import TokenView
from ..message_bar import MessageBar
from ..model_host import ModelHost
from ..model_panel import ModelPanel
from ..settings_panel import SettingsPanel
from ..turn_notice import TurnNotice
from .composer import Composer
from .conversation_list import ConversationList
from .message_view import ChatView
from .session import ChatSession

RENDER_INTERVAL_MS = 33  # re-render the streaming Markdown at most ~30 times a second


class ChatPage(QWidget):
    def __init__(self, host: ModelHost, history: History, settings: QSettings, default_model: Path,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.host, self.history, self.settings = host, history, settings
        self.model_panel = ModelPanel(host, settings, default_model)
        self.message_bar = MessageBar()
        self.conversations = ConversationList(history)
        self.chat_view = ChatView()
        self.composer = Composer()
        self.turn_notice = TurnNotice(host)  # a reply waiting for the eval run sharing the model
        self.context_meter = QProgressBar()
        self.context_meter.setTextVisible(False)
        self.context_meter.setRange(0, 1)
        self.context_meter.setValue(0)
        self.context_meter.setMaximumHeight(12)
        self.context_label = QLabel("0 / – tokens")
        self.settings_panel = SettingsPanel(settings, "chat")
        self.token_view = TokenView()
        self.attention_view = AttentionView()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.settings_panel, "Settings")
        self.tabs.addTab(self.token_view, "Tokens")
        self.tabs.addTab(self.attention_view, "Attention")
        self.check_view = CheckView()
        self.tabs.addTab(self.check_view, "Check")
        self.session = ChatSession(host, history, lambda: (self.settings_panel.sampling(),
                                                           self.settings_panel.system_prompt()))
        self._layout()
        self.render_timer = QTimer(self)
        self.render_timer.setSingleShot(True)
        self.render_timer.setInterval(RENDER_INTERVAL_MS)
        self.render_timer.timeout.connect(self._render_streaming)
        self._attention_rid: int | None = None
        self._attention_title = ""
        self._check_rid: int | None = None
        self._check_message: int | None = None
        self._follow_live = False
        self._connect()
        QShortcut(QKeySequence.StandardKey.New, self, self.new_chat)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.session.stop)
        self.restore_state()

    def _layout(self):
        meter_row = QHBoxLayout()
        meter_row.addWidget(QLabel("Context"))
        meter_row.addWidget(self.context_meter, 1)
        meter_row.addWidget(self.context_label)
        center = QWidget()
        column = QVBoxLayout(center)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.chat_view, 1)
        column.addLayout(meter_row)
        column.addWidget(self.turn_notice)
        column.addWidget(self.composer)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.conversations)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([220, 640, 460])
        layout = QVBoxLayout(self)
        layout.addWidget(self.model_panel)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.splitter, 1)

    def _connect(self):
        s, view = self.session, self.chat_view
        s.path_changed.connect(self._show_path)
        s.reply_progress.connect(self._schedule_render)
        s.busy_changed.connect(self.composer.set_busy)
        s.busy_changed.connect(self._on_busy)
        s.error.connect(self.message_bar.show_error)
        s.context_changed.connect(self._set_context)
        s.conversations_changed.connect(self.conversations.refresh)
        s.settings_loaded.connect(self.settings_panel.set_from)
        s.settings_loaded.connect(self._offer_conversation_model)
        s.reply_saved.connect(self._on_reply_saved)
        self.composer.send_requested.connect(self._send)
        self.composer.resend_requested.connect(self._resend)
        self.composer.stop_requested.connect(s.stop)  # also Esc; Ctrl+N starts a new chat
        view.edit_requested.connect(self._begin_edit)
        view.tokens_requested.connect(self.show_tokens)
        view.attention_requested.connect(self.show_attention)
        view.check_requested.connect(self.show_check)
        self.check_view.run_requested.connect(lambda n, seed: self.check_answer(self.check_view.message_id, n, seed))
        view.regenerate_requested.connect(s.regenerate)
        view.branch_requested.connect(s.select_branch)
        self.conversations.open_requested.connect(s.open)
        self.conversations.new_requested.connect(self.new_chat)
        self.conversations.error.connect(self.message_bar.show_error)
        self.model_panel.error.connect(self.message_bar.show_error)
        self.host.loading.connect(lambda _r: self.message_bar.clear())
        self.host.loaded.connect(lambda result: self.settings_panel.use_model_defaults(result.defaults))
        self.host.attention_ready.connect(self._on_attention)
        self.host.failed.connect(self._on_failed)
        self.host.computed.connect(self._on_check_done)
        self.host.progressed.connect(self._on_check_progress)

    # ---- actions ------------------------------------------------------------------------------
    def new_chat(self):
        self.composer.cancel_edit()
        self.session.new_chat()

    def show_tokens(self, message_id: int):
        self._follow_live = False
        self.token_view.set_tokens(self.session.tokens_of(message_id), f"Reply {message_id}", message_id)
        self.tabs.setCurrentWidget(self.token_view)

    def show_attention(self, message_id: int):
        self._attention_rid = self.session.attention_for(message_id)
        self.tabs.setCurrentWidget(self.attention_view)
        if self._attention_rid is None:
            self.attention_view.show_error("load a model first")
        else:
            self._attention_title = f"Message {message_id}"
            self.attention_view.show_pending(self._attention_title)

    def show_check(self, message_id: int):
        """Show the stored check of a reply, or check it now when it has none."""
        self.tabs.setCurrentWidget(self.check_view)
        self.check_view.set_message(message_id)
        message = self.session.tree.by_id.get(message_id) or {}
        if message.get("check"):
            self.check_view.show_check(AnswerCheck.from_dict(message["check"]), message.get("checked_at", ""))
        else:
            self.check_answer(message_id, self.check_view.samples_box.value(), self.check_view.seed_box.value())

    def check_answer(self, message_id: int | None, n: int = 5, seed: int = 0) -> int | None:
        """Sample n more answers to the conversation before the reply and score the reply against them."""
        inputs = self.session.check_inputs(message_id) if message_id is not None else None
        if inputs is None or self.host.info is None:
            self.check_view.show_error("load a model and choose “Check” under a reply shown in the chat")
            return None
        if self._check_rid is not None:
            self.host.cancel(self._check_rid)
        before, reply_ids, content = inputs
        self._check_message = message_id
        self._check_rid = self.host.compute(check_job(before, reply_ids, content, n, seed), "checking the answer")
        self.check_view.show_progress(f"Waiting for the model (sampling {n} answers)…")
        return self._check_rid

    def _on_check_progress(self, rid: int, text: str):
        if rid == self._check_rid:
            self.check_view.show_progress(text)

    def _on_check_done(self, rid: int, check):
        if rid != self._check_rid:
            return
        self._check_rid = None
        self.session.save_check(self._check_message, check.to_dict(), check.summary())
        if self.check_view.message_id == self._check_message:
            self.check_view.show_check(check)

    def _send(self, text: str):
        if self.session.send(text):
            self.composer.accepted()

    def _resend(self, message_id: int, text: str):
        if self.session.edit_and_resend(message_id, text):
            self.composer.accepted()

    def _begin_edit(self, message_id: int):
        self.composer.begin_edit(message_id, self.session.tree.by_id[message_id]["content"])

    # ---- session and host results ---------------------------------------------------------------
    def _show_path(self):
        self.chat_view.show_path(self.session.path(), self.session.tree, self.session.showing_pending())
        self.conversations.mark_current(self.session.conversation_id)
        if self.session.showing_pending():
            self._render_streaming()

    def _schedule_render(self):
        if not self.render_timer.isActive():
            self.render_timer.start()

    def _render_streaming(self):
        pending = self.session.pending
        if pending is None or not self.session.showing_pending():
            return
        self.chat_view.set_streaming_text(pending.text)
        if self._follow_live:
            self.token_view.set_tokens(pending.tokens, "Reply being written")

    def _on_busy(self, busy: bool):
        if busy:
            self._follow_live = self.tabs.currentWidget() is self.token_view
        else:
            self.render_timer.stop()

    def _on_reply_saved(self, message_id: int):
        if self._follow_live and message_id in self.session.tree.by_id:
            self.show_tokens(message_id)
            self._follow_live = True

    def _set_context(self, used: int, total: int):
        self.context_meter.setRange(0, max(total, 1))
        self.context_meter.setValue(min(used, total))
        self.context_label.setText(f"{used} / {total} tokens")
        self.context_meter.setToolTip("Tokens of this conversation (system prompt and template included) "
                                      "against the model's context window")

    def _on_attention(self, rid: int, attention):
        if rid == self._attention_rid:
            self.attention_view.set_map(attention, self._attention_title)

    def _on_failed(self, rid: int, message: str):
        if rid == self._attention_rid:
            self.attention_view.show_error(message)
        if rid == self._check_rid:
            self._check_rid = None
            self.check_view.show_error(message)

    # ---- persistence ----------------------------------------------------------------------------
    def _offer_conversation_model(self, settings: dict):
        """Preselect the model and precision that wrote an opened chat; loading stays the user's choice."""
        path, precision = settings.get("model_path"), settings.get("precision")
        info = self.host.info
        if not path or (info is not None and info.path == path and info.precision == precision):
            return
        self.model_panel.chooser.set_request(path, None, precision)
        name = settings.get("model_name") or Path(path).name
        self.message_bar.show_info(f"This chat was written by {name} ({precision}). It is selected above: press Load "
                                   "to continue with it, or keep chatting with the current model.")

    def save_state(self):
        self.settings.setValue("chat/splitter", self.splitter.saveState())
        self.settings.setValue("chat/tab", self.tabs.currentIndex())
        self.settings_panel.save()

    def restore_state(self):
        state = self.settings.value("chat/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        self.tabs.setCurrentIndex(int(self.settings.value("chat/tab", 0) or 0))
