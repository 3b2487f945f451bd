"""A scripted tour of the Evaluate and History pages that saves screenshots (docs/screenshots).

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python -m desktop.evaluate.demo --out docs/screenshots

It opens the real main window on a fresh history database, runs calibration and prompt
sensitivity at fp32 and nf4 from the Evaluate page (clicking its buttons), and captures the
pages on the way. The app never imports this module.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings
from PySide6.QtWidgets import QApplication

import engine
from history import History


def wait_until(condition, timeout_s: float = 1800.0):
    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the demo step took too long")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.02)


def settle(seconds: float = 0.5):
    wait_until(lambda t=time.monotonic() + seconds: time.monotonic() > t)


class Ran:
    """Stands in for a JobEnd when the runs come from an existing database."""

    def __init__(self, run_ids: list[int]):
        self.run_ids = tuple(run_ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(engine.default_model_path()))
    parser.add_argument("--precisions", default="fp32,nf4")
    parser.add_argument("--limit", type=int, default=60, help="items per suite")
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--db", help="reuse the calibration and prompt-sensitivity runs of this database instead of "
                                     "running them (no mid-run screenshot)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="glasslm-demo-"))

    from ..main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - held so the application object lives as long as this function
    history = History.open(args.db or folder / "history.db")
    settings = QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings, history, Path(args.model), autoload=False)
    window.resize(1400, 900)
    window.show()
    page = window.evaluate_page
    window.show_page("Evaluate")
    page.form.set_precisions(args.precisions.split(","))
    page.form.limit.setValue(args.limit)

    def run(suite: str, shot_midway: str | None = None):
        page.form.tick_suites([suite])
        ended = []
        page.job_ended.connect(ended.append)
        page.progress.run_button.click()
        if shot_midway:
            wait_until(lambda: page.progress.bar.maximum() > 1 and page.progress.bar.value() >= page.progress.bar.maximum() // 3)
            settle(0.3)
            window.grab().save(str(out / shot_midway))
        wait_until(lambda: bool(ended))
        page.job_ended.disconnect(ended.append)
        wait_until(lambda: not page.tasks.busy())
        settle()
        return ended[0]

    if args.db:
        calibration, sensitivity = (Ran(sorted(r["id"] for r in history.runs() if r["suite_id"] == suite))
                                    for suite in ("calibration", "prompt-sensitivity"))
        page.results.set_runs(list(sensitivity.run_ids))
        wait_until(lambda: not page.tasks.busy())
    else:
        calibration = run("calibration")
        sensitivity = run("prompt-sensitivity", shot_midway="evaluate.png")
    page.results.tabs.setCurrentIndex(2)
    settle()
    window.grab().save(str(out / "evaluate-sensitivity.png"))

    page.results.set_runs(list(calibration.run_ids))
    wait_until(lambda: not page.tasks.busy())
    page.results.tabs.setCurrentIndex(1)
    settle()
    window.grab().save(str(out / "evaluate-calibration.png"))
    results = page.results
    wrong = next((r for r in history.results(calibration.run_ids[0]) if r["correct"] is False), None)
    if wrong:
        results.select_item(wrong["item_id"], wrong["variant"], run_id=calibration.run_ids[0])
    settle()
    window.grab().save(str(out / "evaluate-results.png"))

    window.show_page("History")
    hist = window.history_page
    hist.select_runs(list(sensitivity.run_ids))
    wait_until(lambda: not hist.tasks.busy())
    settle()
    window.grab().save(str(out / "history-compare.png"))
    hist.select_runs(list(calibration.run_ids[:1]))
    wait_until(lambda: not hist.tasks.busy())
    settle()
    window.grab().save(str(out / "history.png"))
    path = history.path
    window.close()
    history.close()
    print(f"screenshots in {out}; database {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
