"""Name -> (vectorized function, streaming class) registry, extensible through entry points.

Plugins publish indicators under the entry-point group :data:`ENTRY_POINT_GROUP`; each entry
point's name is the indicator name and its object is a ``(function, streaming class)`` pair, for
example in a plugin's ``pyproject.toml``::

    [project.entry-points."ttquant.indicators"]
    my_ma = "my_pkg.indicators:MY_MA"   # MY_MA = (my_ma, MyMA)
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, NamedTuple

from ttquant.core.errors import ConfigError
from ttquant.indicators import moving_averages as ma
from ttquant.indicators import oscillators as osc
from ttquant.indicators import statistics as stats
from ttquant.indicators import trend, volatility, volume
from ttquant.indicators._base import Indicator

ENTRY_POINT_GROUP = "ttquant.indicators"


class RegistryEntry(NamedTuple):
    function: Callable[..., Any]
    streaming: type[Indicator]


_BUILTINS: list[tuple[str, Callable[..., Any], type[Indicator]]] = [
    ("sma", ma.sma, ma.SMA),
    ("ema", ma.ema, ma.EMA),
    ("wma", ma.wma, ma.WMA),
    ("dema", ma.dema, ma.DEMA),
    ("tema", ma.tema, ma.TEMA),
    ("kama", ma.kama, ma.KAMA),
    ("hma", ma.hma, ma.HMA),
    ("rsi", osc.rsi, osc.RSI),
    ("macd", osc.macd, osc.MACD),
    ("stoch", osc.stoch, osc.STOCH),
    ("stochf", osc.stochf, osc.STOCHF),
    ("stochrsi", osc.stochrsi, osc.STOCHRSI),
    ("cci", osc.cci, osc.CCI),
    ("willr", osc.willr, osc.WILLR),
    ("roc", osc.roc, osc.ROC),
    ("mom", osc.mom, osc.MOM),
    ("trange", volatility.trange, volatility.TRANGE),
    ("atr", volatility.atr, volatility.ATR),
    ("natr", volatility.natr, volatility.NATR),
    ("bbands", volatility.bbands, volatility.BBANDS),
    ("keltner", volatility.keltner, volatility.Keltner),
    ("donchian", volatility.donchian, volatility.Donchian),
    ("adx", trend.adx, trend.ADX),
    ("plus_di", trend.plus_di, trend.PlusDI),
    ("minus_di", trend.minus_di, trend.MinusDI),
    ("sar", trend.sar, trend.SAR),
    ("aroon", trend.aroon, trend.Aroon),
    ("supertrend", trend.supertrend, trend.Supertrend),
    ("ichimoku", trend.ichimoku, trend.Ichimoku),
    ("obv", volume.obv, volume.OBV),
    ("mfi", volume.mfi, volume.MFI),
    ("vwap", volume.vwap, volume.VWAP),
    ("rolling_vwap", volume.rolling_vwap, volume.RollingVWAP),
    ("stddev", stats.stddev, stats.StdDev),
    ("zscore", stats.zscore, stats.ZScore),
    ("linearreg_slope", stats.linearreg_slope, stats.LinearRegSlope),
]

REGISTRY: dict[str, RegistryEntry] = {
    name: RegistryEntry(function, streaming) for name, function, streaming in _BUILTINS
}


def _entry_from_plugin(entry_point: EntryPoint) -> RegistryEntry:
    where = f"indicator plugin entry point '{entry_point.name}' ({entry_point.value})"
    try:
        obj = entry_point.load()
    except Exception as exc:
        raise ConfigError(f"{where} failed to load: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(obj, tuple) and len(obj) == 2):
        raise ConfigError(
            f"{where} must be a (function, streaming class) pair, got {type(obj).__name__}"
        )
    function, streaming = obj
    if not callable(function):
        raise ConfigError(f"{where}: first item must be a function, got {function!r}")
    if not (isinstance(streaming, type) and issubclass(streaming, Indicator)):
        raise ConfigError(
            f"{where}: second item must be a subclass of ttquant.indicators.Indicator, "
            f"got {streaming!r}"
        )
    return RegistryEntry(function, streaming)


def load_plugins() -> list[str]:
    """Add the indicators of installed plugins to :data:`REGISTRY`; return the names added.

    Raises :class:`ConfigError` for a malformed entry or a name that is already registered, so a
    plugin cannot silently replace a built-in indicator. Loading twice is a no-op.
    """
    added = []
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        entry = _entry_from_plugin(entry_point)
        existing = REGISTRY.get(entry_point.name)
        if existing == entry:
            continue
        if existing is not None:
            raise ConfigError(
                f"indicator plugin entry point '{entry_point.name}' ({entry_point.value}) "
                f"clashes with an already registered indicator of that name"
            )
        REGISTRY[entry_point.name] = entry
        added.append(entry_point.name)
    return added
