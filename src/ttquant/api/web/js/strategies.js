// The strategy console: start, stop and pause strategies; edit parameters, showing which ones
// change without a restart (the node answers 409 for the others).

import { $, el, fillTable, td } from "./dom.js";

function inputFor(name, value) {
  if (typeof value === "boolean") {
    return el("input", { type: "checkbox", name, checked: value, "data-kind": "bool" });
  }
  if (typeof value === "number") {
    return el("input", { type: "number", step: "any", name, value, "data-kind": "number" });
  }
  if (value !== null && typeof value === "object") {
    return el("input", { name, value: JSON.stringify(value), "data-kind": "json" });
  }
  return el("input", { name, value: value ?? "", "data-kind": "text" });
}

function valueOf(input) {
  switch (input.dataset.kind) {
    case "bool": return input.checked;
    case "number": return input.value === "" ? null : Number(input.value);
    case "json": return JSON.parse(input.value);
    default: return input.value;
  }
}

export class StrategiesView {
  constructor(app) {
    this.app = app;
    this.list = [];
    this.editing = null;
    $("#params-apply").addEventListener("click", () => this.apply());
  }

  async refresh() {
    try {
      this.list = await this.app.api.get("/strategies");
    } catch (error) {
      fillTable($("#strategies"), [], error.message);
      return;
    }
    this.render();
  }

  render() {
    const trader = this.app.canTrade();
    const action = (s, name, label) => el("button", {
      class: "small-btn", text: label, disabled: !trader, onclick: () => this.act(s, name),
    });
    const rows = this.list.map((s) => el("tr", { "data-strategy": s.strategy_id },
      td(s.strategy_id), td(s.name), td(s.state), td(s.instruments.join(", ")),
      el("td", {}, action(s, "start", "Start"), " ", action(s, "pause", "Pause"), " ", action(s, "stop", "Stop"), " ",
        el("button", { class: "small-btn", text: "Parameters", onclick: () => this.edit(s) }))));
    fillTable($("#strategies"), rows, "no strategies");
  }

  async act(strategy, action) {
    try {
      await this.app.api.post(`/strategies/${encodeURIComponent(strategy.strategy_id)}/${action}`);
    } catch (error) {
      this.app.notify(`${action} ${strategy.strategy_id}: ${error.message}`);
    }
    await this.refresh();
  }

  edit(strategy, keepResult = false) {
    this.editing = strategy;
    $("#params-card").hidden = false;
    $("#params-strategy").textContent = strategy.strategy_id;
    if (!keepResult) $("#params-result").textContent = "";
    const hot = new Set(strategy.hot_params);
    const fields = Object.entries(strategy.params).map(([name, value]) => el("label", {},
      el("span", {}, name, el("span", {
        class: `tag ${hot.has(name) ? "hot" : "restart"}`, text: hot.has(name) ? "hot" : "restart",
      })),
      inputFor(name, value)));
    $("#params-form").replaceChildren(...fields);
  }

  async apply() {
    const strategy = this.editing;
    if (!strategy) return;
    const result = $("#params-result");
    const changed = {};
    try {
      for (const input of $("#params-form").querySelectorAll("input")) {
        const value = valueOf(input);
        if (JSON.stringify(value) !== JSON.stringify(strategy.params[input.name])) changed[input.name] = value;
      }
    } catch (error) {
      result.className = "small error";
      result.textContent = `invalid value: ${error.message}`;
      return;
    }
    if (Object.keys(changed).length === 0) {
      result.className = "small";
      result.textContent = "nothing changed";
      return;
    }
    try {
      const updated = await this.app.api.patch(
        `/strategies/${encodeURIComponent(strategy.strategy_id)}/params`, { params: changed });
      result.className = "small pos";
      result.textContent = `applied: ${Object.keys(changed).join(", ")}`;
      this.edit(updated, true);
    } catch (error) {
      result.className = "small error";
      result.textContent = error.message;
    }
    await this.refresh();
  }
}
