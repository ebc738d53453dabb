// The dashboard: sign in, the header (node state, mode, venues, kill switch), tabs, and the
// live feed that keeps every view current.

import { $, confirmDialog } from "./dom.js";
import { Api, login } from "./api.js";
import { LiveFeed } from "./live.js";
import { NodeState } from "./state.js";
import { TradingView } from "./trading.js";
import { StrategiesView } from "./strategies.js";
import { RiskView } from "./risk.js";
import { AlertsView } from "./alerts.js";
import { BacktestsView } from "./backtests.js";

const SESSION_KEY = "ttq.session"; // the JWT, for this tab only (sessionStorage)
const NODE_TOPICS = ["orders", "fills", "positions", "pnl", "bars", "trades", "alerts"];
const POLL_MS = 2000;
const ROLE_RANK = { read_only: 0, trader: 1, admin: 2 };

class Dashboard {
  constructor(credential) {
    this.credential = credential;
    this.api = new Api(credential, () => this.signOut("your session ended: sign in again"));
    this.state = new NodeState();
    this.me = null;
    this.dirty = new Set();
    this.tab = "trading";
    this.timers = [];
  }

  async start() {
    this.me = await this.api.get("/auth/me");
    $("#who").textContent = `${this.me.name} · ${this.me.role}${this.me.account ? ` · ${this.me.account}` : ""}`;
    this.trading = new TradingView(this);
    this.strategies = new StrategiesView(this);
    this.risk = new RiskView(this);
    this.alerts = new AlertsView(this);
    this.backtests = new BacktestsView(this);
    for (const button of document.querySelectorAll(".tabs button")) {
      button.addEventListener("click", () => this.show(button.dataset.tab));
    }
    $("#kill-switch").addEventListener("click", () => this.killSwitch());
    $("#logout").addEventListener("click", () => this.signOut(""));
    $("#login").hidden = true;
    $("#app").hidden = false;
    this.feed = new LiveFeed(this.credential, {
      onSnapshot: (topic, data) => this.apply(topic, data, true),
      onDelta: (topic, data) => this.apply(topic, data, false),
      onStatus: (text) => this.feedStatus(text),
      onUnauthorized: () => this.signOut("your session ended: sign in again"),
    });
    this.feed.subscribe([...NODE_TOPICS, "jobs", ...(this.scoped() ? [] : ["logs"])]);
    this.feed.connect();
    await this.poll();
    this.timers.push(setInterval(() => this.poll(), POLL_MS));
    this.show("trading");
  }

  canTrade() {
    return this.me && ROLE_RANK[this.me.role] >= ROLE_RANK.trader;
  }

  scoped() {
    return Boolean(this.me && this.me.account);
  }

  apply(topic, data, snapshot) {
    this.state.apply(topic, data, snapshot);
    this.dirty.add(topic);
    if (this.dirty.size === 1) requestAnimationFrame(() => this.renderDirty());
  }

  // Render each changed topic once per frame, however many deltas arrived.
  renderDirty() {
    const topics = [...this.dirty];
    this.dirty.clear();
    for (const topic of topics) {
      this.trading.render(topic);
      if (topic === "orders") this.risk.renderRejections();
      if (topic === "alerts") this.alerts.renderAlerts();
      if (topic === "logs") this.alerts.renderLogs();
      if (topic === "jobs") this.onJobs();
    }
  }

  onJobs() {
    // a finished backtest job adds a run: refresh the list when it is on screen
    if (this.tab === "backtests") this.backtests.refresh();
  }

