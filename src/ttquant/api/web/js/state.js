// What the page knows of the node, kept from the live feed's snapshots and deltas.
//
// A snapshot replaces a topic's state; a delta carries one record or a list of them. Keyed
// topics (orders, positions) upsert by key; streams (fills, trades, alerts, logs) append and
// keep the newest `cap`; pnl is one object replaced whole.

class Keyed {
  constructor(key) {
    this.key = key;
    this.rows = new Map();
  }
  replace(rows) {
    this.rows = new Map(rows.map((r) => [this.key(r), r]));
  }
  upsert(rows) {
    for (const row of rows) this.rows.set(this.key(row), row);
  }
  values() {
    return [...this.rows.values()];
  }
}

class Stream {
  constructor(cap, key) {
    this.cap = cap;
    this.key = key;
    this.rows = [];
    this.seen = new Set();
    this.generation = 0; // bumped by each snapshot
    this.total = 0; // rows appended since the last snapshot, including those dropped since
  }
  replace(rows) {
    this.rows = [];
    this.seen = new Set();
    this.generation += 1;
    this.total = 0;
    this.upsert(rows);
  }
  // The rows appended after the first `count` of this generation.
  since(count) {
    return this.rows.slice(Math.max(0, this.rows.length - (this.total - count)));
  }
  upsert(rows) {
    for (const row of rows) {
      const id = this.key ? this.key(row) : null;
      if (id !== null) {
        if (this.seen.has(id)) continue;
        this.seen.add(id);
      }
      this.rows.push(row);
      this.total += 1;
    }
    if (this.rows.length > this.cap) {
      const dropped = this.rows.splice(0, this.rows.length - this.cap);
      if (this.key) for (const row of dropped) this.seen.delete(this.key(row));
    }
  }
  values() {
    return this.rows;
  }
}

// A bar names its bar type ("BTC/USDT@BINANCE:1m"); the instrument is all but the step.
function withInstrument(bar) {
  if (bar.instrument_id || !bar.bar_type) return bar;
  return { ...bar, instrument_id: bar.bar_type.slice(0, bar.bar_type.lastIndexOf(":")) };
}

const asList = (data) => (data === null || data === undefined ? [] : Array.isArray(data) ? data : [data]);

export const OPEN_STATUSES = new Set([
  "initialized", "submitted", "accepted", "pending_update", "pending_cancel", "triggered", "partially_filled",
]);

export function isOpen(order) {
  return OPEN_STATUSES.has(String(order.status).toLowerCase());
}

export class NodeState {
  constructor() {
    this.orders = new Keyed((o) => o.client_order_id);
    this.positions = new Keyed((p) => `${p.account}|${p.strategy_id}|${p.instrument_id}`);
    this.fills = new Stream(500, (f) => f.trade_id);
    this.trades = new Stream(20000, null);
    this.bars = new Stream(5000, null);
    this.alerts = new Stream(200, null);
    this.logs = new Stream(500, (r) => r.seq ?? null);
    this.jobs = new Keyed((j) => j.job_id);
    this.pnl = null;
    this.equity = []; // [time ms, equity] from every pnl update this page has seen
  }

  apply(topic, data, snapshot) {
    if (topic === "pnl") {
      this.pnl = data;
      if (data && typeof data.equity === "number") this.equity.push([Date.now(), data.equity]);
      return;
    }
    const target = this[topic];
    if (!target) return;
    const rows = topic === "bars" ? asList(data).map(withInstrument) : asList(data);
    if (snapshot) target.replace(rows);
    else target.upsert(rows);
  }

  openOrders() {
    return this.orders.values().filter(isOpen).sort((a, b) => b.ts_init - a.ts_init);
  }

  instruments() {
    const ids = new Set();
    for (const p of this.positions.values()) ids.add(p.instrument_id);
    for (const o of this.orders.values()) ids.add(o.instrument_id);
    for (const t of this.trades.values()) ids.add(t.instrument_id);
    for (const b of this.bars.values()) ids.add(b.instrument_id);
    ids.delete(undefined);
    return [...ids].sort();
  }
}
