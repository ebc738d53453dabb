"""Prometheus metrics: every ``ttq_`` series one process exports, in a registry of its own.

Naming follows Prometheus practice: one ``ttq_`` prefix, base units in the name (``_seconds``,
``_ratio``), counters end in ``_total``, and labels only take bounded sets of values (strategy,
venue, instrument, mode, reason code), never an order id. A dedicated
:class:`~prometheus_client.CollectorRegistry` keeps them apart from the client library's
process metrics and lets tests build as many independent sets as they like.

:data:`METRIC_NAMES` lists the names a scrape can show (with the ``_total``/``_bucket``
suffixes the exposition adds); the Grafana dashboards and alert rules in ``deploy/`` are tested
against it, so a renamed metric breaks a test rather than a dashboard.

Stored backtest runs are exported as ``ttq_backtest_*`` gauges by
:class:`BacktestRunCollector`, read from the store at scrape time (the backtest dashboard).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ttquant.analytics.statistics import STATISTICS, StatisticKind

# Latency buckets from 50 µs to 10 s: tick-to-order lives in the sub-millisecond range on a
# healthy node, an order round trip to a venue in milliseconds to seconds.
LATENCY_BUCKETS: Final = (
    5e-5,
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    2.5e-3,
    5e-3,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
HTTP_BUCKETS: Final = (1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

TRADING = ("mode", "strategy", "venue", "instrument")


class Metrics:
    """The metrics of one ttquant process (node, API or both), registered in ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        # -- process and kernel --------------------------------------------------------------------
        self.build_info = Gauge(
            "ttq_build_info",
            "Always 1; labels say the version and the mode.",
            ["version", "mode"],
            registry=r,
        )
        self.node_heartbeat = Gauge(
            "ttq_node_heartbeat_timestamp_seconds",
            "Unix time of the node's last heartbeat (its kernel loop is alive).",
            ["mode"],
            registry=r,
        )
        self.event_loop_lag = Gauge(
            "ttq_event_loop_lag_seconds",
            "How late the asyncio event loop ran a callback scheduled for now.",
            ["component"],
            registry=r,
        )
        self.bus_messages = Counter(
            "ttq_bus_messages_total",
            "Messages published on the kernel's message bus.",
            ["mode"],
            registry=r,
        )
        self.bus_queue_depth = Gauge(
            "ttq_bus_queue_depth",
            "Events waiting in a kernel queue (venue events, adapter inbox).",
            ["mode", "queue"],
            registry=r,
        )
        # -- execution -----------------------------------------------------------------------------
        self.tick_to_order = Histogram(
            "ttq_tick_to_order_seconds",
            "From a market data event's arrival to the order a strategy sent in response.",
            ["mode", "strategy"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.order_round_trip = Histogram(
            "ttq_order_round_trip_seconds",
            "From an order's submission to the venue's first answer (accepted or rejected).",
            ["mode", "venue"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.orders = Counter(
            "ttq_orders_total",
            "Orders submitted to a venue (after the risk checks).",
            [*TRADING, "side"],
            registry=r,
        )
        self.fills = Counter(
            "ttq_fills_total", "Fills (partial or full) received.", [*TRADING, "side"], registry=r
        )
        self.fill_notional = Counter(
            "ttq_fill_notional_total",
            "Traded value of fills, in the instrument's settlement currency.",
            list(TRADING),
            registry=r,
        )
        self.order_rejects = Counter(
            "ttq_order_rejects_total",
            "Orders refused, by reason code; source is risk (pre-trade) or venue.",
            ["mode", "strategy", "venue", "source", "reason"],
            registry=r,
        )
        # -- connectivity --------------------------------------------------------------------------
        self.venue_connected = Gauge(
            "ttq_venue_connected",
            "1 while the venue's connections are up, else 0.",
            ["mode", "venue"],
            registry=r,
        )
        self.feed_lag = Gauge(
            "ttq_feed_lag_seconds",
            "Arrival time minus exchange time of the latest market data message.",
            ["mode", "venue", "instrument"],
            registry=r,
        )
        self.feed_last_message = Gauge(
            "ttq_feed_last_message_timestamp_seconds",
            "Unix time the latest market data message arrived.",
            ["mode", "venue", "instrument"],
            registry=r,
        )
        self.reconnects = Counter(
            "ttq_reconnects_total",
            "Reconnections of a venue connection.",
            ["mode", "venue", "channel"],
            registry=r,
        )
        # -- portfolio -----------------------------------------------------------------------------
        self.position_quantity = Gauge(
            "ttq_position_quantity",
            "Signed position size (positive long, negative short).",
            list(TRADING),
            registry=r,
        )
        self.position_notional = Gauge(
            "ttq_position_notional",
            "Signed exposure of a position at the last price, in settlement currency.",
            list(TRADING),
            registry=r,
        )
        self.pnl_realized = Gauge(
            "ttq_pnl_realized", "Realized PnL of a strategy.", ["mode", "strategy"], registry=r
        )
        self.pnl_unrealized = Gauge(
            "ttq_pnl_unrealized", "Unrealized PnL of a strategy.", ["mode", "strategy"], registry=r
        )
        self.equity = Gauge(
            "ttq_equity", "Account equity at a venue, base currency.", ["mode", "venue"], registry=r
        )
        self.drawdown = Gauge(
            "ttq_drawdown_ratio",
            "Fall of equity from its running peak (0.1 = 10 %); scope is account or a strategy.",
            ["mode", "scope"],
            registry=r,
        )
        # -- risk ----------------------------------------------------------------------------------
        self.risk_state = Gauge(
            "ttq_risk_state",
            "1 for a scope's current trading state (ACTIVE, REDUCING, HALTED), 0 for the others.",
            ["mode", "scope", "state"],
            registry=r,
        )
        self.kill_switch = Gauge(
            "ttq_kill_switch_active",
            "1 while a kill switch halts the scope.",
            ["mode", "scope"],
            registry=r,
        )
        self.reconciliation_mismatches = Counter(
            "ttq_reconciliation_mismatches_total",
            "Differences found between the node's and the venue's orders, fills or positions.",
            ["mode", "venue", "kind"],
            registry=r,
        )
        # -- store and jobs ------------------------------------------------------------------------
        self.store_write_lag = Gauge(
            "ttq_store_write_lag_seconds",
            "Age of the oldest record waiting to be written to the trading-records store.",
            ["mode"],
            registry=r,
        )
        self.store_rows_written = Counter(
            "ttq_store_rows_written_total", "Rows written to the store.", ["table"], registry=r
        )
        self.job_progress = Gauge(
            "ttq_job_progress_ratio",
            "Fraction done of a running job (removed when it ends).",
            ["kind", "job"],
            registry=r,
        )
        self.jobs = Gauge("ttq_jobs", "Jobs by kind and state.", ["kind", "state"], registry=r)
        # -- API -----------------------------------------------------------------------------------
        self.http_requests = Counter(
            "ttq_http_requests_total",
            "API requests answered, by route template and status code.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "ttq_http_request_duration_seconds",
            "API request handling time.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.ws_clients = Gauge(
            "ttq_ws_clients", "WebSocket clients connected to the API.", registry=r
        )
        self.ws_messages = Counter(
            "ttq_ws_messages_total",
            "WebSocket messages sent to clients, by topic.",
            ["topic"],
            registry=r,
        )

    def set_build_info(self, version: str, mode: str) -> None:
        self.build_info.clear()
        self.build_info.labels(version=version, mode=mode).set(1)

    def exposition_names(self) -> set[str]:
        """Every sample name a scrape of this registry can contain."""
        return exposition_names(self.registry)


def exposition_names(registry: CollectorRegistry) -> set[str]:
    """Sample names of every family in ``registry``, with the type's suffixes.

    A labelled metric yields its family even before it has samples, so this is every name a
    scrape can show, not only those seen so far.
    """
    names: set[str] = set()
    for family in registry.collect():
        names.update(family_sample_names(family.name, family.type))
    return names


def family_sample_names(name: str, kind: str) -> list[str]:
    """The names a family's samples carry in the text format (``_created`` left out)."""
    if kind == "counter":
        return [f"{name}_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_count", f"{name}_sum"]
    if kind == "summary":
        return [name, f"{name}_count", f"{name}_sum"]
    if kind == "info":
        return [f"{name}_info"]
    return [name]


# -- stored backtests -------------------------------------------------------------------------

_UNIT: Final[dict[StatisticKind, tuple[str, float]]] = {
    "percent": ("_ratio", 0.01),
    "ratio": ("", 1.0),
    "money": ("", 1.0),
    "count": ("", 1.0),
    "duration": ("_seconds", 1.0),
}


@dataclass(frozen=True, slots=True)
class BacktestGauge:
    """How one statistic of :data:`~ttquant.analytics.statistics.STATISTICS` is exported."""

    key: str
    name: str
    scale: float


def _backtest_gauges() -> list[BacktestGauge]:
    gauges = []
    for spec in STATISTICS:
        unit = _UNIT.get(spec.kind)
        if unit is None:  # timestamps are labels of the run, not values
            continue
        suffix, scale = unit
        stem = spec.key.removesuffix("_pct")
        if suffix and stem.endswith(suffix):
            suffix = ""
        gauges.append(BacktestGauge(spec.key, f"ttq_backtest_{stem}{suffix}", scale))
    return gauges


BACKTEST_GAUGES: Final = _backtest_gauges()
BACKTEST_LABELS: Final = ("run", "strategy", "instruments")


@dataclass(frozen=True, slots=True)
class RunStatistics:
    """The part of a stored run the backtest gauges need."""

    run_id: str
    strategy: str
    instruments: str
    statistics: dict[str, Any]


class BacktestRunCollector(Collector):
    """``ttq_backtest_*`` gauges of the newest stored backtests, read at every scrape.

    ``runs`` returns the runs to export (the API passes a store query limited to the newest
    ``limit`` runs, which bounds the label sets Prometheus keeps).
    """

    def __init__(self, runs: Callable[[], Sequence[RunStatistics]]) -> None:
        self._runs = runs

    def describe(self) -> Iterator[Metric]:
        for g in BACKTEST_GAUGES:
            yield GaugeMetricFamily(g.name, _help(g.key), labels=BACKTEST_LABELS)

    def collect(self) -> Iterator[Metric]:
        runs = self._runs()
        for g in BACKTEST_GAUGES:
            family = GaugeMetricFamily(g.name, _help(g.key), labels=BACKTEST_LABELS)
            for run in runs:
                value = run.statistics.get(g.key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    family.add_metric(
                        [run.run_id, run.strategy, run.instruments], float(value) * g.scale
                    )
            yield family


def _help(key: str) -> str:
    label = next(s.label for s in STATISTICS if s.key == key)
    return f"Backtest statistic '{label}' of a stored run."


# -- serving ----------------------------------------------------------------------------------


class MetricsServer:
    """The registry on ``http://host:port/metrics`` from a thread of this process.

    For a node that runs without the API; the API serves the same registry at ``/metrics``.
    """

    def __init__(self, registry: CollectorRegistry, host: str = "127.0.0.1", port: int = 0):
        self._server, self._thread = start_http_server(port, addr=host, registry=registry)
        self.host = host
        self.port = int(self._server.server_port)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def close(self) -> None:
        with self._lock:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
