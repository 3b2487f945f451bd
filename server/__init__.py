"""`glasslm serve`: one loaded engine model behind an OpenAI-compatible HTTP API (FastAPI + uvicorn).

Chat and text completions, streamed or whole, with log-probabilities; echo scoring for
lm-eval's `local-completions`; one request at a time on the model, the rest queued (queue.py);
/health. Depends on the engine only. The pieces: app.py (routes, auth), chat.py and
completions.py (the two endpoints), schemas.py (request bodies), work.py (what the model
thread does), responses.py (OpenAI's shapes), errors.py, cli.py (`glasslm serve`).
"""
from .app import create_app

__all__ = ["create_app"]
