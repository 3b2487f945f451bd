"""Retake the README's Inside screenshots from the real app under Xvfb, on the default model.

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python docs/screenshots/take_inside_screenshots.py [--model PATH]

First runs two made-up-entity items of the hallucination suite on the model into a throwaway
history database (`glasslm eval run`, a real run), then opens the main window (the same
`MainWindow` as `glasslm app`) and drives it: every tab of the Inside page, a head opened in
the attention view, "Check this answer" on a chat reply, and "Open inside" on the eval item.
Each view is captured with ImageMagick's `import -window root` once its computation has
signalled that it is shown. Needs xvfb, imagemagick and fonts-dejavu-core.
"""
from __future__ import annotations

import argparse
import json
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
TOKENS_TEXT = "Transformers find it unbelievable: naïve café in 東京 <|im_start|>"
SENTENCE = "The animal didn't cross the street because it was tired. The animal didn't cross the street because"
LENS_TEXT = "The Eiffel Tower is in the city of"
STEP_TEXT = "Name three primary colors."
QUESTION = "Tell me about the Welsh composer Tobiah Venhallow."  # an invented person (hallucination suite)
ITEMS = ("hal-mue-001", "hal-mue-004")  # invented entities: the right answer is to decline


def eval_suite(scratch: Path) -> Path:
    """A suite file with two made-up-entity items of the built-in hallucination suite."""
    lines = (ROOT / "evals" / "suites" / "hallucination.jsonl").read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    header.update(suite="hallucination-sample", title="Hallucination (two items)")
    items = [line for line in lines[1:] if json.loads(line)["id"] in ITEMS]
    path = scratch / "hallucination-sample.jsonl"
    path.write_text("\n".join([json.dumps(header)] + items) + "\n", encoding="utf-8")
    return path


class Driver:
    def __init__(self, window: MainWindow, out: Path, app: QApplication, run_id: int):
        self.window, self.out, self.app, self.run_id = window, out, app, run_id
        self.page = window.inside_page
        self.steps = iter([self.tokens, self.embeddings, self.positions, self.lens, self.heads, self.open_head,
                           self.generation, self.more_steps, self.quantization, self.chat, self.check,
                           self.history, self.open_item, self.quit])

    # ---- plumbing ---------------------------------------------------------------------------
    def next(self, delay_ms: int = 400):
        QTimer.singleShot(delay_ms, lambda: next(self.steps)())

    def after(self, signal, shot: str | None = None, settle_ms: int = 700):
        """When `signal` fires once: wait for the paint, take `shot`, go on."""
        def fire(*_):
            signal.disconnect(fire)
            QTimer.singleShot(settle_ms, lambda: (self.shoot(shot) if shot else None, self.next(100)))
        signal.connect(fire)

    def shoot(self, name: str):
        QApplication.processEvents()
        target = self.out / name
        subprocess.run(["import", "-window", "root", "-depth", "8", str(target)], check=True)
        print("saved", target, f"{target.stat().st_size // 1024} KB", flush=True)

    def inside_tab(self, tab, text: str, shot: str):
        self.page.text.setPlainText(text)
        self.after(tab.computed, shot)
        if self.page.tabs.currentWidget() is tab:
            self.page.refresh_tab(tab)
        else:
            self.page.tabs.setCurrentWidget(tab)

    # ---- the Inside page ----------------------------------------------------------------------
    def tokens(self):
        QCursor.setPos(QPoint(5, 880))
        self.page.text.setPlainText(TOKENS_TEXT)
        self.after(self.page.tokens_tab.computed, "inside-tokens.png")
        self.window.show_page("Inside")

    def embeddings(self):
        self.inside_tab(self.page.embeddings_tab, SENTENCE, "inside-embeddings.png")

    def positions(self):
        self.inside_tab(self.page.positions_tab, SENTENCE, "inside-positions.png")

    def lens(self):
        self.inside_tab(self.page.lens_tab, LENS_TEXT, "inside-lens.png")

    def heads(self):
        self.inside_tab(self.page.heads_tab, SENTENCE, "inside-heads.png")

    def open_head(self):
        result = self.page.heads_tab.result
        previous = max(result.summaries, key=lambda s: s.previous)  # the clearest previous-token head
        self.after(self.page.attention_tab.computed, "inside-attention-head.png")
        self.page.heads_tab.grid.setCurrentCell(previous.layer, previous.head)
        self.page.heads_tab.open_head(previous.layer, previous.head)

    def generation(self):
        tab = self.page.stepper_tab
        self.page.text.setPlainText(STEP_TEXT)
        self.page.tabs.setCurrentWidget(tab)
        tab.form.set_values({"temperature": 0.7, "top_p": 0.9, "seed": 3, "max_new_tokens": 64})
        self.after(tab.computed)
        tab.start()

    def more_steps(self):
        """One token at a time until a step where the settings left several tokens in the running."""
        tab = self.page.stepper_tab

        def stepped():
            last = tab.steps[-1] if tab.steps else None
            if last is not None and (last.finished or (len(tab.steps) >= 6 and last.kept >= 3)):
                tab.computed.disconnect(stepped)
                QTimer.singleShot(700, lambda: (self.shoot("inside-generation.png"), self.next(100)))
            else:
                tab.step(1)
        tab.computed.connect(stepped)
        tab.step(1)

    def quantization(self):
        tab = self.page.quant_tab
        self.page.text.setPlainText(SENTENCE)
        self.page.tabs.setCurrentWidget(tab)
        self.after(tab.computed, "inside-quantization.png")
        tab.refresh(self.page.subject())

    # ---- Check this answer ------------------------------------------------------------------------
    def chat(self):
        self.window.show_page("Chat")
        chat = self.window.chat_page
        chat.settings_panel.form.set_values({"temperature": 0.0, "max_new_tokens": 90, "seed": None})
        chat.composer.input.setPlainText(QUESTION)
        self.after(chat.session.reply_saved)
        chat.composer.submit()

    def check(self):
        chat = self.window.chat_page
        chat.splitter.setSizes([170, 560, 670])
        reply = chat.session.path()[-1]["id"]
        chat.check_view.samples_box.setValue(5)
        self.after(self.window.chat_host.computed, "check-answer.png", settle_ms=1200)
        chat.chat_view.widget_for(reply).buttons["Check"].click()

    # ---- Open inside on an eval item ----------------------------------------------------------------
    def history(self):
        history = self.window.history_page
        self.window.show_page("History")
        self.after(history.results.loaded)
        history.select_runs([self.run_id])

    def open_item(self):
        results = self.window.history_page.results
        results.select_item(ITEMS[0], "", self.run_id)
        self.after(self.page.lens_tab.computed, "inside-open-item.png")
        results.detail.inside_button.click()

    def quit(self):
        self.window.close()
        self.app.quit()


def main() -> int:
    import torch

    torch.set_num_threads(2)
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=str(engine.default_model_path()))
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="glasslm-inside-shots-"))
    db = scratch / "history.db"
    subprocess.run([sys.executable, "-m", "evals", "run", str(eval_suite(scratch)), "--model", args.model,
                    "--db", str(db), "--progress", "none"], check=True, cwd=ROOT)
    history = History.open(db)
    run_id = history.runs(limit=1)[0]["id"]
    app = QApplication(sys.argv[:1])
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, history, Path(args.model))
    window.setGeometry(0, 0, 1400, 900)
    window.show()
    driver = Driver(window, Path(args.out), app, run_id)
    window.chat_host.loaded.connect(lambda _r: driver.next(300))
    window.chat_host.load_failed.connect(lambda message: (print(message), app.exit(1)))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
