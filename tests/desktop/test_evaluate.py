"""The Evaluate and History pages end to end on a small random checkpoint and a tiny suite:
run, see results that match `glasslm eval show`, drill into an item, stop and resume, a
failure half-way, fp32 vs nf4 side by side, CSV export, and the messages for a bad suite
and a locked database."""
from __future__ import annotations

import csv
import gc
import json
import sqlite3

import pytest
import torch
from PySide6.QtCore import QCoreApplication, QEvent, QSettings, Qt

from desktop.evaluate.history_page import HistoryPage
from desktop.evaluate.page import EvaluatePage
from desktop.pages import AppContext
from evals import cli
from history import History
from evals.report import compare
from evals.runner import engine_opener

VARIANTS = ("plain", "shout")
FACTS = [("Attention lets every token look at every other", "token", ["token", "street", "question"]),
         ("To be, or not to be, that is the", "question", ["answer", "question", "animal"]),
         ("The animal didn't cross the", "street", ["street", "token", "tired"]),
         ("Quantization stores weights in fewer", "bits", ["bits", "words", "cafés"])]


def tiny_suite(folder, n_items=12, suite_id="tiny"):
    """n_items multiple-choice items with two prompt variants each."""
    lines = [{"suite": suite_id, "version": "1", "title": "Tiny", "description": "test"}]
    for i in range(n_items):
        prompt, answer, choices = FACTS[i % len(FACTS)]
        variants = [{"name": name, "prompt": prompt.upper() if name == "shout" else prompt, "choices": choices,
                     "answer": choices.index(answer)} for name in VARIANTS]
        lines.append({"id": f"t-{i:02d}", "kind": "multiple_choice", "part": "ab"[i % 2], "prompt": prompt,
                      "choices": choices, "answer": choices.index(answer), "variants": variants})
    path = folder / f"{suite_id}.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def context(tmp_path, model_path):
    history = History.open(tmp_path / "history.db")
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    yield AppContext(settings, history, None, None, model_path)
    history.close()


@pytest.fixture
def pages(qtbot):
    made = []

    def make(cls, context, **kwargs):
        page = cls(context, **kwargs)
        qtbot.addWidget(page)
        page.resize(1200, 800)
        page.show()
        made.append(page)
        return page

    yield make
    for page in made:
        page.shutdown()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


def prepare(page, suite, precisions=("fp32",)):
    assert page.add_suite_file(suite)
    page.form.tick_suites([suite.stem])
    page.form.set_precisions(list(precisions))


def run_and_wait(qtbot, page, start=None):
    with qtbot.waitSignal(page.job_ended, timeout=60000) as ended:
        (start or page.run_matrix)()
    return ended.args[0]


def wait_results(qtbot, view):
    qtbot.waitUntil(lambda: not view.tasks.busy(), timeout=30000)


class Gate:
    """Wraps the real opener: the model's `n`-th log-likelihood call waits until `open()`,
    or raises `error` instead when one is given."""

    def __init__(self, n: int, error: BaseException | None = None):
        import threading

        self.n, self.error, self.calls, self.event = n, error, 0, threading.Event()

    def open(self):
        self.event.set()

    def opener(self, path, settings):
        loaded = engine_opener(path, settings)
        real = loaded.lm.loglikelihood

        def gated(requests):
            self.calls += 1
            if self.calls == self.n:
                if self.error is not None:
                    raise self.error
                self.event.wait(timeout=30)
            return real(requests)

        loaded.lm.loglikelihood = gated
        return loaded


