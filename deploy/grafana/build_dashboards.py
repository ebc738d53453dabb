"""Write the provisioned Grafana dashboards (``dashboards/*.json``) from the panel lists below.

The JSON files are generated so that every dashboard shares one layout, one set of template
variables and one way of filtering by them; edit this file and run it
(``python deploy/grafana/build_dashboards.py``), never the JSON. A test regenerates the files and
fails when they differ, and checks every query against the metric names ttquant registers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
# The filters every trading query takes from the dashboard's template variables.
M = 'mode=~"$mode"'
MS = f'{M}, strategy=~"$strategy"'
MV = f'{M}, venue=~"$venue"'
MSVI = f'{MS}, venue=~"$venue", instrument=~"$instrument"'


@dataclass(frozen=True)
class Panel:
    title: str
    exprs: list[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"  # timeseries | stat | table | bargauge
    width: int = 12
    height: int = 8
    description: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel]
    variables: list[dict[str, Any]] = field(default_factory=list)


def _query_variable(name: str, query: str, label: str) -> dict[str, Any]:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "query": {"query": query, "refId": f"{name}-values"},
        "definition": query,
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


DATASOURCE_VARIABLE = {
    "type": "datasource",
    "name": "datasource",
    "label": "Data source",
    "query": "prometheus",
    "current": {},
    "hide": 0,
}
TRADING_VARIABLES = [
    DATASOURCE_VARIABLE,
    _query_variable("mode", "label_values(ttq_node_heartbeat_timestamp_seconds, mode)", "Mode"),
    _query_variable("strategy", f"label_values(ttq_pnl_realized{{{M}}}, strategy)", "Strategy"),
    _query_variable("venue", f"label_values(ttq_equity{{{M}}}, venue)", "Venue"),
    _query_variable(
        "instrument",
        f"label_values(ttq_position_quantity{{{MV}}}, instrument)",
        "Instrument",
    ),
]
BACKTEST_VARIABLES = [
    DATASOURCE_VARIABLE,
    _query_variable("strategy", "label_values(ttq_backtest_sharpe, strategy)", "Strategy"),
    _query_variable(
        "instrument",
        'label_values(ttq_backtest_sharpe{strategy=~"$strategy"}, instruments)',
        "Instrument",
    ),
    _query_variable("run", 'label_values(ttq_backtest_sharpe{strategy=~"$strategy"}, run)', "Run"),
]


def quantile(q: float, metric: str, by: str, filters: str) -> str:
    return f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{filters}}}[5m])))"


OVERVIEW = Dashboard(
    "ttq-overview",
    "ttquant · trading overview",
    "Equity, PnL, drawdown, positions and order flow of the running nodes.",
    [
        Panel("Equity by venue", [(f"ttq_equity{{{MV}}}", "{{venue}} ({{mode}})")]),
        Panel(
            "PnL by strategy (realized + unrealized)",
            [
                (
                    f"sum by (mode, strategy) (ttq_pnl_realized{{{MS}}}"
                    f" + ttq_pnl_unrealized{{{MS}}})",
                    "{{strategy}} ({{mode}})",
                )
            ],
        ),
        Panel(
            "Drawdown",
            [(f"ttq_drawdown_ratio{{{M}}}", "{{scope}} ({{mode}})")],
            unit="percentunit",
        ),
        Panel(
            "Trading state",
            [(f'ttq_risk_state{{{M}, state!="ACTIVE"}} == 1', "{{scope}}: {{state}}")],
            kind="stat",
            width=6,
            instant=True,
            description="Scopes that are REDUCING or HALTED; empty while everything is ACTIVE.",
        ),
        Panel(
            "Kill switch",
            [(f"max(ttq_kill_switch_active{{{M}}})", "kill switch")],
            kind="stat",
            width=6,
            instant=True,
        ),
        Panel("Positions", [(f"ttq_position_quantity{{{MSVI}}}", "{{strategy}} {{instrument}}")]),
        Panel(
            "Exposure (notional)",
            [(f"ttq_position_notional{{{MSVI}}}", "{{strategy}} {{instrument}}")],
        ),
        Panel(
            "Orders and fills per minute",
            [
                (
                    f"sum by (strategy) (rate(ttq_orders_total{{{MSVI}}}[5m])) * 60",
                    "orders {{strategy}}",
                ),
                (
                    f"sum by (strategy) (rate(ttq_fills_total{{{MSVI}}}[5m])) * 60",
                    "fills {{strategy}}",
                ),
            ],
            unit="short",
            width=24,
        ),
    ],
    TRADING_VARIABLES,
)

EXECUTION = Dashboard(
    "ttq-execution",
    "ttquant · execution quality and latency",
    "Order round trips, strategy reaction times, rejects and fills.",
    [
        Panel(
            "Order round trip (submit → first venue answer)",
            [
                (quantile(0.5, "ttq_order_round_trip_seconds", "venue", MV), "p50 {{venue}}"),
                (quantile(0.99, "ttq_order_round_trip_seconds", "venue", MV), "p99 {{venue}}"),
            ],
            unit="s",
        ),
        Panel(
            "Tick to order",
            [
                (quantile(0.5, "ttq_tick_to_order_seconds", "strategy", MS), "p50 {{strategy}}"),
                (quantile(0.99, "ttq_tick_to_order_seconds", "strategy", MS), "p99 {{strategy}}"),
            ],
            unit="s",
        ),
        Panel(
            "Rejects per minute by reason",
            [
                (
                    "sum by (source, reason)"
                    f' (rate(ttq_order_rejects_total{{{MS}, venue=~"$venue"}}[5m])) * 60',
                    "{{source}}: {{reason}}",
                )
            ],
        ),
        Panel(
            "Reject ratio",
            [
                (
                    f'sum(rate(ttq_order_rejects_total{{{MS}, venue=~"$venue"}}[5m]))'
                    f" / clamp_min(sum(rate(ttq_orders_total{{{MSVI}}}[5m])), 1e-9)",
                    "rejects / orders",
                )
            ],
            unit="percentunit",
        ),
        Panel(
            "Fills per order",
            [
                (
                    f"sum(rate(ttq_fills_total{{{MSVI}}}[15m]))"
                    f" / clamp_min(sum(rate(ttq_orders_total{{{MSVI}}}[15m])), 1e-9)",
                    "fills / orders",
                )
            ],
        ),
        Panel(
            "Traded notional per minute",
            [
                (
                    f"sum by (instrument) (rate(ttq_fill_notional_total{{{MSVI}}}[5m])) * 60",
                    "{{instrument}}",
                )
            ],
        ),
        Panel(
            "API latency",
            [
                (quantile(0.5, "ttq_http_request_duration_seconds", "route", ""), "p50 {{route}}"),
                (quantile(0.99, "ttq_http_request_duration_seconds", "route", ""), "p99 {{route}}"),
            ],
            unit="s",
        ),
        Panel(
            "API requests per second by status",
            [("sum by (status) (rate(ttq_http_requests_total[1m]))", "{{status}}")],
            unit="reqps",
        ),
    ],
    TRADING_VARIABLES,
)

CONNECTIVITY = Dashboard(
    "ttq-connectivity",
    "ttquant · connectivity",
    "Venue connections, feed lag and staleness, reconnects, heartbeats and internal queues.",
    [
        Panel("Venue connected", [(f"ttq_venue_connected{{{MV}}}", "{{venue}} ({{mode}})")]),
        Panel(
            "Feed lag (arrival − exchange time)",
            [
                (
                    f'ttq_feed_lag_seconds{{{MV}, instrument=~"$instrument"}}',
                    "{{venue}} {{instrument}}",
                )
            ],
            unit="s",
        ),
        Panel(
            "Seconds since last market data",
            [
                (
                    "time() - ttq_feed_last_message_timestamp_seconds"
                    f'{{{MV}, instrument=~"$instrument"}}',
                    "{{venue}} {{instrument}}",
                )
            ],
            unit="s",
        ),
        Panel(
            "Reconnects per hour",
            [
                (
                    f"sum by (venue, channel) (increase(ttq_reconnects_total{{{MV}}}[1h]))",
                    "{{venue}} {{channel}}",
                )
            ],
        ),
        Panel(
            "Seconds since node heartbeat",
            [(f"time() - ttq_node_heartbeat_timestamp_seconds{{{M}}}", "{{mode}}")],
            unit="s",
        ),
        Panel(
            "Event loop lag",
            [("ttq_event_loop_lag_seconds", "{{component}}")],
            unit="s",
        ),
        Panel(
            "Bus messages per second",
            [(f"rate(ttq_bus_messages_total{{{M}}}[1m])", "{{mode}}")],
            unit="short",
        ),
        Panel(
            "Queue depth",
            [(f"ttq_bus_queue_depth{{{M}}}", "{{queue}} ({{mode}})")],
        ),
        Panel(
            "Store write lag",
            [(f"ttq_store_write_lag_seconds{{{M}}}", "{{mode}}")],
            unit="s",
        ),
        Panel(
            "Scrape targets up; WebSocket clients",
            [('up{job=~"ttquant.*"}', "{{instance}} up"), ("ttq_ws_clients", "ws clients")],
        ),
    ],
    TRADING_VARIABLES,
)

RISK = Dashboard(
    "ttq-risk",
    "ttquant · risk",
    "Trading states, the kill switch, drawdown, pre-trade denials and reconciliation.",
    [
        Panel(
            "Trading state per scope",
            [(f"ttq_risk_state{{{M}}} == 1", "{{scope}}: {{state}}")],
            kind="table",
            instant=True,
        ),
        Panel(
            "Kill switch",
            [(f"ttq_kill_switch_active{{{M}}}", "{{scope}}")],
            kind="stat",
            instant=True,
        ),
        Panel("Drawdown", [(f"ttq_drawdown_ratio{{{M}}}", "{{scope}}")], unit="percentunit"),
        Panel(
            "Risk denials per hour by rule",
            [
                (
                    "sum by (reason)"
                    f' (increase(ttq_order_rejects_total{{{MS}, source="risk"}}[1h]))',
                    "{{reason}}",
                )
            ],
        ),
        Panel(
            "Reconciliation mismatches per hour",
            [
                (
                    "sum by (venue, kind)"
                    f" (increase(ttq_reconciliation_mismatches_total{{{MV}}}[1h]))",
                    "{{venue}} {{kind}}",
                )
            ],
        ),
        Panel(
            "Gross exposure by instrument",
            [(f"sum by (instrument) (abs(ttq_position_notional{{{MSVI}}}))", "{{instrument}}")],
        ),
    ],
    TRADING_VARIABLES,
)

BT = 'strategy=~"$strategy", instruments=~"$instrument", run=~"$run"'
BACKTESTS = Dashboard(
    "ttq-backtests",
    "ttquant · backtest results",
    "Statistics of the newest stored backtests (exported by the API from the store) and jobs.",
    [
        Panel(
            "Total return",
            [(f"ttq_backtest_total_return_ratio{{{BT}}}", "{{run}} {{strategy}}")],
            unit="percentunit",
            kind="bargauge",
            instant=True,
        ),
        Panel(
            "Sharpe and Sortino",
            [
                (f"ttq_backtest_sharpe{{{BT}}}", "Sharpe {{run}}"),
                (f"ttq_backtest_sortino{{{BT}}}", "Sortino {{run}}"),
            ],
            kind="bargauge",
            instant=True,
        ),
        Panel(
            "Max drawdown",
            [(f"ttq_backtest_max_drawdown_ratio{{{BT}}}", "{{run}} {{strategy}}")],
            unit="percentunit",
            kind="bargauge",
            instant=True,
        ),
        Panel(
            "Win rate",
            [(f"ttq_backtest_win_rate_ratio{{{BT}}}", "{{run}} {{strategy}}")],
            unit="percentunit",
            kind="bargauge",
            instant=True,
        ),
        Panel(
            "Trades",
            [(f"ttq_backtest_n_trades{{{BT}}}", "{{run}} {{strategy}}")],
            kind="bargauge",
            instant=True,
        ),
        Panel(
            "Profit factor",
            [(f"ttq_backtest_profit_factor{{{BT}}}", "{{run}} {{strategy}}")],
            kind="bargauge",
            instant=True,
        ),
        Panel(
            "Runs",
            [
                (f"ttq_backtest_equity_final{{{BT}}}", "final equity"),
                (f"ttq_backtest_cagr_ratio{{{BT}}}", "CAGR"),
                (f"ttq_backtest_total_fees{{{BT}}}", "fees"),
            ],
            kind="table",
            width=24,
            instant=True,
        ),
        Panel("Jobs by state", [("sum by (kind, state) (ttq_jobs)", "{{kind}} {{state}}")]),
        Panel(
            "Running jobs' progress",
            [("ttq_job_progress_ratio", "{{kind}} {{job}}")],
            unit="percentunit",
        ),
    ],
    BACKTEST_VARIABLES,
)

DASHBOARDS = [OVERVIEW, EXECUTION, CONNECTIVITY, RISK, BACKTESTS]


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    targets = [
        {
            "datasource": DS,
            "expr": expr,
            "legendFormat": legend,
            "refId": chr(ord("A") + i),
            "instant": panel.instant,
            "range": not panel.instant,
        }
        for i, (expr, legend) in enumerate(panel.exprs)
    ]
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DS,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
    }
    if panel.kind == "table":
        body["transformations"] = [{"id": "merge", "options": {}}]
    return body


def dashboard_json(d: Dashboard) -> dict[str, Any]:
    panels, x, y, row_height = [], 0, 0, 0
    for i, panel in enumerate(d.panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(panel_json(panel, i, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": d.uid,
        "title": d.title,
        "description": d.description,
        "tags": ["ttquant"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": d.variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def render(d: Dashboard) -> str:
    return json.dumps(dashboard_json(d), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for d in DASHBOARDS:
        (OUT / f"{d.uid}.json").write_text(render(d), encoding="utf-8")


if __name__ == "__main__":
    main()
