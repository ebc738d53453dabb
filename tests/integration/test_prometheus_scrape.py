"""A real Prometheus server (Debian package) scrapes a ttquant metrics endpoint on loopback.

The endpoint serves the metrics of a real backtest kernel (orders, fills, equity...), the way a
node serves them with ``MetricsServer``; Prometheus must see the ``ttq_`` series with the values
the kernel produced.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests._tools import require_tool
from tests.unit.store.backends import demo_config

from ttquant.engine.runner import build_engine
from ttquant.monitor.kernel_metrics import KernelMetrics
from ttquant.monitor.metrics import Metrics, MetricsServer

pytestmark = pytest.mark.prometheus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[str, MetricsServer, int]]:
    binary = require_tool("prometheus", "prometheus")
    engine, _ = build_engine(demo_config(50, 200))
    metrics = Metrics()
    kernel_metrics = KernelMetrics(metrics, engine, mode="paper").attach()
    engine.run()
    kernel_metrics.sample()
    target = MetricsServer(metrics.registry, "127.0.0.1", 0)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: ttquant-node\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{target.port}']\n"
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"http://127.0.0.1:{port}", target, len(engine.execution.fills)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        target.close()


def _query(base: str, promql: str, deadline: float) -> list[dict[str, object]]:
    """The query's result once it is not empty (Prometheus needs a scrape or two)."""
    while True:
        try:
            answer = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
            result: list[dict[str, object]] = answer.json()["data"]["result"]
            if result:
                return result
        except (httpx.TransportError, KeyError, ValueError):
            pass  # still starting
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus returned nothing for {promql}")
        time.sleep(0.5)


def test_prometheus_scrapes_ttq_series(prometheus: tuple[str, MetricsServer, int]) -> None:
    base, _, n_fills = prometheus
    deadline = time.monotonic() + 60
    up = _query(base, 'up{job="ttquant-node"}', deadline)
    assert up[0]["value"][1] == "1"  # type: ignore[index]
    fills = _query(base, 'sum(ttq_fills_total{mode="paper"})', deadline)
    assert float(fills[0]["value"][1]) == n_fills  # type: ignore[index]
    names = httpx.get(f"{base}/api/v1/label/__name__/values", timeout=5).json()["data"]
    ttq = {n for n in names if n.startswith("ttq_")}
    assert {"ttq_orders_total", "ttq_equity", "ttq_position_quantity", "ttq_risk_state"} <= ttq
