"""glasslm's desktop app (PySide6): streaming chat with a look inside the model, side-by-side
comparison of settings, and (from desktop/evaluate/) evaluation pages.

Only this package imports Qt. All model work runs on worker threads (model_worker.py); the
GUI thread only draws and talks to the history database. Start it with `desktop.app.main`.
"""
