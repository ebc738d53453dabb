// The backtest runs browser: stored runs, one run's statistics with its equity and drawdown,
// and two runs compared (statistics side by side, config differences, equity overlaid).

import { $, el, fillTable, td, num, timeOf } from "./dom.js";
import { LineChart, drawdown } from "./charts.js";

const EQUITY_POINTS = 1500;

function statValue(value) {
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  if (typeof value === "number") return num(value, Math.abs(value) >= 100 ? 2 : 4);
  if (value === null || value === undefined) return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

const toPoints = (curve) => curve.ts_ns.map((t, i) => [t / 1e6, curve.equity[i]]);

export class BacktestsView {
  constructor(app) {
    this.app = app;
    this.selected = new Set();
    this.equity = new LineChart($("#run-equity"));
    this.drawdown = new LineChart($("#run-drawdown"), { fill: true });
    this.compareChart = new LineChart($("#compare-equity"));
    $("#runs-refresh").addEventListener("click", () => this.refresh());
    $("#runs-compare").addEventListener("click", () => this.compare());
  }

  async refresh() {
    let runs;
    try {
      runs = await this.app.api.get("/runs?limit=100");
    } catch (error) {
      fillTable($("#runs"), [], error.message);
      return;
    }
    const rows = runs.map((r) => {
      const box = el("input", {
        type: "checkbox", "aria-label": `select run ${r.run_id}`, checked: this.selected.has(r.run_id),
        onchange: (e) => this.toggle(r.run_id, e.target.checked),
      });
      return el("tr", { "data-run": r.run_id },
        td(box), td(el("a", { href: "#", text: r.run_id, onclick: (e) => { e.preventDefault(); this.open(r.run_id); } })),
        td(timeOf(r.created_ns)), td(r.strategy), td(r.instruments), td(num(r.final_equity), "num"),
        td(String(r.n_trades), "num"));
    });
    fillTable($("#runs"), rows, "no stored runs: run ttq backtest, or submit a backtest job");
  }

  toggle(runId, on) {
    if (on) this.selected.add(runId);
    else this.selected.delete(runId);
    $("#runs-compare").disabled = this.selected.size !== 2;
  }

  async open(runId) {
    let run, curve;
    try {
      [run, curve] = await Promise.all([
        this.app.api.get(`/runs/${runId}`),
        this.app.api.get(`/runs/${runId}/equity?points=${EQUITY_POINTS}`),
      ]);
    } catch (error) {
      this.app.notify(`run ${runId}: ${error.message}`);
      return;
    }
    $("#run-compare").hidden = true;
    $("#run-detail").hidden = false;
    $("#run-title").textContent = `Run ${run.run_id}: ${run.strategy} on ${run.instruments}`;
    const points = toPoints(curve);
    this.equity.set([{ name: "equity", color: "#4c9aff", points }]);
    const percent = drawdown(points).map(([t, d]) => [t, d * 100]);
    this.drawdown.set([{ name: "drawdown %", color: "#ef5350", points: percent }]);
    const rows = Object.entries(run.statistics)
      .filter(([, v]) => v === null || typeof v !== "object")
      .map(([key, value]) => el("tr", { "data-stat": key }, td(key), td(statValue(value), "num")));
    fillTable($("#run-stats"), rows, "no statistics");
  }

  async compare() {
    const [a, b] = [...this.selected];
    let result, curveA, curveB;
    try {
      [result, curveA, curveB] = await Promise.all([
        this.app.api.get(`/runs/compare?a=${a}&b=${b}`),
        this.app.api.get(`/runs/${a}/equity?points=${EQUITY_POINTS}`),
        this.app.api.get(`/runs/${b}/equity?points=${EQUITY_POINTS}`),
      ]);
    } catch (error) {
      this.app.notify(`compare: ${error.message}`);
      return;
    }
    $("#run-detail").hidden = true;
    $("#run-compare").hidden = false;
    $("#compare-title").textContent = `Compare ${result.a.run_id} (A) and ${result.b.run_id} (B)`;
    $("#compare-a").textContent = `A ${result.a.run_id}`;
    $("#compare-b").textContent = `B ${result.b.run_id}`;
    this.compareChart.set([
      { name: `A ${result.a.run_id}`, color: "#4c9aff", points: toPoints(curveA) },
      { name: `B ${result.b.run_id}`, color: "#f0b429", points: toPoints(curveB) },
    ]);
    fillTable($("#compare-stats"), result.statistics
      .filter((s) => typeof s.a !== "object" || s.a === null)
      .map((s) => el("tr", { "data-stat": s.key }, td(s.key), td(statValue(s.a), "num"), td(statValue(s.b), "num"),
        td(s.delta === null ? "—" : statValue(s.delta), "num"))), "no statistics");
    fillTable($("#compare-config"), result.config.map((c) => el("tr", {},
      td(c.path), td(statValue(c.a)), td(statValue(c.b)))), "same config");
  }
}
