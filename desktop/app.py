"""`python -m desktop.app` / `glasslm app`: start the desktop app on the bundled default model.

Parses the few start-up options, checks that a window can open here (display_check.py; Qt
would abort with its own message otherwise), opens the history database (falling back to an
in-memory one, with a message in the window, when the file cannot be opened), and shows the
main window. Everything else happens in the pages. An empty --model or --db is an error,
never the default.
"""
from __future__ import annotations

import argparse
import signal
import sys

import engine
from history import History, HistoryError

from .display_check import check as check_display


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="glasslm app", description="Chat with a local model and look inside it.")
    parser.add_argument("--model", metavar="PATH", help="model folder to load (default: the bundled model)")
    parser.add_argument("--precision", choices=engine.PRECISIONS, help="weights precision (default: last used, or auto)")
    parser.add_argument("--device", help="auto, cpu or cuda[:N] (default: last used, or auto)")
    parser.add_argument("--db", metavar="PATH", help="history database (default: $GLASSLM_DB or the user data folder)")
    return parser.parse_args(argv)


def open_history(path: str | None) -> tuple[History, str]:
    """The history database, or an in-memory one and a sentence saying why nothing will be kept."""
    try:
        return History.open(path), ""
    except HistoryError as err:
        return History.open(":memory:"), f"{err}. Conversations in this window will not be saved."


def start_problem(args: argparse.Namespace, env=None) -> str:
    """Why the app cannot start with these options here ('' when it can); checked before Qt loads."""
    for flag in ("model", "db", "device"):
        value = getattr(args, flag)
        if value is not None and not value.strip():
            return f"--{flag} is empty; give a value or leave --{flag} out for the default"
    ok, message = check_display(env, command="glasslm app")
    return "" if ok else message


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = start_problem(args)
    if problem:
        print(f"glasslm: error: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow
    from .model_worker import LoadRequest

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("glasslm")
    app.setApplicationName("glasslm")
    settings = QSettings()
    history, notice = open_history(args.db)
    default_model = engine.default_model_path()
    request = None
    if args.model or args.precision or args.device:
        request = LoadRequest(args.model or str(default_model),
                              args.device or settings.value("model/device") or "auto",
                              args.precision or settings.value("model/precision") or "auto")
    window = MainWindow(settings, history, default_model, model=request, notice=notice)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # freed on the GUI thread, never by a late GC
    window.show()
    _close_on_ctrl_c(window)
    try:
        return app.exec()
    finally:
        history.close()


def _close_on_ctrl_c(window):
    """Ctrl+C in the terminal closes the window properly (settings saved, workers stopped)."""
    from PySide6.QtCore import QTimer

    signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer(window)  # Python runs signal handlers only between bytecodes: wake it up now and then
    ticker.timeout.connect(lambda: None)
    ticker.start(250)


if __name__ == "__main__":
    sys.exit(main())
