"""The main window: a sidebar of pages (Chat, Compare, Evaluate, History, Models, Inside) over a stack.

It builds the pages with their services (settings, history, the model pool and hosts),
restores and saves the window layout with QSettings, and shuts the worker threads down on
close (every model released). The pages do the work; this file only assembles them.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QSize
from PySide6.QtWidgets import QHBoxLayout, QListWidget, QMainWindow, QStackedWidget, QVBoxLayout, QWidget

from history import History

from .chat.chat_page import ChatPage
from .compare_page import ComparePage
from .inside.page import InsidePage
from .message_bar import MessageBar
from .model_host import ModelHost
from .model_pool import ModelPool
from .model_worker import LoadRequest
from .models.choosers import offer_library
from .models.page import ModelsPage
from .pages import AppContext, optional_page

PAGES = ("Chat", "Compare", "Evaluate", "History", "Models", "Inside")
STYLE = """
#sidebar { background: #1f2937; color: #e5e7eb; border: none; font-size: 14px; }
#sidebar::item { padding: 10px 14px; }
#sidebar::item:selected { background: #374151; color: white; border-left: 3px solid #60a5fa; }
#chatColumn { background: #f9fafb; }
#userMessage { background: #e8f0fe; border-radius: 8px; }
#assistantMessage { background: white; border: 1px solid #e5e7eb; border-radius: 8px; }
#messageFooter { color: #6b7280; font-size: 11px; }
#messageButton { padding: 2px 8px; }
#placeholder { color: #6b7280; padding: 40px; }
#editBanner { color: #92400e; }
#modelStatus { color: #374151; }
"""


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings, history: History, default_model: Path,
                 model: LoadRequest | None = None, load_model=None, notice: str = "", autoload: bool = True):
        """model: what to load at start (default: the bundled model with the last precision/device).
        load_model: replaces engine.load in the model pool (tests). notice: a message to show at once
        (e.g. why the history database could not be opened)."""
        super().__init__()
        self.settings, self.history, self.load_model = settings, history, load_model
        self.setWindowTitle("glasslm")
        self.setStyleSheet(STYLE)
        self.pool = ModelPool(load_model)  # one copy of each model for Chat, Compare, Evaluate and Inside
        self.chat_host = ModelHost(self.pool, name="chat")
        self.context = AppContext(settings, history, self.chat_host, self.make_host, Path(default_model), self.pool)
        self.chat_page = ChatPage(self.chat_host, history, settings, Path(default_model))
        self.compare_page = ComparePage(settings, Path(default_model), self.chat_host, self.make_host)
        self.evaluate_page = optional_page("desktop.evaluate.page", "EvaluatePage", "Evaluate", self.context)
        self.history_page = optional_page("desktop.evaluate.history_page", "HistoryPage", "History", self.context)
        self.models_page = ModelsPage(self.context)  # its library is what every model chooser offers
        self.inside_page = InsidePage(self.context)  # the ideas of a Transformer on the Chat page's model
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(120)
        self.sidebar.addItems(PAGES)
        self.stack = QStackedWidget()
        for page in (self.chat_page, self.compare_page, self.evaluate_page, self.history_page, self.models_page):
            self.stack.addWidget(page)
        self.stack.addWidget(self.inside_page)
        for page in (self.evaluate_page, self.history_page):  # "Open inside" on an eval item
            if hasattr(page, "results"):
                page.results.detail.inside_requested.connect(self.open_inside)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        self.notice_bar = MessageBar()  # app-wide problems (the history database); pages have their own
        right = QVBoxLayout()
        right.setContentsMargins(6, 6, 6, 0)
        right.addWidget(self.notice_bar)
        right.addWidget(self.stack, 1)
        body = QWidget()
        layout = QHBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addLayout(right, 1)
        self.setCentralWidget(body)
        offer_library(self, self.models_page.library)
        self.models_page.open_requested.connect(self.open_model)
        self._restore()
        if notice:
            self.notice_bar.show_error(notice)
        if model is not None:
            self.chat_page.model_panel.chooser.set_request(model.path, model.device, model.precision)
        self.chat_host.refresh_devices()
        if autoload:
            self.chat_page.model_panel.load_current()

    def make_host(self) -> ModelHost:
        return ModelHost(self.pool, name="extra", label="the Compare page's reply")

    def open_model(self, path: str):
        """Load a model chosen on the Models page in Chat, and show Chat."""
        self.chat_page.model_panel.chooser.select_path(path)
        self.chat_page.model_panel.load_current()
        self.show_page("Chat")

    def open_inside(self, item: dict):
        """Show an eval item's prompt and answer on the Inside page."""
        self.inside_page.open_text(item.get("prompt") or "", item.get("answer") or "", item.get("title") or "the item")
        self.show_page("Inside")

    def show_page(self, name: str):
        self.sidebar.setCurrentRow(PAGES.index(name))

    def sizeHint(self) -> QSize:
        return QSize(1400, 900)

    def _restore(self):
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 900)
        self.sidebar.setCurrentRow(int(self.settings.value("window/page", 0) or 0))

    def closeEvent(self, event):
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/page", self.sidebar.currentRow())
        self.chat_page.save_state()
        self.compare_page.save_state()
        self.settings.sync()
        self.chat_host.cancel_all()  # first, so a run waiting for the model's turn is not kept waiting
        self.compare_page.stop()
        for page in (self.evaluate_page, self.history_page, self.models_page):
            if hasattr(page, "shutdown"):
                page.shutdown()
        self.compare_page.shutdown()
        self.chat_host.shutdown()
        super().closeEvent(event)
