// Canvas charts, written for this page (no library, no network): a time-series line chart
// (equity, drawdown, two runs overlaid) and a candle chart with trade markers.
//
// Both draw on demand: callers set data and call draw(); a resize redraws. Times are
// milliseconds since the epoch (UTC).

const AXIS = "#8593a3";
const GRID = "#1e262f";
const UP = "#26a69a";
const DOWN = "#ef5350";
const PAD = { left: 8, right: 80, top: 10, bottom: 22 };

function niceTicks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v); // no -5.55e-17 for zero
  }
  return ticks;
}

// A tick label with as many decimals as the tick step needs (999,990 and 1,000,000, not 1.00M).
function label(value, step = 0) {
  const decimals = step > 0 ? Math.min(8, Math.max(0, -Math.floor(Math.log10(step)))) : 2;
  return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

function timeLabel(ms, span) {
  const iso = new Date(ms).toISOString();
  if (span > 3 * 86400e3) return iso.slice(0, 10);
  if (span > 3600e3) return iso.slice(5, 16).replace("T", " ");
  return iso.slice(11, 19);
}

class Chart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  // Size the backing store to the element (sharp on high-DPI screens); false when hidden.
  prepare() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth;
    const height = this.canvas.clientHeight;
    if (!width || !height) return false;
    this.canvas.width = Math.round(width * ratio);
    this.canvas.height = Math.round(height * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.ctx.clearRect(0, 0, width, height);
    this.width = width;
    this.height = height;
    return true;
  }

  frame(x0, x1, y0, y1) {
    const w = this.width - PAD.left - PAD.right;
    const h = this.height - PAD.top - PAD.bottom;
    const ySpan = y1 - y0 || Math.abs(y0) * 0.01 || 1;
    const lo = y1 - y0 ? y0 : y0 - ySpan / 2;
    const hi = lo + ySpan;
    const xSpan = x1 - x0 || 1;
    return {
      x: (t) => PAD.left + ((t - x0) / xSpan) * w,
      y: (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * h,
      lo, hi, x0, x1, w, h,
    };
  }

  axes(f) {
    const ctx = this.ctx;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = AXIS;
    ctx.strokeStyle = GRID;
    ctx.lineWidth = 1;
    ctx.textBaseline = "middle";
    const ticks = niceTicks(f.lo, f.hi, 5);
    const step = ticks.length > 1 ? ticks[1] - ticks[0] : 0;
    for (const v of ticks) {
      const y = Math.round(f.y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(PAD.left + f.w, y); ctx.stroke();
      ctx.fillText(label(v, step), PAD.left + f.w + 6, y);
    }
    this.tickStep = step;
    ctx.textBaseline = "top";
    const span = f.x1 - f.x0;
    const count = Math.max(2, Math.floor(f.w / 120));
    for (let i = 0; i <= count; i += 1) {
      const t = f.x0 + (span * i) / count;
      const text = timeLabel(t, span);
      const x = Math.min(Math.max(f.x(t) - ctx.measureText(text).width / 2, PAD.left), PAD.left + f.w - 40);
      ctx.fillText(text, x, PAD.top + f.h + 6);
    }
  }

  empty(text) {
    this.ctx.fillStyle = AXIS;
    this.ctx.font = "12px system-ui, sans-serif";
    this.ctx.textBaseline = "middle";
    this.ctx.fillText(text, this.width / 2 - this.ctx.measureText(text).width / 2, this.height / 2);
  }
}

export class LineChart extends Chart {
  constructor(canvas, { fill = false, emptyText = "no data yet" } = {}) {
    super(canvas);
    this.fill = fill;
    this.emptyText = emptyText;
    this.series = [];
  }

  // series: [{name, color, points: [[ms, value], ...]}]
  set(series) {
    this.series = series;
    this.draw();
  }

  draw() {
    if (!this.prepare()) return;
    const all = this.series.flatMap((s) => s.points);
    if (all.length === 0) return this.empty(this.emptyText);
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const [t, v] of all) {
      x0 = Math.min(x0, t); x1 = Math.max(x1, t); y0 = Math.min(y0, v); y1 = Math.max(y1, v);
    }
    if (this.fill) y1 = Math.max(y1, 0);
    const f = this.frame(x0, x1, y0, y1);
    this.axes(f);
    const ctx = this.ctx;
    this.series.forEach((s, i) => {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      s.points.forEach(([t, v], j) => (j ? ctx.lineTo(f.x(t), f.y(v)) : ctx.moveTo(f.x(t), f.y(v))));
      ctx.stroke();
      if (this.fill && s.points.length) {
        ctx.lineTo(f.x(s.points[s.points.length - 1][0]), f.y(0));
        ctx.lineTo(f.x(s.points[0][0]), f.y(0));
        ctx.closePath();
        ctx.fillStyle = `${s.color}33`;
        ctx.fill();
      }
      ctx.fillStyle = s.color;
      ctx.textBaseline = "top";
      ctx.fillText(s.name, PAD.left + 6 + i * 140, PAD.top);
    });
  }
}

// Candles of a fixed interval built from bars or trade ticks, newest `cap` kept.
export class CandleSeries {
  constructor(intervalMs, cap = 240) {
    this.intervalMs = intervalMs;
    this.cap = cap;
    this.candles = new Map(); // start ms -> {t, o, h, l, c}
  }

  addTick(ms, price) {
    const t = Math.floor(ms / this.intervalMs) * this.intervalMs;
    const candle = this.candles.get(t);
    if (candle) {
      candle.h = Math.max(candle.h, price); candle.l = Math.min(candle.l, price); candle.c = price;
    } else {
      this.candles.set(t, { t, o: price, h: price, l: price, c: price });
      this.trim();
    }
  }

  // A bar of the node (open time ms); bars shorter than the interval merge into its candle.
  addBar(ms, o, h, l, c) {
    const t = Math.floor(ms / this.intervalMs) * this.intervalMs;
    const candle = this.candles.get(t);
    if (candle) {
      candle.h = Math.max(candle.h, h); candle.l = Math.min(candle.l, l); candle.c = c;
    } else {
      this.candles.set(t, { t, o, h, l, c });
      this.trim();
    }
  }

  trim() {
    if (this.candles.size <= this.cap) return;
    const keys = [...this.candles.keys()].sort((a, b) => a - b);
    for (const key of keys.slice(0, keys.length - this.cap)) this.candles.delete(key);
  }

  values() {
    return [...this.candles.values()].sort((a, b) => a.t - b.t);
  }
}

export class CandleChart extends Chart {
  constructor(canvas) {
    super(canvas);
    this.candles = [];
    this.markers = [];
    this.intervalMs = 60000;
  }

  // candles: [{t, o, h, l, c}]; markers: [{t, price, side: "buy"|"sell"}]
  set(candles, markers, intervalMs) {
    this.candles = candles;
    this.markers = markers;
    this.intervalMs = intervalMs;
    this.draw();
  }

  draw() {
    if (!this.prepare()) return;
    const candles = this.candles;
    if (candles.length === 0) return this.empty("waiting for market data");
    const x0 = candles[0].t;
    const x1 = candles[candles.length - 1].t + this.intervalMs;
    const shown = this.markers.filter((m) => m.t >= x0 && m.t <= x1);
    let lo = Math.min(...candles.map((c) => c.l), ...shown.map((m) => m.price));
    let hi = Math.max(...candles.map((c) => c.h), ...shown.map((m) => m.price));
    const margin = (hi - lo) * 0.05 || hi * 0.001;
    lo -= margin; hi += margin;
    const f = this.frame(x0, x1, lo, hi);
    this.axes(f);
    const ctx = this.ctx;
    const slot = (f.w * this.intervalMs) / (x1 - x0);
    const body = Math.max(1, Math.min(slot * 0.7, 14));
    for (const c of candles) {
      const x = f.x(c.t + this.intervalMs / 2);
      ctx.strokeStyle = ctx.fillStyle = c.c >= c.o ? UP : DOWN;
      ctx.beginPath(); ctx.moveTo(Math.round(x) + 0.5, f.y(c.h)); ctx.lineTo(Math.round(x) + 0.5, f.y(c.l)); ctx.stroke();
      const top = f.y(Math.max(c.o, c.c));
      ctx.fillRect(x - body / 2, top, body, Math.max(1, f.y(Math.min(c.o, c.c)) - top));
    }
    for (const m of shown) {
      const x = f.x(m.t);
      const y = f.y(m.price);
      const buy = m.side === "buy";
      ctx.fillStyle = buy ? "#7bd88f" : "#ff8a80";
      ctx.beginPath();
      if (buy) { ctx.moveTo(x, y); ctx.lineTo(x - 5, y + 9); ctx.lineTo(x + 5, y + 9); }
      else { ctx.moveTo(x, y); ctx.lineTo(x - 5, y - 9); ctx.lineTo(x + 5, y - 9); }
      ctx.closePath();
      ctx.fill();
    }
    const last = candles[candles.length - 1].c;
    const y = Math.round(f.y(last)) + 0.5;
    ctx.strokeStyle = AXIS;
    ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(PAD.left + f.w, y); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#2a3542";
    ctx.fillRect(PAD.left + f.w + 2, y - 8, PAD.right - 4, 16);
    ctx.fillStyle = "#fff";
    ctx.textBaseline = "middle";
    ctx.fillText(label(last, this.tickStep / 100), PAD.left + f.w + 6, y);
  }
}

// Drawdown (fraction below the running peak, <= 0) of an equity series.
export function drawdown(points) {
  let peak = -Infinity;
  return points.map(([t, v]) => {
    peak = Math.max(peak, v);
    return [t, peak > 0 ? v / peak - 1 : 0];
  });
}
