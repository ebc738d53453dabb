// The risk panel: trading state per scope, limits against their utilization, denials by
// reason, cancel counters and the orders the risk engine or the venue refused.
//
// GET /risk's `limits` maps a limit's name to {limit, used} (a meter), to a plain value, or to
// a table of them (one level deep: "scope.name"). For a plain account-wide limit the page
// measures the utilization itself from its live state (open orders, positions, today's PnL,
// today's cancels) where it can. An `activity` entry, when present, maps instruments to today's
// {orders, cancels} as the risk engine counts them.

import { $, el, fillTable, td, num, qty, timeOf, shortId } from "./dom.js";

const REFUSED = new Set(["denied", "rejected"]);

function flatten(limits) {
  const rows = [];
  for (const [name, value] of Object.entries(limits)) {
    if (name === "activity") continue;
    if (value && typeof value === "object" && !("limit" in value)) {
      for (const [inner, v] of Object.entries(value)) rows.push([`${name}.${inner}`, v]);
    } else {
      rows.push([name, value]);
    }
  }
  return rows;
}

const DAY_MS = 86400e3;

const amount = (v) => (Number.isInteger(v) ? String(v) : num(v)); // counts without decimals

function canceledToday(state) {
  const dayStart = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  return state.orders.values()
    .filter((o) => String(o.status).toLowerCase() === "canceled" && o.ts_last / 1e6 >= dayStart).length;
}

// The measure a plain account-wide limit caps, from the page's live state; null if unknown.
function measured(name, state) {
  const positions = state.positions.values();
  const value = (p) => p.quantity * (p.last_price ?? p.avg_px);
  switch (name) {
    case "max_open_orders": return state.openOrders().length;
    case "max_position_qty": return Math.max(0, ...positions.map((p) => Math.abs(p.quantity)));
    case "max_position_notional": return Math.max(0, ...positions.map((p) => Math.abs(value(p))));
    case "max_gross_exposure": return positions.reduce((a, p) => a + Math.abs(value(p)), 0);
    case "max_net_exposure": return Math.abs(positions.reduce((a, p) => a + value(p), 0));
    case "max_daily_cancels": return canceledToday(state);
    case "max_daily_loss": {
      const rows = state.pnl ? state.pnl.rows.filter((r) => r.period === "day") : [];
      return Math.max(0, -rows.reduce((a, r) => a + r.realized + r.unrealized - r.commissions, 0));
    }
    default: return null;
  }
}

function meter(used, limit) {
  const share = limit > 0 ? Math.min(Math.abs(used) / limit, 1) : 0;
  const cls = share >= 1 ? "meter full" : share >= 0.8 ? "meter high" : "meter";
  const bar = el("div");
  bar.style.width = `${(share * 100).toFixed(1)}%`; // a property, not an inline style attribute (CSP)
  return el("div", { class: cls, title: `${(share * 100).toFixed(0)} %` }, bar);
}

export class RiskView {
  constructor(app) {
    this.app = app;
    this.risk = null;
  }

  async refresh() {
    try {
      this.risk = await this.app.api.get("/risk");
    } catch (error) {
      $("#risk-state").textContent = error.status === 503 ? "no node" : "—";
      return;
    }
    this.render();
    this.app.showRisk(this.risk);
  }

  render() {
    const risk = this.risk;
    if (!risk) return;
    $("#risk-state").textContent = risk.state;
    $("#risk-kill").textContent = risk.kill_switch ? "ON" : "off";
    $("#risk-kill").className = risk.kill_switch ? "neg" : "";
    const denied = Object.values(risk.denials).reduce((a, b) => a + b, 0);
    $("#risk-denied").textContent = String(denied);
    const state = this.app.state;
    const activity = (risk.limits && risk.limits.activity) || null;
    const cancels = activity
      ? Object.values(activity).reduce((a, x) => a + (x.cancels || 0), 0)
      : canceledToday(state);
    $("#risk-cancels").textContent = String(cancels);

    const limitRows = flatten(risk.limits || {}).map(([name, value]) => {
      const row = (used, limit) => el("tr", { "data-limit": name }, td(name),
        td(used === null ? "—" : amount(used), "num"), td(amount(limit), "num"),
        td(used === null || typeof limit !== "number" ? "" : meter(used, limit)));
      if (value && typeof value === "object") return row(value.used ?? null, value.limit);
      return typeof value === "number" ? row(measured(name, state), value)
        : el("tr", { "data-limit": name }, td(name), td("—", "num"), td(String(value), "num"), td(""));
    });
    fillTable($("#risk-limits"), limitRows, "no limits configured");
    fillTable($("#risk-scopes"), Object.entries(risk.scopes).map(([scope, state]) =>
      el("tr", {}, td(scope), td(state, state === "ACTIVE" || state === "active" ? "" : "neg"))), "no scopes");
    fillTable($("#risk-denials"), Object.entries(risk.denials).map(([reason, count]) =>
      el("tr", {}, td(reason), td(String(count), "num"))), "no denials");
    this.renderRejections();
  }

  renderRejections() {
    const refused = this.app.state.orders.values()
      .filter((o) => REFUSED.has(String(o.status).toLowerCase()))
      .sort((a, b) => b.ts_last - a.ts_last)
      .slice(0, 50)
      .map((o) => el("tr", {}, td(timeOf(o.ts_last)), td(shortId(o.client_order_id)), td(o.strategy_id),
        td(o.instrument_id), td(o.side, `side-${o.side}`), td(qty(o.quantity), "num"),
        td(String(o.status).toLowerCase(), "neg")));
    fillTable($("#risk-rejections"), refused, "no rejections");
  }
}