  show(tab) {
    this.tab = tab;
    for (const button of document.querySelectorAll(".tabs button")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === tab));
    }
    for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== `tab-${tab}`;
    if (tab === "strategies") this.strategies.refresh();
    if (tab === "risk") this.risk.refresh();
    if (tab === "alerts") { this.alerts.renderAlerts(); this.alerts.renderLogs(); }
    if (tab === "backtests") this.backtests.refresh();
  }

  async poll() {
    await Promise.all([this.pollNode(), this.pollReady(), this.risk.refresh()]);
    if (this.tab === "strategies") await this.strategies.refresh();
  }

  async pollNode() {
    const state = $("#node-state");
    const badge = $("#mode-badge");
    try {
      const node = await this.api.get("/node");
      state.textContent = node.entries_paused ? `${node.state} (entries paused)` : node.state;
      state.className = node.state === "running" ? "ok" : "warn";
      badge.textContent = node.mode.toUpperCase();
      badge.className = `badge ${node.mode === "live" ? "live" : "paper"}`;
    } catch (error) {
      state.textContent = error.status === 503 ? "none attached" : "unknown";
      state.className = "bad";
      badge.textContent = "NO NODE";
      badge.className = "badge";
    }
  }

  async pollReady() {
    const venue = $("#venue-status");
    let report;
    try {
      const response = await fetch("/api/v1/ready");
      report = await response.json();
    } catch {
      venue.textContent = "server unreachable";
      venue.className = "bad";
      return;
    }
    const checks = (report.checks || []).filter((c) => c.name.startsWith("venue:") || c.name.startsWith("feed:"));
    if (checks.length === 0) {
      venue.textContent = "—";
      venue.className = "";
      return;
    }
    const failed = checks.filter((c) => !c.ok);
    venue.textContent = failed.length ? failed.map((c) => `${c.name} ${c.detail}`).join("; ") : "connected";
    venue.className = failed.length ? "bad" : "ok";
    venue.parentElement.title = checks.map((c) => `${c.name}: ${c.detail}`).join("\n");
  }

  showRisk(risk) {
    const button = $("#kill-switch");
    const banner = $("#banner");
    this.killActive = risk.kill_switch;
    button.textContent = risk.kill_switch ? "Release kill switch" : "Kill switch";
    button.disabled = this.scoped() || !this.canTrade()
      || (risk.kill_switch && ROLE_RANK[this.me.role] < ROLE_RANK.admin);
    if (risk.kill_switch || risk.state.toLowerCase() === "halted") {
      banner.hidden = false;
      banner.className = "banner halted";
      banner.textContent = risk.kill_switch ? "KILL SWITCH ON: trading halted, orders canceled" : `trading ${risk.state}`;
    } else if (banner.classList.contains("halted")) {
      banner.hidden = true;
      banner.className = "banner";
    }
  }

  async killSwitch() {
    const on = !this.killActive;
    const ok = on
      ? await confirmDialog("Kill switch", "Halt all trading and cancel every open order of every strategy?", "Halt trading")
      : await confirmDialog("Release kill switch", "Let strategies trade again?", "Release");
    if (!ok) return;
    try {
      const risk = await this.api.post("/risk/kill-switch", { active: on, reason: "dashboard" });
      this.risk.risk = risk;
      this.risk.render();
      this.showRisk(risk);
    } catch (error) {
      this.notify(`kill switch: ${error.message}`);
    }
  }

  feedStatus(text) {
    const node = $("#ws-status");
    node.textContent = text;
    node.className = text === "live" ? "ok" : "warn";
  }

  notify(message, isError = true) {
    const banner = $("#banner");
    if (banner.classList.contains("halted")) return;
    banner.hidden = false;
    banner.className = isError ? "banner" : "banner info";
    banner.textContent = message;
    clearTimeout(this.bannerTimer);
    this.bannerTimer = setTimeout(() => { banner.hidden = true; }, 8000);
  }

  signOut(reason) {
    sessionStorage.removeItem(SESSION_KEY);
    if (this.feed) this.feed.close();
    for (const timer of this.timers) clearInterval(timer);
    if (reason) sessionStorage.setItem("ttq.reason", reason);
    location.reload();
  }
}

async function boot() {
  const form = $("#login-form");
  const errorLine = $("#login-error");
  const reason = sessionStorage.getItem("ttq.reason");
  if (reason) {
    errorLine.textContent = reason;
    sessionStorage.removeItem("ttq.reason");
  }
  const saved = sessionStorage.getItem(SESSION_KEY);
  if (saved) {
    try {
      await new Dashboard(saved).start();
      return;
    } catch {
      sessionStorage.removeItem(SESSION_KEY);
    }
  }
  $("#login").hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorLine.textContent = "";
    const token = $("#login-token").value.trim();
    try {
      const session = await login(token);
      sessionStorage.setItem(SESSION_KEY, session);
      $("#login-token").value = "";
      await new Dashboard(session).start();
    } catch (error) {
      errorLine.textContent = error.status === 401 ? "that token is not valid (or was revoked)" : error.message;
    }
  });
}

boot();
