"""Every registered indicator with the parameters and bar fields the tests feed it."""

from __future__ import annotations

from typing import Any, NamedTuple


class Case(NamedTuple):
    name: str
    args: tuple[Any, ...]
    inputs: tuple[str, ...]


HLC = ("high", "low", "close")

CASES = [
    Case("sma", (20,), ("close",)),
    Case("ema", (20,), ("close",)),
    Case("wma", (20,), ("close",)),
    Case("dema", (10,), ("close",)),
    Case("tema", (10,), ("close",)),
    Case("kama", (30,), ("close",)),
    Case("hma", (16,), ("close",)),
    Case("rsi", (14,), ("close",)),
    Case("macd", (12, 26, 9), ("close",)),
    Case("stoch", (5, 3, 3), HLC),
    Case("stochf", (14, 3), HLC),
    Case("stochrsi", (14, 5, 3), ("close",)),
    Case("cci", (14,), HLC),
    Case("willr", (14,), HLC),
    Case("roc", (10,), ("close",)),
    Case("mom", (10,), ("close",)),
    Case("trange", (), HLC),
    Case("atr", (14,), HLC),
    Case("natr", (14,), HLC),
    Case("bbands", (20, 2.0, 2.0), ("close",)),
    Case("keltner", (20, 2.0, 10), HLC),
    Case("donchian", (20,), ("high", "low")),
    Case("adx", (14,), HLC),
    Case("plus_di", (14,), HLC),
    Case("minus_di", (14,), HLC),
    Case("sar", (0.02, 0.2), ("high", "low")),
    Case("aroon", (14,), ("high", "low")),
    Case("supertrend", (10, 3.0), HLC),
    Case("ichimoku", (9, 26, 52), ("high", "low")),
    Case("obv", (), ("close", "volume")),
    Case("mfi", (14,), (*HLC, "volume")),
    Case("vwap", (), (*HLC, "volume", "ts_event")),
    Case("rolling_vwap", (20,), (*HLC, "volume")),
    Case("stddev", (20, 1.0), ("close",)),
    Case("zscore", (20,), ("close",)),
    Case("linearreg_slope", (14,), ("close",)),
]

# Streaming attribute holding each vectorized output where it is not named like the output.
ATTRIBUTE = {("supertrend", "supertrend"): "value"}
