"""Named sampling presets, kept in QSettings next to the app's other preferences.

A preset is a flat dict of sampling fields (and optionally a system prompt). A few built-in
presets always exist and cannot be deleted; the user's own are stored under `presets/`.
It knows nothing about widgets.
"""
from __future__ import annotations

import json

from PySide6.QtCore import QSettings

BUILT_IN = {
    "Greedy": {"temperature": 0.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0, "repetition_penalty": 1.0},
    "Balanced": {"temperature": 0.7, "top_k": 0, "top_p": 0.9, "min_p": 0.0, "repetition_penalty": 1.1},
    "Creative": {"temperature": 1.0, "top_k": 0, "top_p": 0.95, "min_p": 0.05, "repetition_penalty": 1.0},
}
GROUP = "presets"


class PresetStore:
    def __init__(self, settings: QSettings):
        self.settings = settings

    def names(self) -> list[str]:
        self.settings.beginGroup(GROUP)
        own = sorted(self.settings.childKeys())
        self.settings.endGroup()
        return list(BUILT_IN) + [n for n in own if n not in BUILT_IN]

    def get(self, name: str) -> dict | None:
        if name in BUILT_IN:
            return dict(BUILT_IN[name])
        text = self.settings.value(f"{GROUP}/{name}")
        try:
            return json.loads(text) if text else None
        except (TypeError, ValueError):  # a hand-edited settings file must not break the panel
            return None

    def save(self, name: str, values: dict) -> str:
        """Store a preset; returns the name used ("/" and "\\" would split QSettings keys)."""
        name = name.strip().replace("/", "-").replace("\\", "-")
        if not name:
            raise ValueError("a preset needs a name")
        if name in BUILT_IN:
            raise ValueError(f"{name!r} is a built-in preset; choose another name")
        self.settings.setValue(f"{GROUP}/{name}", json.dumps(values, sort_keys=True))
        return name

    def delete(self, name: str):
        if name and name not in BUILT_IN:
            self.settings.remove(f"{GROUP}/{name}")

    def is_built_in(self, name: str) -> bool:
        return name in BUILT_IN
