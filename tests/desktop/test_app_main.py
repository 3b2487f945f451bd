"""`desktop.app.main`: starts the window on the given model and returns 0 when it is closed."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from desktop.app import main, parse_args
from desktop.main_window import MainWindow


def test_main_loads_the_model_and_exits_when_the_window_closes(qapp, tmp_path, model_path):
    # main() uses the default QSettings location: point it at tmp_path so the user's stays untouched.
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "config"))
    seen = {}

    def close_when_loaded():
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible())

        def done(result):
            seen["model"] = result.info.name
            window.close()

        window.chat_host.loaded.connect(done)
        window.chat_host.load_failed.connect(lambda message: (seen.update(error=message), window.close()))

    QTimer.singleShot(0, close_when_loaded)
    try:
        assert main(["--model", str(model_path), "--db", str(tmp_path / "h.db"), "--precision", "fp32"]) == 0
    finally:
        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(Path.home() / ".config"))
    assert seen == {"model": model_path.name}
    assert (tmp_path / "h.db").exists() and list((tmp_path / "config").rglob("*.conf"))


def test_arguments():
    args = parse_args(["--model", "m", "--precision", "nf4", "--device", "cuda:1", "--db", "x.db"])
    assert (args.model, args.precision, args.device, args.db) == ("m", "nf4", "cuda:1", "x.db")
