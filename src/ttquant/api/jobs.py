"""Jobs: research and data work submitted over the API, each run in a process of its own.

At most ``slots`` jobs run at once; the rest wait in submission order. A job process is forked
from a *forkserver* that imported ttquant's engine once, so starting one costs milliseconds and
never forks the API's threads. Cancelling a queued job drops it; cancelling a running one
terminates its process (a backtest is a pure function of its input: there is nothing to clean
up but its output folder, which is kept for inspection).

Each change of a job is passed to ``on_change`` (the WebSocket ``jobs`` topic and the metrics).
Jobs are kept in memory; what they produce lasts: backtests are saved in the store as runs, the
others write their output folders under the work folder.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from ttquant.api.job_work import JobSpec, run_job
from ttquant.core.errors import ConfigError
from ttquant.monitor.metrics import Metrics

KINDS: Final = ("backtest", "sweep", "walkforward", "download")
STATES: Final = ("queued", "running", "succeeded", "failed", "canceled")
FINISHED: Final = frozenset({"succeeded", "failed", "canceled"})
_PRELOAD: Final = ["ttquant.api.job_work", "ttquant.engine.runner", "ttquant.store.runs"]


class QueueFullError(ConfigError):
    """Too many jobs are waiting; try again later."""


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    kind: str
    request: dict[str, Any]
    account: str | None
    owner: str  # token id of the submitter
    submitted_ns: int
    state: str = "queued"
    progress: float = 0.0
    started_ns: int | None = None
    finished_ns: int | None = None
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass(slots=True)
class _Running:
    job: Job
    process: Any = None  # multiprocessing.Process once started
    cancel: threading.Event = field(default_factory=threading.Event)


class JobManager:
    def __init__(
        self,
        *,
        slots: int,
        max_queued: int,
        work_dir: Path,
        store_url: str | None,
        metrics: Metrics | None = None,
        on_change: Callable[[Job], None] | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.store_url = store_url
        self._max_queued = max_queued
        self._slots = threading.BoundedSemaphore(slots)
        self._metrics = metrics
        self._on_change = on_change or (lambda job: None)
        self._lock = threading.Lock()
        self._jobs: dict[str, _Running] = {}
        self._closed = False
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)

    # -- commands -------------------------------------------------------------------------------
    def submit(self, kind: str, request: dict[str, Any], account: str | None, owner: str) -> Job:
        if kind not in KINDS:
            raise ConfigError(f"unknown job kind {kind!r}: use {', '.join(KINDS)}")
        with self._lock:
            if self._closed:
                raise ConfigError("the server is shutting down")
            waiting = sum(1 for r in self._jobs.values() if r.job.state == "queued")
            if waiting >= self._max_queued:
                raise QueueFullError(f"{waiting} jobs are already waiting; try again later")
            job = Job(uuid.uuid4().hex[:12], kind, request, account, owner, time.time_ns())
            entry = self._jobs[job.job_id] = _Running(job)
            self._changed(job)
        threading.Thread(target=self._run, args=(entry,), name=f"job-{job.job_id}").start()
        return job

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a queued or running job; a finished one is returned unchanged."""
        with self._lock:
            entry = self._jobs.get(job_id)
            if entry is None:
                return None
            entry.cancel.set()
            process = entry.process
            if entry.job.state == "queued":
                self._update(entry, state="canceled", finished_ns=time.time_ns())
            job = entry.job
        if process is not None and process.is_alive():
            process.terminate()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            entry = self._jobs.get(job_id)
            return None if entry is None else entry.job

    def list(self) -> list[Job]:
        with self._lock:
            return [r.job for r in self._jobs.values()]

    def close(self) -> None:
        """Cancel everything and wait for the job processes to end."""
        with self._lock:
            self._closed = True
            entries = list(self._jobs.values())
        for entry in entries:
            self.cancel(entry.job.job_id)
        for entry in entries:
            if entry.process is not None:
                entry.process.join(timeout=10)

    # -- the job thread ---------------------------------------------------------------------------
    def _run(self, entry: _Running) -> None:
        with self._slots:
            with self._lock:
                if entry.cancel.is_set():
                    return
                spec = JobSpec(
                    entry.job.job_id,
                    entry.job.kind,
                    entry.job.request,
                    self.store_url,
                    self.work_dir / entry.job.job_id,
                )
                receive, send = self._context.Pipe(duplex=False)
                process = self._context.Process(
                    target=run_job, args=(spec, send), name=f"ttq-job-{spec.job_id}", daemon=True
                )
                process.start()
                send.close()
                entry.process = process
                self._update(entry, state="running", started_ns=time.time_ns())
            self._follow(entry, receive, process)

    def _follow(
        self, entry: _Running, receive: multiprocessing.connection.Connection, process: Any
    ) -> None:
        outcome: tuple[str, Any] | None = None
        try:
            while True:
                try:
                    message = receive.recv()
                except (EOFError, OSError):
                    break
                if message[0] == "progress":
                    with self._lock:
                        self._update(entry, progress=float(message[1]))
                else:
                    outcome = message
        finally:
            receive.close()
            process.join()
        with self._lock:
            done = time.time_ns()
            if entry.cancel.is_set():
                self._update(entry, state="canceled", finished_ns=done)
            elif outcome is not None and outcome[0] == "result":
                self._update(
                    entry, state="succeeded", progress=1.0, result=outcome[1], finished_ns=done
                )
            else:
                error = (
                    outcome[1]
                    if outcome is not None
                    else f"the job process ended without a result (exit code {process.exitcode})"
                )
                self._update(entry, state="failed", error=error, finished_ns=done)

    def _update(self, entry: _Running, **changes: Any) -> None:
        """Apply ``changes`` (caller holds the lock) and report them after."""
        entry.job = replace(entry.job, **changes)
        self._changed(entry.job)

    def _changed(self, job: Job) -> None:
        if self._metrics is not None:
            self._export(job)
        self._on_change(job)

    def _export(self, job: Job) -> None:
        assert self._metrics is not None
        m = self._metrics
        if job.state == "running":
            m.job_progress.labels(job.kind, job.job_id).set(job.progress)
        elif job.state in FINISHED:
            with contextlib.suppress(KeyError):  # never exported: finished while queued
                m.job_progress.remove(job.kind, job.job_id)
        counts = Counter((r.job.kind, r.job.state) for r in self._jobs.values())
        for kind in KINDS:
            for state in STATES:
                m.jobs.labels(kind, state).set(counts[(kind, state)])
