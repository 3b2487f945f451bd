"""Window layout, last settings and presets persist in QSettings (a temporary file here)."""
from __future__ import annotations

from PySide6.QtCore import QSettings

from desktop.presets import PresetStore


def test_last_settings_page_and_model_choices_survive_a_restart(qtbot, make_window, settings_path):
    first = make_window()
    panel = first.chat_page.settings_panel
    panel.form.set_values({"temperature": 0.8, "top_k": 40, "top_p": 0.9, "min_p": 0.05,
                           "repetition_penalty": 1.2, "max_new_tokens": 77, "seed": 11})
    panel.system_prompt_edit.setPlainText("You are terse.")
    first.compare_page.sides[1].form.set_values({"temperature": 1.5})
    first.show_page("Compare")
    first.close()

    second = make_window()
    restored = second.chat_page.settings_panel
    assert restored.sampling().to_dict() == panel.sampling().to_dict()
    assert restored.system_prompt() == "You are terse."
    assert second.compare_page.sides[1].form.temperature.value() == 1.5
    assert second.stack.currentWidget() is second.compare_page
    assert QSettings(str(settings_path), QSettings.Format.IniFormat).value("model/precision") == "auto"


def test_named_presets_can_be_saved_applied_and_deleted(qtbot, make_window, settings_path):
    window = make_window(load=False)
    panel = window.chat_page.settings_panel
    panel.form.set_values({"temperature": 0.3, "top_k": 5})
    panel.system_prompt_edit.setPlainText("Cite sources.")
    assert panel.save_preset("careful/one") == "careful-one"
    panel.apply_preset("Creative")
    assert panel.form.temperature.value() == 1.0 and panel.system_prompt() == "Cite sources."
    panel.apply_preset("careful-one")
    assert panel.form.temperature.value() == 0.3 and panel.form.top_k.value() == 5
    store = PresetStore(QSettings(str(settings_path), QSettings.Format.IniFormat))
    assert "careful-one" in store.names() and store.get("careful-one")["system_prompt"] == "Cite sources."
    panel.delete_preset("careful-one")
    assert "careful-one" not in panel.presets.names()
    panel.delete_preset("Greedy")  # built-ins stay
    assert "Greedy" in panel.presets.names()


def test_first_run_starts_from_the_checkpoints_suggested_sampling(qtbot, make_window, checkpoint_factory, tmp_path):
    import json

    folder = checkpoint_factory("llama", seed=3)
    suggested = {"do_sample": True, "temperature": 0.8, "top_p": 0.95, "repetition_penalty": 1.1}
    config = json.loads((folder / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**config, **suggested}))
    window = make_window(default_model=folder)
    form = window.chat_page.settings_panel.form
    assert (form.temperature.value(), form.top_p.value(), form.repetition_penalty.value()) == (0.8, 0.95, 1.1)
    form.temperature.setValue(0.2)
    window.close()
    assert make_window(default_model=folder).chat_page.settings_panel.form.temperature.value() == 0.2
