"""The `glasslm` command: one parser over the engine's, the evals' and the app's verbs.

It sits at the top of the dependency chain (desktop -> evals -> engine) so it may reach
all three, but it imports Qt only when the `app` verb runs. Errors a user can cause print
one line and exit 2 (an argument that is not UTF-8 text too); Ctrl-C exits 130, silently
while starting up; output into a closed pipe (`| head`) ends quietly with 141. No traceback
reaches the user.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from engine import cli as engine_cli

    parser = argparse.ArgumentParser(prog="glasslm", description="Chat with a local Transformer and measure how far to trust it.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    app = subparsers.add_parser("app", help="open the desktop app (the default)")
    app.add_argument("--model")
    app.add_argument("--precision", default=None)
    app.add_argument("--device", default=None)
    app.add_argument("--db")
    app.set_defaults(handler=run_app)
    engine_cli.register(subparsers)
    for module_name in ("engine.train", "benchmarks.cli", "evals.cli", "engine.library.cli", "server.cli"):
        module = _optional(module_name)
        if module is not None and hasattr(module, "register"):
            module.register(subparsers)
    return parser


def _optional(name: str):
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and name.startswith(err.name):
            return None
        raise


def run_app(args) -> int:
    from desktop.app import main as app_main

    argv = []
    for flag in ("model", "precision", "device", "db"):
        value = getattr(args, flag)
        if value is not None:  # an empty value is passed on, to be refused, not dropped for the default
            argv += [f"--{flag}", value]
    return app_main(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        from engine import EngineError
        from engine.console import not_utf8, quiet_closed_stdout

        user_errors: tuple[type[BaseException], ...] = (EngineError,)
        history = _optional("history")
        if history is not None and hasattr(history, "HistoryError"):
            user_errors += (history.HistoryError,)
        evals_errors = _optional("evals.errors")
        if evals_errors is not None and hasattr(evals_errors, "USER_ERRORS"):
            user_errors += evals_errors.USER_ERRORS
        bad = not_utf8(argv)
        if bad is not None:
            print(f"glasslm: error: {bad}", file=sys.stderr)
            return 2
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "handler", None):
            args = parser.parse_args(["app", *argv])
    except KeyboardInterrupt:  # Ctrl-C while torch and friends are still importing: nothing to report
        return 130
    except SystemExit:  # argparse printed --help or a usage error; into a closed pipe, end quietly
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            return quiet_closed_stdout()
        raise
    except BrokenPipeError:
        return quiet_closed_stdout()
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not as a warning at exit
        return status
    except BrokenPipeError:
        return quiet_closed_stdout()
    except user_errors as err:
        print(f"glasslm: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("glasslm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
