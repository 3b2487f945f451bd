"""Retake the README screenshots from the real app under Xvfb.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/take_screenshots.py [--model PATH]

Opens the main window (the same `MainWindow` that `glasslm app` shows, with a throwaway
settings file and history database), drives it through a chat, the token view, the
attention view and a comparison, and captures the X screen with ImageMagick's
`import -window root` after each step. Needs xvfb, imagemagick and fonts-dejavu-core.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QPoint, QSettings, QTimer
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import engine  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from history import History  # noqa: E402

HERE = Path(__file__).resolve().parent
SYSTEM_PROMPT = "[A room in the castle.]"  # bard-mini's chat template makes this a stage direction
CHAT_PROMPTS = ["What news from the court, good friend?", "Wilt thou love me still?"]
COMPARE_PROMPT = "Wilt thou love me still?"
SAMPLING = {"temperature": 0.8, "top_p": 0.95, "repetition_penalty": 1.1, "max_new_tokens": 80, "seed": 1}


class Driver:
    def __init__(self, window: MainWindow, out: Path, app: QApplication):
        self.window, self.out, self.app = window, out, app
        self.page = window.chat_page
        self.steps = iter([self.send_first, self.send_second, self.shoot_chat, self.open_tokens,
                           self.shoot_tokens, self.open_attention, self.shoot_attention, self.run_compare,
                           self.shoot_compare, self.quit])

    def next(self, delay_ms: int = 600):
        QTimer.singleShot(delay_ms, lambda: next(self.steps)())

    def shoot(self, name: str):
        QApplication.processEvents()
        target = self.out / name
        subprocess.run(["import", "-window", "root", "-depth", "8", str(target)], check=True)
        print("saved", target, f"{target.stat().st_size // 1024} KB")

    def send(self, text: str):
        self.page.composer.input.setPlainText(text)
        self.page.session.reply_saved.connect(self._after_reply)
        self.page.composer.submit()

    def _after_reply(self, _message_id: int):
        self.page.session.reply_saved.disconnect(self._after_reply)
        self.next()

    def send_first(self):
        settings = self.page.settings_panel
        settings.form.set_values(SAMPLING)
        settings.system_prompt_edit.setPlainText(SYSTEM_PROMPT)
        self.send(CHAT_PROMPTS[0])

    def send_second(self):
        self.send(CHAT_PROMPTS[1])

    def shoot_chat(self):
        self.page.tabs.setCurrentWidget(self.page.settings_panel)
        self.shoot("chat.png")
        self.next(100)

    def last_reply(self) -> int:
        return self.page.session.path()[-1]["id"]

    def open_tokens(self):
        self.page.show_tokens(self.last_reply())
        self.next()

    def shoot_tokens(self):
        strip = self.page.token_view.strip
        tokens = strip.tokens
        in_top = [i for i, t in enumerate(tokens) if t.text.strip() and any(a.id == t.id for a in t.top[1:])]
        unsure = min(in_top or range(len(tokens)), key=lambda i: tokens[i].logprob)  # a close call
        target = strip.rects[unsure].center().toPoint()
        strip.clicked.emit(unsure)
        strip.selected = unsure
        QCursor.setPos(strip.mapToGlobal(target + QPoint(1, 1)))
        QTimer.singleShot(1500, lambda: (self.shoot("token-view.png"), self.next(100)))

    def open_attention(self):
        self.page.splitter.setSizes([180, 520, 700])
        user = self.page.session.path()[0]["id"]
        self.window.chat_host.attention_ready.connect(self._after_attention)
        self.page.show_attention(user)

    def _after_attention(self, *_):
        self.window.chat_host.attention_ready.disconnect(self._after_attention)
        self.next()

    def shoot_attention(self):
        view = self.page.attention_view
        left, top, cell = view.heatmap.geometry_of_cells()
        QCursor.setPos(view.heatmap.mapToGlobal(QPoint(int(left + cell * 3.5), int(top + cell * 12.5))))
        QTimer.singleShot(800, lambda: (self.shoot("attention.png"), self.next(100)))

    def run_compare(self):
        QCursor.setPos(QPoint(5, 880))
        self.window.show_page("Compare")
        compare = self.window.compare_page
        compare.prompt.setPlainText(COMPARE_PROMPT)
        compare.system_prompt.setText(SYSTEM_PROMPT)
        compare.sides[0].form.set_values({**SAMPLING, "temperature": 0.0, "top_p": 1.0, "seed": None})
        compare.sides[1].form.set_values({**SAMPLING, "temperature": 1.0, "seed": 5})
        compare.run_finished.connect(lambda: self.next())
        compare.run()

    def shoot_compare(self):
        self.shoot("compare.png")
        self.next(100)

    def quit(self):
        self.window.close()
        self.app.quit()


def main() -> int:
    import torch

    torch.set_num_threads(1)  # our build machines share two cores; more threads only fight each other
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(engine.default_model_path()))
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    scratch = Path(tempfile.mkdtemp(prefix="glasslm-shots-"))
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    history = History.open(scratch / "history.db")
    window = MainWindow(settings, history, Path(args.model))
    window.setGeometry(0, 0, 1400, 900)
    window.show()
    driver = Driver(window, Path(args.out), app)
    window.chat_host.loaded.connect(lambda _r: driver.next(300))
    window.chat_host.load_failed.connect(lambda message: (print(message), app.exit(1)))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
