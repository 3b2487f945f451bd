"""The Compare page: one prompt, two settings (model, precision, device, sampling), each
streaming into its own column with its stats.

Each side runs on a `ModelHost`: the Chat page's when it already has exactly that model,
else one of (at most two) hosts this page owns (their models come from the app's pool, so a
model some other page has loaded is not loaded again). Two different models run in parallel on two
worker threads; two sides with the same model share one host and run one after the other
(the worker handles requests in order). This page does no model work itself.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QSplitter, QVBoxLayout, QWidget,
)

from .compare_side import CompareSide
from .message_bar import MessageBar
from .model_host import ModelHost
from .model_worker import LoadRequest

MAX_OWN_HOSTS = 2
RENDER_INTERVAL_MS = 33


class ComparePage(QWidget):
    run_finished = Signal()  # both sides are done (finished, stopped or failed)

    def __init__(self, settings: QSettings, default_model: Path, chat_host: ModelHost, host_factory,
                 parent: QWidget | None = None):
        """host_factory() -> a new ModelHost (the page owns and shuts down the ones it makes)."""
        super().__init__(parent)
        self.settings, self.chat_host, self.host_factory = settings, chat_host, host_factory
        self.own_hosts: list[ModelHost] = []
        self.message_bar = MessageBar()
        self.system_prompt = QLineEdit()
        self.system_prompt.setPlaceholderText("System prompt for both sides (optional)")
        self.prompt = QPlainTextEdit()
        self.prompt.setPlaceholderText("One prompt, sent to both sides")
        self.prompt.setMaximumHeight(90)
        self.run_button = QPushButton("Run both")
        self.run_button.clicked.connect(self.run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.sides = [CompareSide("A", settings, default_model, {"temperature": 0.0}),
                      CompareSide("B", settings, default_model, {"temperature": 1.0, "top_p": 0.95})]
        self.hosts_of_side: list[ModelHost | None] = [None, None]
        self._layout()
        self.render_timer = QTimer(self)
        self.render_timer.setSingleShot(True)
        self.render_timer.setInterval(RENDER_INTERVAL_MS)
        self.render_timer.timeout.connect(self._render)
        self._watch(chat_host)
        chat_host.devices.connect(self.set_devices)
        state = settings.value("compare/splitter")
        if state is not None:
            self.splitter.restoreState(state)

    def _layout(self):
        buttons = QVBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        prompt_row = QHBoxLayout()
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addLayout(buttons)
        self.splitter = QSplitter()
        for side in self.sides:
            self.splitter.addWidget(side)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Send one prompt under two settings and compare the replies side by side."))
        layout.addWidget(self.message_bar)
        layout.addWidget(self.system_prompt)
        layout.addLayout(prompt_row)
        layout.addWidget(self.splitter, 1)

    # ---- running ------------------------------------------------------------------------------
    def run(self) -> bool:
        text = self.prompt.toPlainText().strip()
        if not text or self.is_running():
            return False
        self.message_bar.clear()
        messages = ([{"role": "system", "content": self.system_prompt.text().strip()}]
                    if self.system_prompt.text().strip() else []) + [{"role": "user", "content": text}]
        requests = [side.chooser.request() for side in self.sides]
        hosts = self._assign_hosts(requests)
        for side, request, host in zip(self.sides, requests, hosts):
            loading = not host.serves(request)
            if loading:
                host.load(request)
            side.start(host.chat(messages, side.form.sampling()), loading)
        self.hosts_of_side = hosts
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        return True

    def stop(self):
        for side, host in zip(self.sides, self.hosts_of_side):
            if side.running and host is not None:
                host.cancel(side.rid)

    def is_running(self) -> bool:
        return any(side.running for side in self.sides)

    def _assign_hosts(self, requests: list[LoadRequest]) -> list[ModelHost]:
        """A host per side: one already serving the request, else a free own host (made when needed)."""
        chosen: list[ModelHost | None] = [None, None]
        for i, request in enumerate(requests):
            for host in [self.chat_host, *self.own_hosts]:
                if host.serves(request) and not (host is self.chat_host and self.chat_host.is_loading):
                    chosen[i] = host
                    break
        for i, request in enumerate(requests):
            if chosen[i] is not None:
                continue
            if i == 1 and requests[1] == requests[0]:
                chosen[1] = chosen[0]  # same model twice: one host, the sides run in turn
                continue
            free = [h for h in self.own_hosts if h not in chosen]
            if free:
                chosen[i] = free[0]
            else:
                host = self.host_factory()
                self._watch(host)
                self.own_hosts.append(host)
                chosen[i] = host
        return chosen

    def _watch(self, host: ModelHost):
        host.tokens.connect(self._on_tokens)
        host.finished.connect(self._on_finished)
        host.failed.connect(self._on_failed)
        host.waiting.connect(self._on_waiting)

    def _side_for(self, rid: int) -> CompareSide | None:
        return next((side for side in self.sides if side.rid == rid), None)

    def _on_tokens(self, rid: int, tokens: list):
        side = self._side_for(rid)
        if side is not None:
            side.add_tokens(tokens)
            if not self.render_timer.isActive():
                self.render_timer.start()

    def _on_finished(self, rid: int, stats):
        side = self._side_for(rid)
        if side is not None:
            host = self.hosts_of_side[self.sides.index(side)]
            side.finish(stats, host.info if host else None)
            self._maybe_done()

    def _on_failed(self, rid: int, message: str):
        side = self._side_for(rid)
        if side is not None:
            side.fail(message)
            self._maybe_done()

    def _on_waiting(self, rid: int, holder: str):
        side = self._side_for(rid)
        if side is not None and not side.tokens:
            side.stats.setText(f"Waiting for {holder}…" if holder else "Waiting for the first token…")

    def _render(self):
        for side in self.sides:
            if side.running:
                side.render()

    def _maybe_done(self):
        if not self.is_running():
            self.run_button.setEnabled(True)
            self.stop_button.setEnabled(False)
            self.run_finished.emit()

    # ---- devices, persistence, shutdown ------------------------------------------------------------
    def set_devices(self, devices):
        for side in self.sides:
            side.chooser.set_devices(devices)

    def save_state(self):
        for side in self.sides:
            side.save()
        self.settings.setValue("compare/splitter", self.splitter.saveState())

    def shutdown(self):
        self.stop()
        for host in self.own_hosts:
            host.shutdown()
        self.own_hosts = []
