"""The app against the command line (a benchmark; it lives in desktop because it drives the window): one reply streamed in the real Chat page (the same model,
prompt and greedy settings as `glasslm generate --chat`), tokens/s as each reports it.

    python -m desktop.streaming_bench [--model PATH] [--new-tokens 128] [--repeats 3]

Runs the window on Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise (under
`xvfb-run` set QT_QPA_PLATFORM=xcb for a real X window). The command-line side is `glasslm
generate --chat` in its own process (run in this process it would share torch's OpenMP threads
with the app's worker and slow both), alternating with the app, medians of each. Not part of
`make test`; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROMPT = "Explain in a few sentences why the sky is blue."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="model file or folder (default: the default model)")
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    import engine
    from desktop.main_window import MainWindow
    from history import History

    app = QApplication.instance() or QApplication([])
    model_path = Path(args.model) if args.model else engine.default_model_path()
    with tempfile.TemporaryDirectory() as scratch:
        history = History.open(Path(scratch) / "history.db")
        settings = QSettings(str(Path(scratch) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings, history, model_path)
        window.show()
        if window.chat_host.current is None:
            _wait_for(window.chat_host.loaded)
        page = window.chat_page
        page.settings_panel.form.temperature.setValue(0.0)
        page.settings_panel.form.max_new_tokens.setValue(args.new_tokens)
        app_rates, cli_rates = [], []
        for _ in range(args.repeats + 1):  # the first round warms both up
            page.new_chat()
            page.composer.input.setPlainText(PROMPT)
            _wait_for(page.session.reply_saved, page.composer.submit)
            stats = page.session.path()[-1]["stats"]
            app_rates.append((stats["decode_tokens_per_s"], stats["generated_tokens"]))
            cli_rates.append(_command_line(model_path, args.new_tokens))
        app_tps = statistics.median(r for r, _ in app_rates[1:])
        cli_tps = statistics.median(r for r, _ in cli_rates[1:])
        print(f"model: {model_path.name} | {args.new_tokens} new tokens (greedy) | {args.repeats} runs each, medians | "
              f"platform {os.environ['QT_QPA_PLATFORM']}\n")
        print("| where | decode tok/s | tokens |\n|---|---:|---:|")
        print(f"| app (Chat page, model worker thread) | {app_tps:.1f} | {app_rates[-1][1]} |")
        print(f"| command line (`glasslm generate --chat`) | {cli_tps:.1f} | {cli_rates[-1][1]} |")
        print(f"\napp / command line: {app_tps / cli_tps:.3f}")
        window.close()
        history.close()
    return 0


def _command_line(model_path: Path, new_tokens: int) -> tuple[float, int]:
    """(decode tok/s, generated tokens) of `glasslm generate --chat` with the same prompt, greedy."""
    command = [sys.executable, "-m", "desktop.cli", "generate", "--model", str(model_path), "--chat", PROMPT,
               "--temperature", "0", "--max-new-tokens", str(new_tokens)]
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    found = re.search(r"\+ (\d+) generated tokens .*decode ([\d.]+) tok/s", done.stdout + done.stderr)
    if not found:
        raise RuntimeError(f"glasslm generate printed no stats: {(done.stdout + done.stderr)[-400:]}")
    return float(found.group(2)), int(found.group(1))


def _wait_for(signal, start=None):
    """Run the event loop (as the app's own does) until `signal` fires; `start` is called inside it."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    signal.connect(loop.quit)
    if start is not None:
        QTimer.singleShot(0, start)
    loop.exec()
    signal.disconnect(loop.quit)


if __name__ == "__main__":
    raise SystemExit(main())
