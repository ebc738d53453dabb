"""vectorbt running ttquant's reference MA cross, for ``vectorized.py`` and its peer script.

The signal rule is ttquant's (``MACross``): a cross needs the previous difference strictly on
the other side and the new one beyond a 1e-12 relative tie. Orders decided at a bar's close
fill at the next bar's open: vectorbt's ``from_signals`` executes at the signal bar's
``price``, so the signals are shifted one bar forward and ``price`` is the open.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TIE = 1e-12


def setup() -> Any:
    """vectorbt with its fastest engine; returns the module."""
    import vectorbt as vbt

    vbt.settings["engine"] = "rust"  # vectorbt >= 1.1 with vectorbt-rust installed
    return vbt


def crosses(fast: np.ndarray, slow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cross up / down flags (bars x columns), ttquant's tie rule, shifted to the fill bar."""
    diff = fast - slow
    tie = TIE * np.abs(slow)
    clean = np.where((diff >= -tie) & (diff <= tie), 0.0, diff)
    prev = np.empty_like(diff)
    prev[0] = np.nan
    prev[1:] = clean[:-1]
    up = (prev < 0.0) & (diff > tie)
    down = (prev > 0.0) & (diff < -tie)
    entries = np.zeros_like(up)
    exits = np.zeros_like(down)
    entries[1:] = up[:-1]
    exits[1:] = down[:-1]
    return entries, exits


def run_sweep(
    vbt: Any, open_: np.ndarray, close: np.ndarray, pairs: list[tuple[int, int]], cash: float
) -> Any:
    """One portfolio per (fast, slow) pair: MAs by vectorbt, one ``from_signals`` call."""
    windows = sorted({w for pair in pairs for w in pair})
    ma = vbt.MA.run(close, window=windows).ma.to_numpy()
    column = {w: i for i, w in enumerate(windows)}
    fast = ma[:, [column[f] for f, _ in pairs]]
    slow = ma[:, [column[s] for _, s in pairs]]
    entries, exits = crosses(fast, slow)
    return vbt.Portfolio.from_signals(
        close[:, None],
        entries,
        exits,
        price=open_[:, None],
        size=1.0,
        size_type="amount",
        init_cash=cash,
        fees=0.0,
        direction="longonly",
        accumulate=False,
        freq="1min",
    )


def statistics(pf: Any) -> dict[str, np.ndarray]:
    """Per column, what ``ttq sweep`` reports of a run, as vectorbt computes it."""
    closed = pf.trades.closed
    return {
        "total_return_pct": pf.total_return().to_numpy() * 100.0,
        "sharpe": pf.returns_acc.sharpe_ratio().to_numpy(),
        "sortino": pf.returns_acc.sortino_ratio().to_numpy(),
        "calmar": pf.returns_acc.calmar_ratio().to_numpy(),
        "max_drawdown_pct": -pf.max_drawdown().to_numpy() * 100.0,
        "n_trades": closed.count().to_numpy(),
        "win_rate_pct": closed.win_rate().to_numpy() * 100.0,
        "equity_final": pf.final_value().to_numpy(),
    }


def closed_trades(
    pf: Any, col: int, ts: np.ndarray
) -> list[tuple[int, int, float, float, float, float]]:
    """(entry ns, exit ns, entry price, exit price, size, pnl) of a column's closed trades."""
    records = pf.trades.values
    records = records[(records["col"] == col) & (records["status"] == 1)]
    return [
        (int(ts[r["entry_idx"]]), int(ts[r["exit_idx"]]), float(r["entry_price"]),
         float(r["exit_price"]), float(r["size"]), float(r["pnl"]))
        for r in records
    ]  # fmt: skip