def test_runs_a_suite_shows_the_stored_metrics_and_drills_into_an_item(qtbot, pages, context, tmp_path, capsys):
    page = pages(EvaluatePage, context)
    prepare(page, tiny_suite(tmp_path))
    seen = []
    page.host.progress.connect(seen.append)
    end = run_and_wait(qtbot, page)
    assert end.outcome == "finished" and len(end.run_ids) == 1
    run_id = end.run_ids[0]
    assert seen[-1].done == seen[-1].total == 12 and seen[-1].items_per_s > 0
    assert "Finished 1 run" in page.progress.status.text()
    assert page.progress.bar.value() == page.progress.bar.maximum() == 12

    wait_results(qtbot, page.results)
    stored = context.history.run(run_id)
    assert stored["status"] == "finished" and stored["n_done"] == 12
    shown = {row[0]: row[1][0] for row in page.results.metrics_model.rows}
    assert shown == stored["metrics"]["overall"]  # the table is the stored report, nothing recomputed
    assert {"accuracy", "ece", "brier", "accuracy[plain]", "accuracy[shout]", "variant_spread"} <= set(shown)
    cli.main(["show", str(run_id), "--db", str(context.history.path)])
    printed = capsys.readouterr().out
    table = page.results.metrics_table.model()
    accuracy_row = next(r for r in range(table.rowCount()) if table.index(r, 0).data() == "accuracy")
    assert table.index(accuracy_row, 1).data() in printed  # same text as `glasslm eval show`
    assert page.results.part.count() == 3  # overall, parts a and b

    for chart in (page.results.grid, page.results.reliability, page.results.variants):
        assert not chart.grab().isNull()
    assert page.results.variants.variants == list(VARIANTS)
    assert sum(b["count"] for b in page.results.reliability.bins[0]) == 12

    assert page.results.select_item("t-01", "shout")
    detail = page.results.detail
    result = next(r for r in context.history.results(run_id) if r["item_id"] == "t-01" and r["variant"] == "shout")
    assert detail.prompt.toPlainText() == result["prompt"] == FACTS[1][0].upper()
    assert detail.output.toPlainText() == result["output"]
    assert detail.expected.text() == "question"
    choices = [detail.choices.item(i, 0).text() for i in range(detail.choices.rowCount())]
    assert choices == FACTS[1][2]
    probs = [float(detail.choices.item(i, 2).text()) for i in range(3)]
    assert abs(sum(probs) - 1) < 0.01 and f"{result['score']:.3f}" in detail.score.text()

    page.results.filter.setText("t-03")
    assert page.results.items_proxy.rowCount() == 2  # two variants of one item


def test_stop_then_resume_finishes_the_run_and_the_rest_of_the_matrix(qtbot, pages, context, tmp_path):
    gate = Gate(n=2)
    page = pages(EvaluatePage, context, opener=gate.opener, items_per_batch=3)
    prepare(page, tiny_suite(tmp_path), precisions=("fp32", "bf16"))
    try:
        with qtbot.waitSignal(page.job_ended, timeout=60000) as ended:
            page.run_matrix()
            qtbot.waitUntil(lambda: gate.calls >= 2 and "items/s" in page.progress.status.text(), timeout=30000)
            assert page.progress.stop_button.isEnabled() and not page.progress.run_button.isEnabled()
            assert "1 of 2" in page.progress.status.text() and page.progress.bar.value() >= 1
            qtbot.mouseClick(page.progress.stop_button, Qt.MouseButton.LeftButton)
            gate.open()
    finally:
        gate.open()  # never leave the worker waiting
    end = ended.args[0]
    run_id = end.run_ids[0]
    assert end.outcome == "stopped" and len(end.not_started) == 1
    stopped = context.history.run(run_id)
    assert stopped["status"] == "interrupted" and stopped["n_done"] == 6 and stopped["metrics"] is None
    assert page.progress.resumable.currentData() == run_id and page.progress.resume_button.isEnabled()
    assert "Resume finishes it" in page.progress.status.text() and "1 run of the matrix" in page.progress.status.text()

    end = run_and_wait(qtbot, page, lambda: qtbot.mouseClick(page.progress.resume_button, Qt.MouseButton.LeftButton))
    assert end.outcome == "finished" and end.run_ids[0] == run_id and len(end.run_ids) == 2
    runs = {r["id"]: r for r in context.history.runs()}
    assert len(runs) == 2 and all(r["status"] == "finished" and r["n_done"] == 12 for r in runs.values())
    assert runs[end.run_ids[1]]["settings"]["precision"] == "bf16"
    assert page.progress.resumable.count() == 0
    wait_results(qtbot, page.results)
    assert page.results.run_ids() == list(end.run_ids) and not page.results.reports[0].partial


