"""Run suites against models and record every item's result as it completes.

A run is one suite x one model x one settings object. `Runner.start(spec)` loads nothing
itself: it gets a `LanguageModel` from its `opener` (the default wraps `engine.load` in an
`EngineBackend`; tests pass fakes), creates the run row, scores items (log-likelihood items
in batches of `items_per_batch`, one `loglikelihood` call per batch; generation items one
by one, or as many at once as a remote backend's `concurrency`; kinds in `lm.cannot_run` left out), commits each item's results as soon as they exist, reports progress, and finally
stores the metrics report and marks the run finished. Ctrl-C (KeyboardInterrupt) or
`should_stop()` marks it interrupted; any error marks it failed; `Runner.resume(run_id)`
scores only the items that have no result yet. It never prints (the CLI and the desktop
render `Progress`).
"""

from __future__ import annotations

import math
import os
import platform
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from itertools import product
from pathlib import Path
from typing import Callable, Iterable, Iterator

from . import report, scoring
from .backend import EngineBackend, LanguageModel
from .errors import USER_ERRORS, EvalError, HistoryError, HistoryLockedError, HistoryReadOnlyError, RunError
from history import History
from history.base import now, read_only_message
from .suite import Item, Suite, find_suite, load_suite


DEVICE = re.compile(r"auto|cpu|cuda(:\d{1,3})?")
MAX_INT = 2**63 - 1  # the largest integer SQLite stores


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

    def check(self) -> None:
        """RunError naming the first bad value; checked for every run before any run row exists.

        Sampling values are checked whatever the suite holds (a multiple-choice suite never
        samples, but its run records the settings), by the engine's own `Sampling` rules.
        """
        from engine import DISTRIBUTION_FIELDS, PRECISIONS, EngineError, Sampling

        if self.precision not in PRECISIONS:
            raise RunError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if not DEVICE.fullmatch(str(self.device).strip().lower()):  # the engine ignores case and spaces
            raise RunError(f"unknown device {self.device!r}; use auto, cpu or cuda[:N]")
        defaults = Sampling()
        for name in (n for n in DISTRIBUTION_FIELDS if isinstance(getattr(defaults, n), float)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise RunError(f"{name} must be a finite number, not {value!r}")
        for name, low, high in (("top_k", 0, 2**31 - 1), ("seed", 0, MAX_INT), ("batch_size", 1, 4096)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise RunError(f"{name.replace('_', '-')} must be a whole number from {low} to {high}, not {value!r}")
        for name in DISTRIBUTION_FIELDS:
            try:  # one field at a time, so the message names the value that is wrong
                Sampling(**{name: getattr(self, name)})
            except EngineError as exc:
                raise RunError(f"{exc}, not {getattr(self, name)!r}") from None
        if self.use_chat_template not in ("auto", True, False):
            raise RunError(f"use_chat_template must be auto, on or off, not {self.use_chat_template!r}")
        if self.system_prompt is not None and not isinstance(self.system_prompt, str):
            raise RunError("the system prompt must be text")


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


# How a run gets its model (path, settings) -> LoadedModel: engine_opener wraps engine.load (engine/loader.py);
# the app passes one that shares its loaded models, remote_backend one for servers, tests fakes.
ModelOpener = Callable[[str | None, RunSettings], LoadedModel]


def engine_opener(model_path: str | None, settings: RunSettings, open_model=None) -> LoadedModel:
    """Load with `engine.load` and wrap it in an `EngineBackend`; RunError on failure.

    open_model(path, device=, precision=) -> (engine.Model, close): where the model comes from instead
    (the desktop app passes its pool of shared models); closing the run calls that close."""
    import engine

    try:
        if open_model is None:
            model = engine.load(model_path, device=settings.device, precision=settings.precision)
            close = model.close
        else:
            model, close = open_model(model_path, device=settings.device, precision=settings.precision)
    except engine.EngineError as exc:
        raise RunError(f"could not load model {model_path or 'default'}: {exc}") from exc
    except OSError as exc:
        raise RunError(f"could not load model {model_path or 'default'}: {exc}; check the folder") from exc
    backend = EngineBackend(model, use_chat_template=settings.use_chat_template, batch_size=settings.batch_size,
                            system_prompt=settings.system_prompt)
    return LoadedModel(backend, model.info.to_dict(), close)


def _check_model_path(model_path: str | None) -> None:
    """engine_opener's cheap check before any run starts: a local model path must exist."""
    if model_path is not None and not Path(model_path).expanduser().exists():
        raise RunError(f"could not load model {model_path}: no such file or folder; check the path")


engine_opener.check = _check_model_path  # type: ignore[attr-defined]


def validate_specs(specs: Iterable[RunSpec], opener: ModelOpener | None = None) -> None:
    """Check every run of a matrix (settings, limits, model paths) before the first one starts."""
    check_model = getattr(opener, "check", None)
    for spec in specs:
        spec.settings.check()
        if spec.limit is not None and not 1 <= spec.limit <= MAX_INT:
            raise RunError(f"--limit must be a whole number from 1 to {MAX_INT}, not {spec.limit}")
        if check_model is not None:
            check_model(spec.model_path)


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

    def __init__(self, history: History, opener: ModelOpener = engine_opener, items_per_batch: int = 8,
                 on_progress: Callable[[Progress], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, n_boot: int = 1000):
        self.history = history
        self.opener = opener
        self.items_per_batch = max(1, items_per_batch)
        self.on_progress = on_progress
        self.should_stop = should_stop or (lambda: False)
        self.n_boot = n_boot
        self.current_run_id: int | None = None  # the run being executed (for "resume N" hints)
        self.run_ids: list[int] = []  # runs created by the latest start_many, in order

    # ---- entry points ----------------------------------------------------------------------
    def start(self, spec: RunSpec) -> int:
        """Load the model, create and execute one run; returns the run id."""
        return self.start_many([spec])[0]

    def start_many(self, specs: list[RunSpec]) -> list[int]:
        """Execute runs in order, loading each (model, precision, device) once."""
        validate_specs(specs, self.opener)
        if self.history.read_only:
            raise HistoryReadOnlyError(read_only_message(self.history.path))
        run_ids = self.run_ids = []  # the runs created so far, also when a later one fails
        loaded: LoadedModel | None = None
        key = None
        try:
            for spec in specs:
                if run_ids and self.should_stop():
                    break
                spec_key = (spec.model_path, spec.settings.precision, spec.settings.device,
                            spec.settings.use_chat_template, spec.settings.system_prompt, spec.settings.batch_size)
                if spec_key != key:
                    if loaded is not None:
                        loaded.close()
                    loaded, key = None, None
                    loaded = self.opener(spec.model_path, spec.settings)
                    key = spec_key
                run_id = self._create(spec, loaded)
                run_ids.append(run_id)
                self._execute(run_id, spec, loaded.lm, done=set())
        finally:
            if loaded is not None:
                loaded.close()
        return run_ids

    def resume(self, run_id: int, force: bool = False) -> int:
        """Finish an interrupted, failed or killed run: score the items without results.

        `force`: take over a run marked running by a live process that is not glasslm (a
        reused process id); the caller has checked.
        """
        if self.history.read_only:
            raise HistoryReadOnlyError(read_only_message(self.history.path))
        row = self.history.run(run_id)
        if row["status"] == "finished":
            raise RunError(f"run {run_id} is already finished; `glasslm eval show {run_id}` shows it")
        if row["status"] == "running" and not force and _alive_elsewhere(row):
            raise RunError(f"run {run_id} is marked running in process {row['pid']}, which is alive; stop that "
                           f"process or wait for it, or, if `ps -p {row['pid']}` shows it is not glasslm (a reused "
                           f"process id), `glasslm eval resume {run_id} --force` takes the run over")
        suite = _suite_for(row, self.history)
        try:
            settings = RunSettings.from_dict(row["settings"] or {})
            settings.check()
        except (RunError, TypeError) as exc:
            raise RunError(f"run {run_id} was recorded with settings that cannot run ({exc}); start a new run "
                           "with valid settings instead") from None
        spec = RunSpec(suite, row["model_path"], settings, row["item_limit"])
        loaded = self.opener(row["model_path"], settings)
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
        items = _selected(spec, loaded.lm)
        model_id = self.history.upsert_model(loaded.info)
        settings = spec.settings.to_dict()
        model_path = str(loaded.info.get("path") or spec.model_path or "")
        if model_path and os.path.exists(model_path):  # absolute, so resume works from any folder
            model_path = os.path.abspath(model_path)
        return self.history.create_run(
            suite_id=spec.suite.id, suite_version=spec.suite.version, suite_hash=spec.suite.hash,
            suite_title=spec.suite.title, suite_path=os.path.abspath(spec.suite.path), model_id=model_id,
            model_path=model_path,
            settings_id=self.history.upsert_settings(settings), settings=settings, seed=spec.settings.seed,
            item_limit=spec.limit, n_items=len(items), pid=os.getpid(), machine=machine_info(loaded.info),
            n_truncated=0 if hasattr(loaded.lm, "last_truncated") else None)

    def _execute(self, run_id: int, spec: RunSpec, lm: LanguageModel, done: set[str]) -> None:
        self.current_run_id = run_id
        items = _selected(spec, lm)
        todo = [item for item in items if item.id not in done]
        self.history.update_run(run_id, status="running", pid=os.getpid(), error=None, ended_at=None)
        settings = spec.settings.to_dict()
        started = time.perf_counter()
        n_done, finished_here = len(items) - len(todo), 0
        try:
            concurrency = max(1, int(getattr(lm, "concurrency", 1) or 1))  # a remote backend's requests in flight
            for batch in _batches(todo, max(self.items_per_batch, concurrency), together=concurrency > 1):
                for item, results, truncated in self._score(batch, lm, settings, spec.settings.seed):
                    self.history.add_results(run_id, results, truncated=int(truncated))
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
            self.history.try_update_run(run_id, status="interrupted", ended_at=now())
            raise
        except HistoryLockedError as exc:
            # Waited the full lock timeout already: mark it if the lock is free by now; a run left
            # "running" by a process that has exited is resumed the same way.
            self.history.try_update_run(run_id, status="interrupted", ended_at=now())
            raise RunError(f"the history database {self.history.path} stayed locked by another process for "
                           f"{self.history.lock_timeout:.0f} s, so run {run_id} stopped after {n_done} of "
                           f"{len(items)} items (all of them kept); close the program that holds the database, "
                           f"then `glasslm eval resume {run_id}` finishes the run") from exc
        except HistoryError:
            raise  # the database itself (damaged, read-only): writing the failure there could only do harm
        except Exception as exc:
            # Any error (the engine's, or an unexpected one) ends the run as failed with its reason;
            # the original stays chained for debugging (GLASSLM_DEBUG=1 shows it on the CLI).
            self.history.try_update_run(run_id, wait_s=self.history.lock_timeout, status="failed",
                                        ended_at=now(), error=_one_line(exc))
            raise RunError(f"run {run_id} failed: {_one_line(exc)}; fix the cause, then "
                           f"`glasslm eval resume {run_id}`") from exc

    def _score(self, batch: list[Item], lm: LanguageModel, settings: dict,
               seed: int) -> Iterator[tuple[Item, list[dict], bool]]:
        """(item, its results, whether any of its inputs was longer than the context window)."""
        if batch[0].kind in scoring.LOGLIKELIHOOD_KINDS:
            requests = [scoring.loglikelihood_requests(item) for item in batch]
            begin = time.perf_counter()
            answers = lm.loglikelihood([r for rs in requests for r in rs])
            latency = (time.perf_counter() - begin) / len(batch)
            flags = list(getattr(lm, "last_truncated", None) or [])
            pos = 0
            for item, reqs in zip(batch, requests):
                yield (item, scoring.score_loglikelihood(item, answers[pos: pos + len(reqs)], latency),
                       any(flags[pos: pos + len(reqs)]))
                pos += len(reqs)
        elif getattr(lm, "concurrency", 1) > 1 and len(batch) > 1:  # a remote server: items in flight together
            pool = ThreadPoolExecutor(min(lm.concurrency, len(batch)))
            try:
                futures = [pool.submit(scoring.score_item, item, lm, settings, seed) for item in batch]
                for item, future in zip(batch, futures):
                    yield item, future.result(), False
            finally:
                pool.shutdown(wait=False, cancel_futures=True)
        else:
            for item in batch:
                watched = _TruncationWatch(lm)
                yield item, scoring.score_item(item, watched, settings, seed), watched.truncated

    def _report(self, run_id: int, spec: RunSpec, done: int, total: int, here: int, started: float,
                item_id: str) -> None:
        if self.on_progress is None:
            return
        elapsed = time.perf_counter() - started
        rate = here / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else None
        self.on_progress(Progress(run_id, spec.suite.id, done, total, rate, eta, elapsed, item_id))


class _TruncationWatch:
    """The model as scoring sees it for one item: notes whether any request lost its first tokens."""

    def __init__(self, lm: LanguageModel):
        self.lm = lm
        self.name = getattr(lm, "name", "")
        self.truncated = False

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        answers = self.lm.loglikelihood(requests)
        self.truncated |= any(getattr(self.lm, "last_truncated", None) or ())
        return answers

    def generate(self, prompt: str, settings: dict) -> str:
        text = self.lm.generate(prompt, settings)
        self.truncated |= any(getattr(self.lm, "last_truncated", None) or ())
        return text

    def __getattr__(self, name: str):  # render() and anything else scoring may look up
        return getattr(self.lm, name)


def _selected(spec: RunSpec, lm: LanguageModel | None = None) -> list[Item]:
    """The run's items: the first `limit` of those whose kind the model can run (`lm.cannot_run` names the
    others, e.g. multiple choice on a remote server that gives no log-probabilities)."""
    skipped = tuple(getattr(lm, "cannot_run", ()) or ())
    items = [item for item in spec.suite.items if item.kind not in skipped]
    return items[: spec.limit] if spec.limit else items


def _batches(items: list[Item], size: int, together: bool = False) -> Iterator[list[Item]]:
    """Consecutive log-likelihood items grouped up to `size`; every other item alone, or (together)
    consecutive generation items grouped up to `size` too."""
    batch: list[Item] = []
    for item in items:
        if together and item.kind not in scoring.LOGLIKELIHOOD_KINDS:
            if batch and batch[0].kind in scoring.LOGLIKELIHOOD_KINDS:
                yield batch
                batch = []
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
        elif item.kind in scoring.LOGLIKELIHOOD_KINDS:
            if batch and batch[0].kind not in scoring.LOGLIKELIHOOD_KINDS:
                yield batch
                batch = []
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
    """The suite file of a run, by its recorded path, else by id; its content must be unchanged.

    Runs record an absolute path; a relative one (runs from before) is tried against the
    current folder, then the suite is looked up by id among built-in and imported suites.
    """
    from .suite import user_suites_dir

    path = Path(row["suite_path"]) if row.get("suite_path") else None
    suite = None
    if path is not None and path.is_file():
        try:
            suite = load_suite(path, source="file")
        except USER_ERRORS:
            suite = None
    if suite is None or suite.hash != row["suite_hash"]:
        try:
            candidate = find_suite(row["suite_id"], user_suites_dir(history.path))
        except USER_ERRORS:
            candidate = None
        if candidate is not None and candidate.hash == row["suite_hash"]:
            suite = candidate
    if suite is None and (path is None or not path.is_file()):
        raise RunError(f"the suite file of run {row['id']} ({row.get('suite_path')}) is gone and no suite "
                       f"{row['suite_id']!r} with the same content is installed; put the file back, then resume")
    if suite is None or suite.hash != row["suite_hash"]:
        raise RunError(f"suite {row['suite_id']} changed since run {row['id']} started (its content hash differs), "
                       f"so the run cannot be resumed; start a new run with `glasslm eval run {row['suite_id']}`")
    return suite


def _alive_elsewhere(row: dict) -> bool:
    """True when the run's process may still be running it: alive on this machine, not us, and
    (where /proc tells) a Python or glasslm process rather than a reused process id."""
    pid = row.get("pid")
    if not pid or pid == os.getpid() or (row.get("machine") or {}).get("host") != platform.node():
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").lower()
    except OSError:  # no /proc (macOS, Windows) or gone meanwhile: assume it may be ours
        return True
    return b"python" in command or b"glasslm" in command


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
