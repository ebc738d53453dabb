// The trading tab: PnL tiles, equity and candle charts, positions, open orders, fills and the
// manual order ticket.

import { $, el, fillTable, td, num, qty, signClass, timeOf, shortId, confirmDialog } from "./dom.js";
import { LineChart, CandleChart, CandleSeries } from "./charts.js";

const TICKET_STRATEGY = "manual";

export class TradingView {
  constructor(app) {
    this.app = app;
    this.equityChart = new LineChart($("#equity-chart"), { emptyText: "waiting for PnL updates" });
    this.candleChart = new CandleChart($("#candle-chart"));
    this.instrument = "";
    this.intervalMs = 60000;
    this.series = new CandleSeries(this.intervalMs);
    this.fed = null; // how far into the state's bars and trades the series is
    $("#chart-instrument").addEventListener("change", (e) => this.pick(e.target.value));
    $("#chart-interval").addEventListener("change", (e) => {
      this.intervalMs = Number(e.target.value) * 1000;
      this.rebuild();
    });
    $("#ticket-type").addEventListener("change", () => this.ticketType());
    $("#ticket").addEventListener("submit", (e) => { e.preventDefault(); this.placeOrder(); });
    $("#cancel-all").addEventListener("click", () => this.cancelAll());
    $("#ticket-submit").disabled = !app.canTrade();
    this.ticketType();
  }

  ticketType() {
    const limit = $("#ticket-type").value === "limit";
    $("#ticket-price").disabled = !limit;
    $("#ticket-price").required = limit;
  }

  render(topic) {
    const state = this.app.state;
    if (topic === "pnl") this.renderPnl();
    if (topic === "positions") this.renderPositions();
    if (topic === "orders") this.renderOrders();
    if (topic === "fills") { this.renderFills(); this.renderCandles(); }
    if (topic === "trades" || topic === "bars") this.renderCandles();
    if (["positions", "orders", "trades", "bars"].includes(topic)) this.renderInstruments(state.instruments());
  }

  renderPnl() {
    const pnl = this.app.state.pnl;
    if (!pnl) return;
    const total = pnl.rows.filter((r) => r.period === "total");
    const day = pnl.rows.filter((r) => r.period === "day");
    const sum = (rows, f) => rows.reduce((a, r) => a + f(r), 0);
    const set = (id, value) => {
      const node = $(id);
      node.textContent = num(value);
      node.className = value > 0 ? "pos" : value < 0 ? "neg" : "";
    };
    $("#tile-equity").textContent = num(pnl.equity);
    set("#tile-realized", sum(total, (r) => r.realized));
    set("#tile-unrealized", sum(total, (r) => r.unrealized));
    set("#tile-day", sum(day, (r) => r.realized + r.unrealized - r.commissions));
    $("#tile-commissions").textContent = num(sum(total, (r) => r.commissions));
    this.equityChart.set([{ name: "equity", color: "#4c9aff", points: this.app.state.equity }]);
  }

  renderPositions() {
    const trader = this.app.canTrade();
    const rows = this.app.state.positions.values()
      .filter((p) => p.quantity !== 0)
      .map((p) => el("tr", { "data-instrument": p.instrument_id, "data-strategy": p.strategy_id },
        td(p.account), td(p.strategy_id), td(p.instrument_id), td(qty(p.quantity), "num"),
        td(num(p.avg_px), "num"), td(num(p.last_price), "num"),
        td(num(p.unrealized_pnl), signClass(p.unrealized_pnl)), td(num(p.realized_pnl), signClass(p.realized_pnl)),
        td(el("button", {
          class: "small-btn", disabled: !trader, text: "Close",
          onclick: () => this.closePosition(p),
        }))));
    fillTable($("#positions"), rows, "no open positions");
  }

  renderOrders() {
    const trader = this.app.canTrade();
    const open = this.app.state.openOrders();
    $("#tile-open-orders").textContent = String(open.length);
    $("#cancel-all").disabled = !trader || open.length === 0;
    const rows = open.map((o) => el("tr", { "data-order": o.client_order_id },
      td(shortId(o.client_order_id)), td(o.strategy_id), td(o.instrument_id),
      td(o.side, `side-${o.side}`), td(o.order_type), td(qty(o.quantity), "num"),
      td(num(o.price), "num"), td(qty(o.filled_qty), "num"), td(String(o.status).toLowerCase()),
      td(el("button", {
        class: "small-btn", disabled: !trader, text: "Cancel",
        onclick: () => this.cancel(o),
      }))));
    fillTable($("#orders"), rows, "no open orders");
  }