def test_a_failure_half_way_is_shown_and_the_run_resumes(qtbot, pages, context, tmp_path):
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    page = pages(EvaluatePage, context, opener=Gate(n=2, error=oom).opener, items_per_batch=4)
    prepare(page, tiny_suite(tmp_path))
    end = run_and_wait(qtbot, page)
    run_id = end.run_ids[0]
    assert end.outcome == "failed"
    text = page.message_bar.text()
    assert page.message_bar.kind == "error" and "out of memory" in text and f"run {run_id}" in text
    assert "Resume" in text
    failed = context.history.run(run_id)
    assert failed["status"] == "failed" and failed["n_done"] == 4  # the first batch is kept
    wait_results(qtbot, page.results)
    assert page.results.reports[0].partial and "metrics so far" in page.results.heading.text()

    page.host.worker.opener = engine_opener  # the cause is fixed
    end = run_and_wait(qtbot, page, lambda: page.resume(run_id))
    assert end.outcome == "finished" and context.history.run(run_id)["n_done"] == 12


def test_history_compares_fp32_with_nf4_and_exports_csv(qtbot, pages, context, tmp_path):
    evaluate = pages(EvaluatePage, context)
    prepare(evaluate, tiny_suite(tmp_path), precisions=("fp32", "nf4"))
    end = run_and_wait(qtbot, evaluate)
    assert end.outcome == "finished"
    fp32, nf4 = end.run_ids
    assert [context.history.run(r)["settings"]["precision"] for r in (fp32, nf4)] == ["fp32", "nf4"]

    history = pages(HistoryPage, context)
    assert history.runs_model.rowCount() == 2
    with qtbot.waitSignal(history.compare.loaded, timeout=30000):
        history.select_runs([nf4, fp32])
    assert history.tabs.currentIndex() == 1 and history.selected_runs() == [fp32, nf4]
    expected = compare(context.history.results(fp32), context.history.results(nf4), seed=0)
    deltas = {row[1]: row[2] for row in history.compare.deltas_model.rows}
    assert deltas == expected["deltas"] and "accuracy" in deltas
    flips = [row[1] for row in history.compare.flips_model.rows]
    assert flips == expected["flipped"]
    assert f"run {fp32}" in history.compare.heading.text().split("<br>")[0]
    assert f"{len(flips)} item result" in history.compare.flips_heading.text()

    out = tmp_path / "runs.csv"
    with qtbot.waitSignal(history.exported, timeout=30000):
        history.export_runs_to(history.selected_runs(), "csv", out)
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 24 and {r["run_id"] for r in rows} == {str(fp32), str(nf4)}
    first = context.history.results(fp32)[0]
    assert rows[0]["item_id"] == first["item_id"] and rows[0]["output"] == first["output"]

    for fmt_name in ("json", "md"):
        out = tmp_path / f"runs.{fmt_name}"
        with qtbot.waitSignal(history.exported, timeout=30000):
            history.export_runs_to([fp32, nf4], fmt_name, out)
        text = out.read_text(encoding="utf-8")
        if fmt_name == "json":
            data = json.loads(text)
            assert [d["run"]["id"] for d in data] == [fp32, nf4] and len(data[1]["results"]) == 24
            assert data[0]["report"] == context.history.run(fp32)["metrics"]
        else:
            assert text.count("## Overall") == 2 and "| accuracy |" in text
    assert "Exported to" in history.message_bar.text()

    single = tmp_path / "one.csv"
    with qtbot.waitSignal(history.exported, timeout=30000):
        history.export_runs_to([fp32], "csv", single)
    cli.main(["export", str(fp32), "--format", "csv", "--db", str(context.history.path), "-o", str(tmp_path / "c.csv")])
    assert single.read_text(encoding="utf-8") == (tmp_path / "c.csv").read_text(encoding="utf-8")


