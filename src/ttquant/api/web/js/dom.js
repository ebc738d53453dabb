// Small DOM and formatting helpers. Text always goes in through textContent: data from the
// server (strategy names, log lines) is never parsed as HTML.

export const $ = (selector, root = document) => root.querySelector(selector);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Replace a table body's rows; a placeholder row when there are none.
export function fillTable(table, rows, emptyText = "none") {
  const body = table.tBodies[0];
  if (rows.length === 0) {
    const columns = table.tHead.rows[0].cells.length;
    body.replaceChildren(el("tr", {}, el("td", { class: "empty", colspan: columns, text: emptyText })));
  } else {
    body.replaceChildren(...rows);
  }
}

export function td(value, cls) {
  return el("td", { class: cls }, value);
}

export function num(value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  const abs = Math.abs(value);
  const places = abs !== 0 && abs < 1 ? Math.max(digits, 6) : digits;
  return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: places });
}

export function qty(value) {
  if (value === null || value === undefined) return "—";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: 8 });
}

export function signClass(value) {
  return value > 0 ? "num pos" : value < 0 ? "num neg" : "num";
}

export function timeOf(ns) {
  if (!ns) return "—";
  const date = new Date(Number(ns) / 1e6);
  return date.toISOString().replace("T", " ").slice(0, 19);
}

export function shortId(id) {
  return id && id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id;
}

// Ask for confirmation in the page's modal dialog; resolves true when confirmed.
export function confirmDialog(title, text, confirmLabel = "Confirm") {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-yes").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}
