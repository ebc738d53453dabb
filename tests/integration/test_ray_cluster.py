"""Research runs on a real Ray cluster: a head and one worker node started with `ray start` on
loopback, exactly as an operator starts one. A distributed run must return exactly what the
same run returns in one process; a failed task is retried, reported, and resumed by a rerun;
a worker that dies mid-task is replaced without losing the task.

Starting the cluster is the slow part, so one test runs every scenario on it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import ray
from tests.conftest import DEMO_DATA

from ttquant.core.errors import TaskError
from ttquant.core.time import NANOS_PER_DAY
from ttquant.engine.config import BacktestConfig, DataConfig, StrategyConfig, VenueConfig
from ttquant.research.execution import ExecutionSettings
from ttquant.research.optimize import StudySettings
from ttquant.research.optimize_job import OptimizeJob, run_optimize
from ttquant.research.sweep import SweepJob, run_sweep
from ttquant.research.walkforward_job import WalkForwardJob, run_walkforward

PROBE = '''
"""SMA cross that logs which Ray node ran it, and fails or crashes when told to."""
import os
from pathlib import Path

from ttquant.strategy.library.ma_cross import SMACross

HERE = Path(__file__).parent


class Probe(SMACross):
    name = "probe"

    def on_start(self) -> None:
        import ray

        node = ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"
        with open(HERE / "runs.log", "a") as log:
            log.write(f"{node} {self.fast} {self.slow}\\n")
        if (HERE / f"fail-{self.fast}").exists():
            raise RuntimeError(f"fast={self.fast} is broken")
        crash = HERE / f"crash-{self.fast}"
        if crash.exists():
            crash.unlink()
            os._exit(1)  # the worker process dies mid-task
        super().on_start()
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(args: list[str], env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    node_ports = [
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--dashboard-agent-grpc-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
    ]
    ray_cli = str(Path(sys.executable).with_name("ray"))
    return subprocess.Popen(
        [
            ray_cli,
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=1",
            "--disable-usage-stats",
            *node_ports,
            *args,
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: teardown ends the node and its workers
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # workers of the group may take a moment to go
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    temp = Path(tempfile.mkdtemp(prefix="ttqray", dir="/tmp"))  # short: socket paths are limited
    # loopback only, so no token: a driver process reads Ray's auth mode once, at import
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    port = _free_port()
    address = f"127.0.0.1:{port}"
    nodes: list[subprocess.Popen[bytes]] = []
    with open(temp / "cluster.log", "wb") as log:
        try:
            nodes.append(
                _start(
                    ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp}"],
                    env,
                    log,
                )
            )
            _wait_for_port(port, nodes[0], temp)
            nodes.append(_start([f"--address={address}"], env, log))
            ray.init(address=address, log_to_driver=False)
            deadline = time.monotonic() + 90
            while sum(n["Alive"] for n in ray.nodes()) < 2:  # type: ignore[no-untyped-call]
                if time.monotonic() > deadline or nodes[1].poll() is not None:
                    pytest.fail(f"worker node did not join: {(temp / 'cluster.log').read_text()}")
                time.sleep(0.2)
            ray.shutdown()
            yield address
        finally:
            if ray.is_initialized():
                ray.shutdown()
            for node in reversed(nodes):
                _stop(node)
            shutil.rmtree(temp, ignore_errors=True)


def _wait_for_port(port: int, head: subprocess.Popen[bytes], temp: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if head.poll() is not None:
            pytest.fail(f"ray head exited: {(temp / 'cluster.log').read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail("ray head did not open its port within 60 s")


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    path = tmp_path / "probe" / "probe_strategy.py"
    path.parent.mkdir()
    path.write_text(PROBE)
    return path


def config(probe: Path) -> BacktestConfig:
    return BacktestConfig(
        data=[DataConfig(file=str(DEMO_DATA), symbol="BTC/USDT")],
        strategies=[StrategyConfig(name=f"{probe}:Probe")],
        venue=VenueConfig(fee_bps=1.0),
        timerange="20240101-20240106",
    )


def walk(probe: Path, out: Path, execution: ExecutionSettings) -> None:
    run_walkforward(
        WalkForwardJob(
            config=config(probe),
            out=out,
            in_sample=2 * NANOS_PER_DAY,
            out_of_sample=NANOS_PER_DAY,
            params={"fast": "10:30:10", "slow": "60"},
            chunk_size=1,  # one task per window and parameter set: 9 in-sample tasks
            execution=execution,
        )
    )


LOCAL = ExecutionSettings(workers=1, progress=False)


def on_ray(address: str, retries: int = 2) -> ExecutionSettings:
    return ExecutionSettings(ray_address=address, max_retries=retries, progress=False)


def results(out: Path) -> dict[str, bytes]:
    found = {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))}
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("executor")
    found["summary.json"] = json.dumps(summary, sort_keys=True).encode()
    return found


def runs(probe: Path) -> list[list[str]]:
    log = probe.with_name("runs.log")
    lines = log.read_text().split("\n") if log.exists() else []
    log.unlink(missing_ok=True)
    return [line.split() for line in lines if line]


def test_research_runs_on_a_ray_cluster_exactly_as_in_one_process(
    cluster: str, probe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One test, one cluster: pytest-xdist may give each test of a module its own worker, and
    every worker would start its own cluster."""
    walk(probe, tmp_path / "local", LOCAL)
    local_runs = runs(probe)
    assert {node for node, *_ in local_runs} == {"local"}
    reference = results(tmp_path / "local")
    walk_forward_equals_local(cluster, probe, tmp_path / "wf", reference, local_runs, monkeypatch)
    sweep_equals_local(cluster, probe, tmp_path / "sweep")
    optimization_equals_local(cluster, probe, tmp_path / "opt")
    failing_task_is_retried_reported_and_resumed(cluster, probe, tmp_path / "fail", reference)
    dying_worker_is_replaced(cluster, probe, tmp_path / "crash", reference)