def test_history_lists_every_run_and_shows_one(qtbot, pages, context, tmp_path):
    evaluate = pages(EvaluatePage, context)
    prepare(evaluate, tiny_suite(tmp_path, n_items=4), precisions=("fp32", "bf16"))
    end = run_and_wait(qtbot, evaluate)
    history = pages(HistoryPage, context)
    assert [history.runs_model.rows[i]["id"] for i in range(2)] == sorted(end.run_ids, reverse=True)
    history.filter.setText("bf16")
    assert history.runs_proxy.rowCount() == 1
    history.filter.clear()
    with qtbot.waitSignal(history.results.loaded, timeout=30000):
        history.select_runs([end.run_ids[1]])
    assert history.tabs.currentIndex() == 0 and not history.tabs.isTabEnabled(1)
    assert history.results.run_ids() == [end.run_ids[1]]
    assert history.results.items_model.rowCount() == 8  # 4 items x 2 variants
    table = history.runs_table
    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    assert history.runs_proxy.index(0, 0).data() == str(end.run_ids[0])


def test_a_bad_suite_gets_a_clear_message(qtbot, pages, context, tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text(json.dumps({"suite": "broken", "version": "1"}) + "\n" + json.dumps(
        {"id": "b-1", "kind": "multiple_choice", "part": "p", "prompt": "Q?", "choices": ["a", "b"], "answer": 5}) + "\n")
    imported = tmp_path / "suites"
    imported.mkdir()
    (imported / "broken.jsonl").write_text(bad.read_text())
    page = pages(EvaluatePage, context)
    assert not page.add_suite_file(bad)
    assert 'line 2 (item b-1): "answer" 5' in page.message_bar.text()

    listed = [page.form.suites.item(i) for i in range(page.form.suites.count())]
    broken = next(item for item in listed if item.text().startswith("broken"))
    assert "(invalid)" in broken.text() and "line 2" in broken.toolTip()
    page.form.suites.setCurrentItem(broken)
    assert "line 2" in page.form.suite_info.text()
    page.message_bar.clear()
    page.form.tick_suites(["broken"])
    assert not page.run_matrix() and "line 2" in page.message_bar.text() and not page.host.busy


def test_a_locked_database_gets_a_clear_message(qtbot, pages, tmp_path, model_path):
    history = History.open(tmp_path / "locked.db", timeout=0.05)
    context = AppContext(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), history, None, None,
                         model_path)
    page = pages(EvaluatePage, context)
    prepare(page, tiny_suite(tmp_path))
    other = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as a command-line run writing an item
    try:
        end = run_and_wait(qtbot, page)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert end.outcome == "failed"
    assert "locked by another process" in page.message_bar.text()
    assert page.progress.run_button.isEnabled()
    end = run_and_wait(qtbot, page)
    assert end.outcome == "finished"
    page.shutdown()
    history.close()


def test_the_main_window_shows_both_pages(make_window):
    window = make_window(load=False, autoload=False)
    assert isinstance(window.evaluate_page, EvaluatePage)
    assert isinstance(window.history_page, HistoryPage)


def test_the_matrix_carries_sampling_and_system_prompt_into_every_run(pages, context, tmp_path):
    page = pages(EvaluatePage, context)
    prepare(page, tiny_suite(tmp_path), precisions=("fp32", "nf4"))
    page.form.temperatures.setText("0, 0.7")
    page.form.top_p.setValue(0.9)
    page.form.top_k.setValue(40)
    page.form.system_prompt.setText("Answer briefly.")
    specs = page.form.specs()
    assert len(specs) == 4  # 2 precisions x 2 temperatures
    assert {(s.settings.precision, s.settings.temperature) for s in specs} == {
        ("fp32", 0.0), ("fp32", 0.7), ("nf4", 0.0), ("nf4", 0.7)}
    assert all(s.settings.top_p == 0.9 and s.settings.top_k == 40 and s.settings.system_prompt == "Answer briefly."
               for s in specs)
