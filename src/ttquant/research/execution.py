"""Where a research job's tasks run, as chosen on the command line."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ttquant.research.distributed import Executor, TaskFailure, choose_executor

__all__ = ["ExecutionSettings", "gather"]

S = TypeVar("S")
P = TypeVar("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class ExecutionSettings:
    """``--ray-address``, ``--workers``, ``--worker-memory``, ``--max-retries``, progress bars."""

    ray_address: str | None = None
    workers: int | None = None
    worker_memory_mb: int | None = None
    max_retries: int = 2
    progress: bool = True

    def executor(self, n_tasks: int, work: int) -> Executor:
        return choose_executor(
            self.ray_address,
            self.workers,
            n_tasks=n_tasks,
            work=work,
            task_memory_mb=self.worker_memory_mb,
            max_retries=self.max_retries,
        )


def gather(
    executor: Executor, fn: Callable[[S, P], R], shared: S, payloads: Sequence[P]
) -> list[R | TaskFailure]:
    """Every payload's result (or failure) in payload order, however the executor finishes."""
    results: list[R | TaskFailure | None] = [None] * len(payloads)
    for index, result in executor.run(fn, shared, payloads):
        results[index] = result
    missing = [i for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"executor returned no result for tasks {missing}")
    return [r for r in results if r is not None]
