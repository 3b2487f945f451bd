"""A real `glasslm serve` app on a free 127.0.0.1 port, run by uvicorn in a thread of the test process.

The socket is bound and listening before uvicorn starts, so clients can connect at once (the
kernel queues them until uvicorn accepts): nothing waits or sleeps for startup.
"""
import socket
import threading
from pathlib import Path

import uvicorn

from server import create_app

BARD = Path(__file__).resolve().parents[2] / "assets" / "models" / "bard-mini"


class RunningServer:
    def __init__(self, model, prepare=None, **options):
        """prepare(app), when given, runs before the server starts (e.g. to add a middleware)."""
        self.app = create_app(model, **options)
        if prepare is not None:
            prepare(self.app)
        self.served = self.app.state.served
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()

    def client(self, **options):
        import openai

        options.setdefault("api_key", "none")
        return openai.OpenAI(base_url=self.base_url, max_retries=0, timeout=120, **options)

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