  renderFills() {
    const fills = [...this.app.state.fills.values()].reverse().slice(0, 100);
    const rows = fills.map((f) => el("tr", {},
      td(timeOf(f.ts_event)), td(f.strategy_id), td(f.instrument_id), td(f.side, `side-${f.side}`),
      td(qty(f.qty), "num"), td(num(f.price), "num"), td(num(f.commission, 4), "num"),
      td(f.liquidity_side), td(shortId(f.client_order_id))));
    fillTable($("#fills"), rows, "no fills yet");
  }

  renderInstruments(ids) {
    const select = $("#chart-instrument");
    const known = [...select.options].map((o) => o.value);
    if (ids.join() !== known.join()) {
      select.replaceChildren(...ids.map((id) => el("option", { value: id, text: id })));
      $("#instrument-list").replaceChildren(...ids.map((id) => el("option", { value: id })));
      if (!ids.includes(this.instrument) && ids.length) this.pick(ids[0]);
      else select.value = this.instrument;
    }
  }

  pick(instrument) {
    this.instrument = instrument;
    $("#chart-instrument").value = instrument;
    if (!$("#ticket-instrument").value) $("#ticket-instrument").value = instrument;
    this.rebuild();
  }

  rebuild() {
    this.series = new CandleSeries(this.intervalMs);
    this.fed = null;
    this.renderCandles();
  }

  // Feed the candle series what arrived since the last call (bars if the node has any).
  renderCandles() {
    const { bars, trades } = this.app.state;
    const fed = this.fed;
    if (fed && (fed.barGen !== bars.generation || fed.tradeGen !== trades.generation)) return this.rebuild();
    for (const b of fed ? bars.since(fed.bars) : bars.values()) {
      if (b.instrument_id === this.instrument) this.series.addBar(b.ts_event / 1e6, b.open, b.high, b.low, b.close);
    }
    if (!bars.values().some((b) => b.instrument_id === this.instrument)) {
      for (const t of fed ? trades.since(fed.trades) : trades.values()) {
        if (t.instrument_id === this.instrument) this.series.addTick(t.ts_event / 1e6, t.price);
      }
    }
    this.fed = { bars: bars.total, trades: trades.total, barGen: bars.generation, tradeGen: trades.generation };
    const state = this.app.state;
    const markers = state.fills.values()
      .filter((f) => f.instrument_id === this.instrument)
      .map((f) => ({ t: f.ts_event / 1e6, price: f.price, side: f.side }));
    this.candleChart.set(this.series.values(), markers, this.intervalMs);
  }

  async placeOrder() {
    const type = $("#ticket-type").value;
    const order = {
      instrument_id: $("#ticket-instrument").value.trim(),
      side: $("#ticket-side").value,
      quantity: Number($("#ticket-qty").value),
      order_type: type,
      strategy_id: TICKET_STRATEGY,
    };
    if (type === "limit") order.price = Number($("#ticket-price").value);
    const result = $("#ticket-result");
    result.className = "small";
    result.textContent = "sending…";
    try {
      const placed = await this.app.api.post("/orders", order);
      result.textContent = `order ${placed.client_order_id} ${String(placed.status).toLowerCase()}`;
      result.dataset.order = placed.client_order_id;
      this.app.state.orders.upsert([placed]);
      this.renderOrders();
    } catch (error) {
      result.className = "small error";
      result.textContent = `refused: ${error.message}`;
    }
  }

  async cancel(order) {
    try {
      const canceled = await this.app.api.del(`/orders/${encodeURIComponent(order.client_order_id)}`);
      this.app.state.orders.upsert([canceled]);
      this.renderOrders();
    } catch (error) {
      this.app.notify(`cancel ${order.client_order_id}: ${error.message}`);
    }
  }

  async cancelAll() {
    const count = this.app.state.openOrders().length;
    const ok = await confirmDialog("Cancel all orders", `Cancel ${count} open orders of every strategy?`, "Cancel all");
    if (!ok) return;
    try {
      const answer = await this.app.api.del("/orders");
      this.app.notify(`${answer.canceled} cancel requests sent`, false);
    } catch (error) {
      this.app.notify(`cancel all: ${error.message}`);
    }
  }

  async closePosition(position) {
    const side = position.quantity > 0 ? "sell" : "buy";
    const size = Math.abs(position.quantity);
    const ok = await confirmDialog(
      "Close position",
      `Send a market ${side} of ${qty(size)} ${position.instrument_id} (strategy ${position.strategy_id})?`,
      "Close position",
    );
    if (!ok) return;
    try {
      await this.app.api.post("/orders", {
        instrument_id: position.instrument_id, side, quantity: size, order_type: "market",
        strategy_id: position.strategy_id,
      });
    } catch (error) {
      this.app.notify(`close ${position.instrument_id}: ${error.message}`);
    }
  }
}
