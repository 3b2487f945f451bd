"""Run suites against models and record every item's result as it completes.

A run is one suite x one model x one settings object. `Runner.start(spec)` loads nothing
itself: it gets a `LanguageModel` from its `loader` (the default wraps `engine.load` in an
`EngineBackend`; tests pass fakes), creates the run row, scores items (log-likelihood items
in batches of `items_per_batch`, one `loglikelihood` call per batch; generation items one
by one), commits each item's results as soon as they exist, reports progress, and finally
stores the metrics report and marks the run finished. Ctrl-C (KeyboardInterrupt) or
`should_stop()` marks it interrupted; any error marks it failed; `Runner.resume(run_id)`
scores only the items that have no result yet. It never prints (the CLI and the desktop
render `Progress`).
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, field, fields, replace
from itertools import product
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import report, scoring
from .backend import EngineBackend, LanguageModel
from .errors import EvalError, RunError
from .history import History
from .history.base import now
from .suite import Item, Suite, find_suite, load_suite


@dataclass(frozen=True)
class RunSettings:
    precision: str = "auto"  # engine precision: auto|fp32|bf16|fp16|int8|nf4|fp4
    device: str = "auto"  # auto|cpu|cuda[:N]
    temperature: float = 0.0  # generation items; 0 = greedy (self-consistency items use their own)
    top_k: int = 0
    top_p: float = 1.0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    seed: int = 0  # run seed; each sample's seed derives from it, the item id and the sample index
    system_prompt: str | None = None  # used only with a chat template
    use_chat_template: bool | str = "auto"  # generation items: "auto" = when the model has one
    batch_size: int = 16  # padded sequences per forward; results do not depend on it

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "RunSettings":
        return cls(**{k: v for k, v in data.items() if k in {f.name for f in fields(cls)}})


@dataclass(frozen=True)
class RunSpec:
    suite: Suite
    model_path: str | None  # None = the bundled default model
    settings: RunSettings = field(default_factory=RunSettings)
    limit: int | None = None  # score only the first `limit` items


@dataclass(frozen=True)
class Progress:
    run_id: int
    suite_id: str
    done: int  # items with results (including ones from before a resume)
    total: int
    items_per_s: float  # over this session
    eta_s: float | None
    elapsed_s: float
    item_id: str | None  # the item just finished


@dataclass
class LoadedModel:
    lm: LanguageModel
    info: dict  # engine ModelInfo fields; must include "fingerprint"
    close: Callable[[], None] = lambda: None


Loader = Callable[[str | None, RunSettings], LoadedModel]


def engine_loader(model_path: str | None, settings: RunSettings) -> LoadedModel:
    """Load with `engine.load` and wrap it in an `EngineBackend`; RunError on failure."""
    import engine

    try:
        model = engine.load(model_path, device=settings.device, precision=settings.precision)
    except engine.EngineError as exc:
        raise RunError(f"could not load model {model_path or 'default'}: {exc}") from exc
    except OSError as exc:
        raise RunError(f"could not load model {model_path or 'default'}: {exc}; check the folder") from exc
    backend = EngineBackend(model, use_chat_template=settings.use_chat_template, batch_size=settings.batch_size,
                            system_prompt=settings.system_prompt)
    return LoadedModel(backend, model.info.to_dict(), model.close)


def expand_matrix(suites: Iterable[Suite], model_paths: Iterable[str | None], precisions: Iterable[str] = ("auto",),
                  temperatures: Iterable[float] = (0.0,), seeds: Iterable[int] = (0,),
                  base: RunSettings = RunSettings(), limit: int | None = None) -> list[RunSpec]:
    """Every combination, grouped so runs sharing a loaded model are adjacent."""
    out = []
    for model_path, precision, suite, temperature, seed in product(
            list(model_paths), list(precisions), list(suites), list(temperatures), list(seeds)):
        settings = replace(base, precision=precision, temperature=float(temperature), seed=int(seed))
        out.append(RunSpec(suite, model_path, settings, limit))
    return out


def machine_info(model_info: dict) -> dict:
    info = {"host": platform.node(), "os": platform.platform(), "python": platform.python_version(),
            "device": model_info.get("device"), "precision": model_info.get("precision")}
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:  # fakes in tests may run without torch
        pass
    try:
        from importlib.metadata import version

        info["glasslm"] = version("glasslm")
    except Exception:  # not installed as a package
        pass
    return info


class Stopped(Exception):
    """Raised inside the loop when should_stop() says so; the run is marked interrupted."""


class Runner:
    """Runs specs against models; one object per history. `__init__` only stores."""

    def __init__(self, history: History, loader: Loader = engine_loader, items_per_batch: int = 8,
                 on_progress: Callable[[Progress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, n_boot: int = 1000):
        self.history = history
        self.loader = loader
        self.items_per_batch = max(1, items_per_batch)
        self.on_progress = on_progress
        self.should_stop = should_stop or (lambda: False)
        self.n_boot = n_boot
        self.current_run_id: int | None = None  # the run being executed (for "resume N" hints)

    # ---- entry points ----------------------------------------------------------------------
    def start(self, spec: RunSpec) -> int:
        """Load the model, create and execute one run; returns the run id."""
        return self.start_many([spec])[0]

    def start_many(self, specs: list[RunSpec]) -> list[int]:
        """Execute runs in order, loading each (model, precision, device) once."""
        run_ids: list[int] = []
        loaded: LoadedModel | None = None
        key = None
        try:
            for spec in specs:
                if run_ids and self.should_stop():
                    break
                if spec.limit is not None and spec.limit < 1:
                    raise RunError("--limit must be at least 1")
                spec_key = (spec.model_path, spec.settings.precision, spec.settings.device,
                            spec.settings.use_chat_template, spec.settings.system_prompt, spec.settings.batch_size)
                if spec_key != key:
                    if loaded is not None:
                        loaded.close()
                    loaded, key = None, None
                    loaded = self.loader(spec.model_path, spec.settings)
                    key = spec_key
                run_id = self._create(spec, loaded)
                run_ids.append(run_id)
                self._execute(run_id, spec, loaded.lm, done=set())
        finally:
            if loaded is not None:
                loaded.close()
        return run_ids

    def resume(self, run_id: int) -> int:
        """Finish an interrupted, failed or killed run: score the items without results."""
        row = self.history.run(run_id)
        if row["status"] == "finished":
            raise RunError(f"run {run_id} is already finished; `glasslm eval show {run_id}` shows it")
        if row["status"] == "running" and _alive_elsewhere(row):
            raise RunError(f"run {run_id} is still running in process {row['pid']}; stop it first or wait")
        suite = _suite_for(row, self.history)
        settings = RunSettings.from_dict(row["settings"] or {})
        spec = RunSpec(suite, row["model_path"], settings, row["item_limit"])
        loaded = self.loader(row["model_path"], settings)
        try:
            if row["model_id"] is not None:
                expected = self.history.model(row["model_id"])["fingerprint"]
                got = loaded.info.get("fingerprint")
                if got and expected != got:
                    raise RunError(f"the model at {row['model_path']} changed since run {run_id} started "
                                   "(different fingerprint); start a new run instead")
            self._execute(run_id, spec, loaded.lm, done=self.history.done_item_ids(run_id))
        finally:
            loaded.close()
        return run_id

    # ---- internals -------------------------------------------------------------------------
    def _create(self, spec: RunSpec, loaded: LoadedModel) -> int:
        items = _selected(spec)
        model_id = self.history.upsert_model(loaded.info)
        settings = spec.settings.to_dict()
        return self.history.create_run(
            suite_id=spec.suite.id, suite_version=spec.suite.version, suite_hash=spec.suite.hash,
            suite_title=spec.suite.title, suite_path=str(spec.suite.path), model_id=model_id,
            model_path=str(loaded.info.get("path") or spec.model_path or ""),
            settings_id=self.history.upsert_settings(settings), settings=settings, seed=spec.settings.seed,
            item_limit=spec.limit, n_items=len(items), pid=os.getpid(), machine=machine_info(loaded.info))

    def _execute(self, run_id: int, spec: RunSpec, lm: LanguageModel, done: set[str]) -> None:
        self.current_run_id = run_id
        items = _selected(spec)
        todo = [item for item in items if item.id not in done]
        self.history.update_run(run_id, status="running", pid=os.getpid(), error=None, ended_at=None)
        settings = spec.settings.to_dict()
        started = time.perf_counter()
        n_done, finished_here = len(items) - len(todo), 0
        try:
            for batch in _batches(todo, self.items_per_batch):
                for item, results in self._score(batch, lm, settings, spec.settings.seed):
                    self.history.add_results(run_id, results)
                    n_done += 1
                    finished_here += 1
                    self._report(run_id, spec, n_done, len(items), finished_here, started, item.id)
                if self.should_stop():
                    raise Stopped()
            metrics = report.build_report(self.history.results(run_id), n_boot=self.n_boot, seed=spec.settings.seed)
            self.history.update_run(run_id, status="finished", ended_at=now(), metrics=metrics)
        except Stopped:
            self.history.update_run(run_id, status="interrupted", ended_at=now())
        except KeyboardInterrupt:
            self.history.update_run(run_id, status="interrupted", ended_at=now())
            raise
        except Exception as exc:
            # Any error (the engine's, or an unexpected one) ends the run as failed with its reason;
            # the original stays chained for debugging (GLASSLM_DEBUG=1 shows it on the CLI).
            self.history.update_run(run_id, status="failed", ended_at=now(), error=_one_line(exc))
            raise RunError(f"run {run_id} failed: {_one_line(exc)}; fix the cause, then "
                           f"`glasslm eval resume {run_id}`") from exc

    def _score(self, batch: list[Item], lm: LanguageModel, settings: dict, seed: int) -> Iterator[tuple[Item, list[dict]]]:
        if batch[0].kind in scoring.LOGLIKELIHOOD_KINDS:
            requests = [scoring.loglikelihood_requests(item) for item in batch]
            begin = time.perf_counter()
            answers = lm.loglikelihood([r for rs in requests for r in rs])
            latency = (time.perf_counter() - begin) / len(batch)
            pos = 0
            for item, reqs in zip(batch, requests):
                yield item, scoring.score_loglikelihood(item, answers[pos: pos + len(reqs)], latency)
                pos += len(reqs)
        else:
            for item in batch:
                yield item, scoring.score_item(item, lm, settings, seed)

    def _report(self, run_id: int, spec: RunSpec, done: int, total: int, here: int, started: float,
                item_id: str) -> None:
        if self.on_progress is None:
            return
        elapsed = time.perf_counter() - started
        rate = here / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        self.on_progress(Progress(run_id, spec.suite.id, done, total, rate, eta, elapsed, item_id))


def _selected(spec: RunSpec) -> list[Item]:
    items = list(spec.suite.items)
    return items[: spec.limit] if spec.limit else items


def _batches(items: list[Item], size: int) -> Iterator[list[Item]]:
    """Consecutive log-likelihood items grouped up to `size`; every other item alone."""
    batch: list[Item] = []
    for item in items:
        if item.kind in scoring.LOGLIKELIHOOD_KINDS:
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
        else:
            if batch:
                yield batch
                batch = []
            yield [item]
    if batch:
        yield batch


def _suite_for(row: dict, history: History) -> Suite:
    from .suite import user_suites_dir

    path = Path(row["suite_path"]) if row.get("suite_path") else None
    suite = None
    if path is not None and path.is_file():
        suite = load_suite(path, source="file")
    if suite is None or suite.hash != row["suite_hash"]:
        try:
            candidate = find_suite(row["suite_id"], user_suites_dir(history.path))
        except EvalError:
            candidate = None
        if candidate is not None and candidate.hash == row["suite_hash"]:
            suite = candidate
    if suite is None or suite.hash != row["suite_hash"]:
        raise RunError(f"suite {row['suite_id']} changed since run {row['id']} started (its content hash differs), "
                       f"so the run cannot be resumed; start a new run with `glasslm eval run {row['suite_id']}`")
    return suite


def _alive_elsewhere(row: dict) -> bool:
    """True when the run's process is still alive on this machine (and is not us)."""
    pid = row.get("pid")
    if not pid or pid == os.getpid() or (row.get("machine") or {}).get("host") != platform.node():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
