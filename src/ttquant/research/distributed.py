"""Run many independent research tasks in this process or on a Ray cluster, resumably.

A research run is a list of tasks ``fn(shared, payload)``: ``shared`` is what every task reads
(the bars, the config) and each ``payload`` is one shard of the work (a chunk of parameter sets,
a time window, a fold). :func:`run_tasks` hands them to an executor and collects the results:

- **Executors.** :class:`InProcessExecutor` runs tasks one after the other here;
  :class:`RayExecutor` runs them on a Ray cluster (``address="auto"``, ``"host:port"`` or
  ``"ray://host:port"``) or on a local Ray instance it starts. Ray gets ``shared`` once, through
  the object store (``ray.put``), so a task ships only its small payload.
- **Bounded memory.** Each Ray task reserves one CPU and, when given, ``task_memory_mb`` of
  memory, so a node runs no more tasks than it can hold; at most ``max_in_flight`` tasks are
  submitted at a time, so results never pile up in the object store.
- **Retries, never silent loss.** A task that raises or whose worker dies is retried
  ``max_retries`` times; one that still fails is reported, and :func:`run_tasks` raises
  :class:`TaskError` after every other task has finished.
- **Resume.** With a :class:`ResultStore`, each finished result is committed to SQLite as it
  arrives, keyed by the job's fingerprint and the task key, and a rerun of the same job only
  runs the tasks that have no stored result.

The executor decides only where tasks run, never what they compute: results are returned in
task order, so a run gives the same output on one process or on a cluster.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import socket
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ttquant.core.errors import ConfigError, TaskError

__all__ = [
    "TINY_WORK",
    "Executor",
    "InProcessExecutor",
    "RayExecutor",
    "ResultStore",
    "Task",
    "TaskFailure",
    "choose_executor",
    "job_fingerprint",
    "run_tasks",
]

S = TypeVar("S")
P = TypeVar("P")
R = TypeVar("R")

# Below this many bars evaluated in total (≈ 20 s of event-driven backtesting), starting a local
# Ray instance (about 10 s on 2 cores, and a few hundred MB) costs more than it saves.
TINY_WORK = 8_000_000

_log = logging.getLogger(__name__)
_NOT_SHARED = object()


@dataclass(frozen=True, slots=True)
class Task(Generic[P]):
    """One shard of a job; ``key`` names it in progress reports and in the result store."""

    key: str
    payload: P


@dataclass(frozen=True, slots=True)
class TaskFailure:
    """A task that still failed after its retries."""

    error: str
    attempts: int


class Executor(Protocol):
    """Runs ``fn(shared, payload)`` for every payload and yields ``(index, result)``."""

    description: str
    max_retries: int

    def run(
        self, fn: Callable[[S, P], R], shared: S, payloads: Sequence[P]
    ) -> Iterator[tuple[int, R | TaskFailure]]: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """Tasks one after the other in this process: no start-up cost, for small jobs and tests."""

    description = "in-process"

    def __init__(self, max_retries: int = 2) -> None:
        self.max_retries = _retries(max_retries)

    def run(
        self, fn: Callable[[S, P], R], shared: S, payloads: Sequence[P]
    ) -> Iterator[tuple[int, R | TaskFailure]]:
        for index, payload in enumerate(payloads):
            for attempt in range(1, self.max_retries + 2):
                try:
                    result = fn(shared, payload)
                except Exception as exc:  # any task error is retried, then reported
                    if attempt > self.max_retries:
                        yield index, TaskFailure(_describe(exc), attempt)
                else:
                    yield index, result
                    break

    def close(self) -> None:
        return None


class RayExecutor:
    """Tasks on a Ray cluster, or on a local Ray instance started (and stopped) here."""

    def __init__(
        self,
        address: str | None = None,
        *,
        workers: int | None = None,
        task_memory_mb: int | None = None,
        max_retries: int = 2,
        max_in_flight: int | None = None,
    ) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        if task_memory_mb is not None and task_memory_mb <= 0:
            raise ConfigError(f"--worker-memory must be a positive MB count, got {task_memory_mb}")
        self.max_retries = _retries(max_retries)
        self._task_memory = None if task_memory_mb is None else task_memory_mb * 1024 * 1024
        self._shared: object = _NOT_SHARED
        self._shared_ref: Any = None
        import ray

        self._started = not ray.is_initialized()
        if self._started:
            if address:
                _check_reachable(address)
            try:
                ray.init(
                    # "local": a new instance, even when `ray start` left one on this machine
                    address=address or "local",
                    num_cpus=workers if address is None else None,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                )
            except (OSError, RuntimeError, ValueError, ImportError) as exc:
                where = address or "a local Ray instance"
                raise ConfigError(f"cannot start or reach Ray at {where}: {exc}") from None
        cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
        self.max_in_flight = max_in_flight or 2 * cpus
        self.description = (
            f"Ray cluster at {address} ({cpus} CPUs)" if address else f"local Ray ({cpus} CPUs)"
        )

    def run(
        self, fn: Callable[[S, P], R], shared: S, payloads: Sequence[P]
    ) -> Iterator[tuple[int, R | TaskFailure]]:
        import ray
        from ray.exceptions import RayError, RayTaskError

        options: dict[str, Any] = {
            "num_cpus": 1,
            "max_retries": self.max_retries,
            "retry_exceptions": True,
            "scheduling_strategy": "SPREAD",  # over every node, not packed onto the first
        }
        if self._task_memory is not None:
            options["memory"] = self._task_memory
        remote: Any = ray.remote(_call).options(**options)
        if self._shared is not shared:  # put once, however many runs share it
            self._shared, self._shared_ref = shared, ray.put(shared)
        shared_ref = self._shared_ref
        pending: dict[Any, int] = {}
        queued = iter(enumerate(payloads))
        while True:
            while len(pending) < self.max_in_flight:
                item = next(queued, None)
                if item is None:
                    break
                pending[remote.remote(fn, shared_ref, item[1])] = item[0]
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                index = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except RayTaskError as exc:
                    cause = exc.cause if isinstance(exc.cause, BaseException) else exc
                    yield index, TaskFailure(_describe(cause), self.max_retries + 1)
                except RayError as exc:  # worker died, object lost, out of memory, ...
                    yield index, TaskFailure(_describe(exc), self.max_retries + 1)
                else:
                    yield index, result

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a wrong HOST:PORT: Ray itself retries an unreachable GCS for minutes."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto" or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach Ray at {address}: {exc.strerror or exc}") from None


def _call(fn: Callable[[S, P], R], shared: S, payload: P) -> R:
    return fn(shared, payload)


def _retries(value: int) -> int:
    if value < 0:
        raise ConfigError(f"--max-retries must be >= 0, got {value}")
    return value


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def choose_executor(
    address: str | None,
    workers: int | None,
    *,
    n_tasks: int,
    work: int,
    task_memory_mb: int | None = None,
    max_retries: int = 2,
) -> Executor:
    """The executor for a job of ``n_tasks`` tasks evaluating ``work`` bars in total.

    A Ray address always means that cluster. Without one, ``workers`` decides when given (1:
    here, more: a local Ray instance with that many CPUs); when not, a job runs here if it has
    a single task or is tiny (under :data:`TINY_WORK` bars), else on a local Ray instance with
    every CPU.
    """
    if address:
        return RayExecutor(address, task_memory_mb=task_memory_mb, max_retries=max_retries)
    cpus = workers or os.cpu_count() or 1
    if cpus == 1 or (workers is None and (n_tasks <= 1 or work < TINY_WORK)):
        return InProcessExecutor(max_retries)
    return RayExecutor(workers=cpus, task_memory_mb=task_memory_mb, max_retries=max_retries)


def job_fingerprint(description: object) -> str:
    """A stable digest of everything that determines a job's results (JSON-able)."""
    text = json.dumps(description, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class ResultStore:
    """Finished task results of jobs, in one SQLite file, committed one by one as they arrive.

    Results are pickled: the store is a cache of this user's own runs under their output
    folder, not an exchange format (never open a store from a source you do not trust).
    """

    def __init__(self, path: str | Path, job: str) -> None:
        self.path = Path(path)
        self.job = job
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS results (job TEXT NOT NULL, key TEXT NOT NULL,"
                " value BLOB NOT NULL, PRIMARY KEY (job, key))"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"result store {self.path}: cannot open it ({exc})") from None

    def load(self) -> dict[str, Any]:
        rows = self._db.execute("SELECT key, value FROM results WHERE job = ?", (self.job,))
        return {key: pickle.loads(value) for key, value in rows}

    def save(self, key: str, value: object) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO results (job, key, value) VALUES (?, ?, ?)",
            (self.job, key, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)),
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def run_tasks(
    executor: Executor,
    fn: Callable[[S, P], R],
    shared: S,
    tasks: Sequence[Task[P]],
    *,
    store: ResultStore | None = None,
    label: str = "tasks",
    progress: bool = True,
) -> list[R]:
    """Every task's result, in task order; stored results are reused, new ones stored.

    Raises :class:`TaskError` naming the failed tasks once all the others have finished.
    """
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("task keys must be unique")
    done: dict[str, Any] = {}
    if store is not None:
        wanted = set(keys)
        done = {k: v for k, v in store.load().items() if k in wanted}
    todo = [t for t in tasks if t.key not in done]
    failures: list[tuple[str, TaskFailure]] = []
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (progress and console.is_terminal),
    ) as bar:
        bar_task = bar.add_task(label, total=len(tasks), completed=len(done))
        for index, outcome in executor.run(fn, shared, [t.payload for t in todo]):
            key = todo[index].key
            if isinstance(outcome, TaskFailure):
                failures.append((key, outcome))
                _log.warning("task %s failed: %s", key, outcome.error)
                bar.update(bar_task, description=f"{label} ({len(failures)} failed)")
                continue
            done[key] = outcome
            if store is not None:
                store.save(key, outcome)
            bar.advance(bar_task)
    if failures:
        position = {k: i for i, k in enumerate(keys)}
        failures.sort(key=lambda f: position[f[0]])  # report in task order, not arrival order
        raise TaskError(_failure_message(label, failures, len(tasks), store))
    return [done[k] for k in keys]


def _failure_message(
    label: str, failures: list[tuple[str, TaskFailure]], total: int, store: ResultStore | None
) -> str:
    key, first = failures[0]
    kept = (
        f"the {total - len(failures)} finished are saved in {store.path}: run the same command "
        "again to retry only the failed ones"
        if store is not None
        else "nothing was saved"
    )
    return (
        f"{len(failures)} of {total} {label} failed after {first.attempts} attempt(s) each "
        f"(first: {key}: {first.error}); {kept}"
    )
