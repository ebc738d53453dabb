// Alerts (from the node) and the server's log records, both live from the feed.

import { $, el, fillTable, td, timeOf } from "./dom.js";

const LEVELS = ["debug", "info", "warning", "error", "critical"];

function levelOf(record) {
  return String(record.level || "info").toLowerCase();
}

function logTime(record) {
  const stamp = record.timestamp || record.ts;
  return typeof stamp === "string" ? stamp.replace("T", " ").slice(0, 19) : timeOf(stamp);
}

export class AlertsView {
  constructor(app) {
    this.app = app;
    $("#log-level").addEventListener("change", () => this.renderLogs());
  }

  renderAlerts() {
    const alerts = [...this.app.state.alerts.values()].reverse();
    fillTable($("#alerts"), alerts.map((a) => {
      // a trading state change that restricts trading is a warning even without a level
      const level = a.level ? levelOf(a) : a.state && a.state !== "ACTIVE" ? "warning" : "info";
      return el("tr", {}, td(timeOf(a.ts_ns ?? a.ts_event ?? a.ts)), td(level, `level-${level}`),
        td(a.source ?? a.scope ?? a.kind ?? ""), td(a.message ?? a.text ?? JSON.stringify(a)));
    }), "no alerts");
  }

  renderLogs() {
    const least = LEVELS.indexOf($("#log-level").value);
    const records = [...this.app.state.logs.values()]
      .filter((r) => LEVELS.indexOf(levelOf(r)) >= least)
      .reverse()
      .slice(0, 300);
    fillTable($("#logs"), records.map((r) => el("tr", {},
      td(logTime(r)), td(levelOf(r), `level-${levelOf(r)}`), td(r.logger ?? ""), td(r.event ?? ""))),
    this.app.scoped() ? "logs are process-wide: not shown to an account-scoped token" : "no log records");
  }
}
