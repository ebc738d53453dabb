"""Charts and tables shared by the optimization and walk-forward reports.

Figures are plain plotly.js dicts (no ``plotly.graph_objects``, see ``analytics/report.py``),
styled with the tearsheet's layout so that a research report and its embedded backtest read
as one page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ttquant.analytics.report import AXIS, figure_layout
from ttquant.core.time import ns_to_iso

__all__ = [
    "fmt",
    "grouped_bars_figure",
    "history_figure",
    "importance_figure",
    "lines_figure",
    "parallel_figure",
    "table_section",
    "timeline_figure",
]

BLUE = "#2563eb"
GREEN = "#1e8449"
GREY = "#9aa5b1"
ORANGE = "#d97706"
MAX_TABLE_ROWS = 200


def fmt(value: object) -> str:
    """A cell value as a reader wants it: short numbers, yes/no, a dash for missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    return str(value)


def table_section(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], note: str = ""
) -> str:
    """A titled table card; numbers right-aligned, at most :data:`MAX_TABLE_ROWS` rows."""
    shown = rows[:MAX_TABLE_ROWS]
    if len(rows) > len(shown):
        note = f"{note} Showing the first {len(shown)} of {len(rows)} rows.".strip()
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if isinstance(v, int | float) else ""}">{html.escape(fmt(v))}</td>'
            for v in row
        )
        + "</tr>"
        for row in shown
    )
    text = f'<p class="note">{html.escape(note)}</p>' if note else ""
    return (
        f'<section><h2>{html.escape(title)}</h2>{text}<div class="scroll"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


def history_figure(rows: Sequence[Mapping[str, Any]], maximize: bool) -> dict[str, object]:
    """Each trial's objective by trial number, infeasible ones grey, and the best so far."""

    def markers(name: str, picked: list[Mapping[str, Any]], color: str) -> dict[str, object]:
        return {
            "type": "scatter",
            "mode": "markers",
            "name": name,
            "x": [r["number"] for r in picked],
            "y": [r["objective"] for r in picked],
            "marker": {"color": color, "size": 7, "opacity": 0.85},
        }

    scored = [r for r in rows if r.get("objective") is not None]
    feasible = [r for r in scored if r["state"] == "complete" and r["feasible"]]
    infeasible = [r for r in scored if r["state"] == "complete" and not r["feasible"]]
    pruned = [r for r in scored if r["state"] == "pruned"]
    best: list[float] = []
    steps: list[int] = []
    for r in feasible:
        v = float(r["objective"])
        best.append(v if not best else (max if maximize else min)(best[-1], v))
        steps.append(int(r["number"]))
    data = [
        markers("feasible", feasible, BLUE),
        markers("infeasible", infeasible, GREY),
        markers("pruned (last report)", pruned, ORANGE),
        {
            "type": "scatter",
            "mode": "lines",
            "name": "best so far",
            "x": steps,
            "y": best,
            "line": {"color": GREEN, "width": 2, "shape": "hv"},
        },
    ]
    layout = figure_layout(
        380,
        xaxis={**AXIS, "title": {"text": "Trial"}},
        yaxis={**AXIS, "title": {"text": "Objective"}},
    )
    return {"data": data, "layout": layout}


def importance_figure(importances: Mapping[str, float]) -> dict[str, object]:
    ordered = sorted(importances.items(), key=lambda kv: kv[1])
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "x": [v for _, v in ordered],
            "y": [k for k, _ in ordered],
            "marker": {"color": BLUE},
            "hovertemplate": "%{y}: %{x:.3f}<extra></extra>",
        }
    ]
    layout = figure_layout(
        max(160, 60 + 34 * len(ordered)),
        showlegend=False,
        xaxis={**AXIS, "title": {"text": "Importance"}, "rangemode": "tozero"},
        yaxis={**AXIS, "automargin": True},
    )
    return {"data": data, "layout": layout}


def parallel_figure(
    rows: Sequence[Mapping[str, Any]], names: Sequence[str], objective: str
) -> dict[str, object]:
    """Parallel coordinates of the parameters of feasible trials, coloured by the objective."""
    dimensions: list[dict[str, object]] = []
    for name in names:
        values = [r.get(f"params_{name}") for r in rows]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            dimensions.append({"label": name, "values": values})
        else:  # categorical: positions with the choices as tick labels
            labels = sorted({repr(v) for v in values})
            dimensions.append(
                {
                    "label": name,
                    "values": [labels.index(repr(v)) for v in values],
                    "tickvals": list(range(len(labels))),
                    "ticktext": [label.strip("'") for label in labels],
                }
            )
    scores = [float(r["objective"]) for r in rows]
    dimensions.append({"label": objective, "values": scores})
    data = [
        {
            "type": "parcoords",
            "dimensions": dimensions,
            "line": {"color": scores, "colorscale": "Viridis", "showscale": True},
        }
    ]
    return {"data": data, "layout": figure_layout(420, margin={"l": 70, "r": 70, "t": 50, "b": 30})}


def timeline_figure(
    labels: Sequence[str], spans: Sequence[tuple[int, int, int, int]]
) -> dict[str, object]:
    """In-sample and out-of-sample ranges of each window as horizontal bars on a time axis."""

    def bars(name: str, pick: int, color: str) -> dict[str, object]:
        starts = np.array([s[pick] for s in spans], dtype=np.int64)
        ends = np.array([s[pick + 1] for s in spans], dtype=np.int64)
        return {
            "type": "bar",
            "orientation": "h",
            "name": name,
            "y": list(labels),
            "base": [ns_to_iso(int(t))[:-1] for t in starts],
            "x": ((ends - starts) // 1_000_000).tolist(),  # plotly date bars: lengths in ms
            "marker": {"color": color},
        }

    data = [bars("in sample", 0, GREY), bars("out of sample", 2, GREEN)]
    layout = figure_layout(
        max(200, 80 + 26 * len(labels)),
        barmode="overlay",
        xaxis={**AXIS, "type": "date"},
        yaxis={**AXIS, "autorange": "reversed", "type": "category"},
    )
    return {"data": data, "layout": layout}


def grouped_bars_figure(
    categories: Sequence[str], series: Mapping[str, Sequence[float | None]], y_title: str
) -> dict[str, object]:
    colors = (GREY, GREEN, BLUE, ORANGE)
    data = [
        {
            "type": "bar",
            "name": name,
            "x": list(categories),
            "y": list(values),
            "marker": {"color": colors[k % len(colors)]},
        }
        for k, (name, values) in enumerate(series.items())
    ]
    layout = figure_layout(
        340,
        barmode="group",
        xaxis={**AXIS, "type": "category"},
        yaxis={**AXIS, "title": {"text": y_title}},
    )
    return {"data": data, "layout": layout}


def lines_figure(
    x: Sequence[str], series: Mapping[str, Sequence[object]], y_title: str
) -> dict[str, object]:
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": name, "x": list(x), "y": list(ys)}
        for name, ys in series.items()
    ]
    layout = figure_layout(
        300,
        xaxis={**AXIS, "type": "category"},
        yaxis={**AXIS, "title": {"text": y_title}},
    )
    return {"data": data, "layout": layout}
