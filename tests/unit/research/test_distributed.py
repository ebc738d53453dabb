"""Running research tasks: order, retries, failures reported, results stored and resumed.

The same contract on a real Ray cluster is tested in tests/integration/test_ray_cluster.py.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from ttquant.core.errors import ConfigError, TaskError
from ttquant.research.distributed import (
    TINY_WORK,
    InProcessExecutor,
    RayExecutor,
    ResultStore,
    Task,
    TaskFailure,
    choose_executor,
    job_fingerprint,
    run_tasks,
)


class Recorder:
    """A task function that records its calls and fails on demand."""

    def __init__(self, fail: dict[int, int] | None = None) -> None:
        self.calls: list[int] = []
        self.fail = dict(fail or {})  # payload -> how many more times it fails

    def __call__(self, shared: int, payload: int) -> int:
        self.calls.append(payload)
        if self.fail.get(payload, 0) > 0:
            self.fail[payload] -= 1
            raise ValueError(f"payload {payload} broke\nsecond line")
        return shared * payload


def tasks(n: int) -> list[Task[int]]:
    return [Task(f"t{i}", i) for i in range(n)]


def test_results_come_back_in_task_order() -> None:
    fn = Recorder()
    assert run_tasks(InProcessExecutor(), fn, 10, tasks(5), progress=False) == [0, 10, 20, 30, 40]


def test_a_flaky_task_is_retried() -> None:
    fn = Recorder(fail={2: 2})
    assert run_tasks(InProcessExecutor(max_retries=2), fn, 1, tasks(4), progress=False) == [
        0,
        1,
        2,
        3,
    ]
    assert fn.calls == [0, 1, 2, 2, 2, 3]


def test_a_task_failing_after_its_retries_is_reported_not_dropped(tmp_path: Path) -> None:
    fn = Recorder(fail={1: 99, 3: 99})
    with ResultStore(tmp_path / "tasks.sqlite", "job") as store:
        with pytest.raises(TaskError) as info:
            run_tasks(
                InProcessExecutor(max_retries=1),
                fn,
                1,
                tasks(5),
                store=store,
                label="chunks",
                progress=False,
            )
        message = str(info.value)
        assert message.startswith("2 of 5 chunks failed after 2 attempt(s) each")
        assert "(first: t1: ValueError: payload 1 broke)" in message
        assert f"the 3 finished are saved in {store.path}" in message
        assert "\n" not in message
        assert store.load() == {"t0": 0, "t2": 2, "t4": 4}  # the others were all kept
    assert fn.calls == [0, 1, 1, 2, 3, 3, 4]


def test_a_rerun_runs_only_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "tasks.sqlite"
    first = Recorder(fail={1: 99})
    with ResultStore(path, "job") as store, pytest.raises(TaskError):
        run_tasks(InProcessExecutor(max_retries=0), first, 1, tasks(3), store=store, progress=False)
    second = Recorder()
    with ResultStore(path, "job") as store:
        assert run_tasks(InProcessExecutor(), second, 1, tasks(3), store=store, progress=False) == [
            0,
            1,
            2,
        ]
    assert second.calls == [1]
    third = Recorder()
    with ResultStore(path, "other job") as store:  # another job's results are not reused
        run_tasks(InProcessExecutor(), third, 1, tasks(3), store=store, progress=False)
    assert third.calls == [0, 1, 2]


def test_the_store_commits_each_result_as_it_arrives(tmp_path: Path) -> None:
    path = tmp_path / "tasks.sqlite"
    seen: list[int] = []

    def fn(shared: int, payload: int) -> int:
        # a separate connection sees every earlier result already committed
        with sqlite3.connect(path) as db:
            seen.append(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        return payload

    with ResultStore(path, "job") as store:
        run_tasks(InProcessExecutor(), fn, 0, tasks(4), store=store, progress=False)
    assert seen == [0, 1, 2, 3]


def test_the_in_process_executor_yields_failures() -> None:
    fn = Recorder(fail={0: 99})
    results = list(InProcessExecutor(max_retries=0).run(fn, 1, [0, 1]))
    assert results == [(0, TaskFailure("ValueError: payload 0 broke", 1)), (1, 1)]


def test_task_keys_must_be_unique() -> None:
    with pytest.raises(ValueError, match="task keys must be unique"):
        run_tasks(InProcessExecutor(), Recorder(), 1, [Task("a", 1), Task("a", 2)], progress=False)


def test_small_jobs_run_in_process() -> None:
    """Unless --workers asks for more than one, a job with one task or little work runs here
    (a local Ray instance would take longer to start than the job to run)."""
    for n_tasks, work in ((100, TINY_WORK - 1), (1, 10 * TINY_WORK)):
        executor = choose_executor(None, None, n_tasks=n_tasks, work=work)
        assert isinstance(executor, InProcessExecutor)
    executor = choose_executor(None, 1, n_tasks=50, work=10 * TINY_WORK)
    assert isinstance(executor, InProcessExecutor)
    with pytest.raises(ConfigError, match="--max-retries must be >= 0"):
        choose_executor(None, 1, n_tasks=1, work=1, max_retries=-1)


def test_job_fingerprint_is_stable_and_sensitive() -> None:
    a = job_fingerprint({"b": [1, 2], "a": "x"})
    assert a == job_fingerprint({"a": "x", "b": [1, 2]})
    assert a != job_fingerprint({"a": "x", "b": [1, 3]})


def test_an_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"result store .*cannot open it"):
        ResultStore(blocker / "tasks.sqlite", "job")


def test_an_unreachable_ray_address_fails_fast() -> None:
    """Ray itself retries an unreachable head for minutes; the user gets one line at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    with pytest.raises(ConfigError, match=f"cannot reach Ray at 127.0.0.1:{port}: "):
        RayExecutor(f"127.0.0.1:{port}")


def test_a_sweep_rerun_resumes_from_its_task_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import DEMO_DATA

    from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig
    from ttquant.research.execution import ExecutionSettings
    from ttquant.research.sweep import SweepJob, run_sweep

    job = SweepJob(
        config=BacktestConfig(
            data=[DataConfig(file=str(DEMO_DATA))],
            strategies=[StrategyConfig(name="sma_cross")],
            timerange="20240101-20240103",
        ),
        out=tmp_path,
        grid={"fast": "10:20:10", "slow": "60:120:60"},
        engine="event",
        chunk_size=1,
        execution=ExecutionSettings(workers=1, progress=False),
    )
    run_sweep(job)
    before = (tmp_path / "results.csv").read_bytes()
    calls: list[object] = []
    monkeypatch.setattr("ttquant.research.sweep.evaluate", lambda *a: calls.append(a))
    run_sweep(job)
    assert calls == []  # every chunk came from the store
    assert (tmp_path / "results.csv").read_bytes() == before