def walk_forward_equals_local(
    cluster: str,
    probe: Path,
    out: Path,
    reference: dict[str, bytes],
    local_runs: list[list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    puts: list[object] = []
    real_put = ray.put

    def counting_put(value: object, **kwargs: Any) -> object:
        puts.append(value)
        return real_put(value, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(ray, "put", counting_put)
        walk(probe, out, on_ray(cluster))
    assert results(out) == reference
    remote_runs = runs(probe)
    assert len({node for node, *_ in remote_runs}) == 2  # the head and the worker both worked
    assert sorted(r[1:] for r in remote_runs) == sorted(r[1:] for r in local_runs)
    assert len(puts) == 1  # the bars went into the object store once, for all 12 tasks


def sweep_equals_local(cluster: str, probe: Path, out: Path) -> None:
    def sweep(folder: Path, execution: ExecutionSettings) -> dict[str, bytes]:
        run_sweep(
            SweepJob(
                config=config(probe),
                out=folder,
                grid={"fast": "5:30:5", "slow": "60:120:60"},
                engine="event",
                chunk_size=2,
                execution=execution,
            )
        )
        return {name: (folder / name).read_bytes() for name in ("results.csv", "best.toml")}

    assert sweep(out / "ray", on_ray(cluster)) == sweep(out / "local", LOCAL)
    assert len({node for node, *_ in runs(probe) if node != "local"}) == 2


def optimization_equals_local(cluster: str, probe: Path, out: Path) -> None:
    def optimize(folder: Path, execution: ExecutionSettings) -> dict[str, bytes]:
        run_optimize(
            OptimizeJob(
                config=config(probe),
                out=folder,
                params={"fast": "5:40", "slow": "50:150"},
                settings=StudySettings(n_trials=8, seed=7, batch=4),
                execution=execution,
            )
        )
        return {name: (folder / name).read_bytes() for name in ("trials.csv", "best.toml")}

    assert optimize(out / "ray", on_ray(cluster)) == optimize(out / "local", LOCAL)
    runs(probe)


def failing_task_is_retried_reported_and_resumed(
    cluster: str, probe: Path, out: Path, reference: dict[str, bytes]
) -> None:
    broken = probe.with_name("fail-20")
    broken.touch()
    with pytest.raises(TaskError) as info:
        walk(probe, out, on_ray(cluster, retries=1))
    message = str(info.value)
    assert message.startswith("3 of 9 in-sample failed after 2 attempt(s) each (first: is/000/0001")
    assert "StrategyError: strategy 'probe' raised RuntimeError in on_start" in message
    assert "fast=20 is broken" in message
    assert "the 6 finished are saved in" in message
    attempts = [r for r in runs(probe) if r[1] == "20"]
    assert len(attempts) == 3 * 2  # three windows' fast=20 tasks, each tried twice
    broken.unlink()
    walk(probe, out, on_ray(cluster))  # the rerun resumes
    rerun = runs(probe)
    # only the three failed in-sample tasks (fast=20) ran again, then the three OOS runs
    assert len(rerun) == 3 + 3
    assert sum(r[1] == "20" for r in rerun) >= 3
    assert results(out) == reference


def dying_worker_is_replaced(
    cluster: str, probe: Path, out: Path, reference: dict[str, bytes]
) -> None:
    crash = probe.with_name("crash-30")
    crash.touch()  # the first run with fast=30 kills its worker process
    walk(probe, out, on_ray(cluster))
    assert not crash.exists()  # a run did die ...
    assert results(out) == reference  # ... and its task was run again elsewhere
    runs(probe)
