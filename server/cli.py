"""`glasslm serve`: load one model and serve it over OpenAI's API with uvicorn.

`register(subparsers)` adds the verb to the top-level parser (desktop/cli.py). It binds to
127.0.0.1 by default; any other address needs --api-key (a server on the network without one
would let anyone use the machine). Errors a user can cause (a bad model path, a port in use)
are one line through the caller's EngineError handling. Only parsing, loading and starting
the server: the routes are in app.py.
"""
from __future__ import annotations

import argparse
import errno
import socket
import sys

from engine.errors import EngineError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def register(subparsers) -> None:
    from engine.cli import add_model_arguments, whole

    p = subparsers.add_parser("serve", help="serve a model over an OpenAI-compatible HTTP API")
    add_model_arguments(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --api-key)")
    p.add_argument("--port", type=whole(0, 65535), default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--api-key", help="require 'Authorization: Bearer KEY' on every request")
    p.add_argument("--served-model-name", help="the model id clients send (default: the model's name)")
    p.add_argument("--max-waiting", type=whole(1, 100000), default=256,
                   help="requests that may wait for the model before new ones get 429 (default 256)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args) -> int:
    import uvicorn

    from engine.cli import load_from_args

    from .app import create_app

    if args.host not in LOCAL_HOSTS and not args.api_key:
        raise EngineError(f"binding to {args.host} makes the model reachable from other machines; give --api-key "
                          "KEY too (clients send it as their API key), or keep the default --host 127.0.0.1")
    if args.api_key is not None and not args.api_key.strip():
        raise EngineError("--api-key is empty; give a key, or leave --api-key out on 127.0.0.1")
    sock = bind(args.host, args.port)  # before loading, so a port in use fails at once
    model = load_from_args(args)
    app = create_app(model, name=args.served_model_name, api_key=args.api_key, max_waiting=args.max_waiting)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {app.state.served.name} at http://{shown}:{port}/v1 (Ctrl-C stops)", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, timeout_graceful_shutdown=5)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        model.close()
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port; EngineError saying what to do when it cannot be had."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
        return sock
    except socket.gaierror:
        sock.close()
        raise EngineError(f"--host {host} is not an address of this machine; use 127.0.0.1 or 0.0.0.0") from None
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            raise EngineError(f"port {port} on {host} is already in use; stop what uses it or pick another "
                              "--port (0 picks a free one)") from None
        if err.errno in (errno.EACCES, errno.EPERM):
            raise EngineError(f"port {port} needs administrator rights; pick a port above 1023") from None
        if err.errno == errno.EADDRNOTAVAIL:
            raise EngineError(f"--host {host} is not an address of this machine; use 127.0.0.1 or 0.0.0.0") from None
        raise EngineError(f"could not listen on {host}:{port} ({err.strerror}); pick another --host or --port") from None


def main(argv: list[str] | None = None) -> int:
    """`python -m server ...`."""
    parser = argparse.ArgumentParser(prog="glasslm")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.handler(args)
    except EngineError as err:
        print(f"glasslm: error: {err}", file=sys.stderr)
        return 2
