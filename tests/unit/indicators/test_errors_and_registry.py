"""Bad input becomes ConfigError naming indicator and parameter; registry and plugin loading."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _cases import CASES

import ttquant.indicators as ti
from ttquant.core.errors import ConfigError
from ttquant.indicators import ENTRY_POINT_GROUP, REGISTRY, registry

X = np.linspace(1.0, 2.0, 50)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "14", None, True])
def test_bad_period_names_indicator_and_parameter(bad: Any) -> None:
    with pytest.raises(ConfigError, match=r"^RSI: parameter 'period' must be an integer >= 1"):
        ti.rsi(X, bad)
    with pytest.raises(ConfigError, match=r"^SMA: parameter 'period'"):
        ti.SMA(bad)


def test_every_indicator_rejects_a_zero_period() -> None:
    for case in CASES:
        if not case.args:
            continue
        args = (0, *case.args[1:])
        entry = REGISTRY[case.name]
        with pytest.raises(ConfigError, match="parameter"):
            entry.function(*([X] * len(case.inputs)), *args)
        with pytest.raises(ConfigError, match="parameter"):
            entry.streaming(*args)


def test_other_bad_parameters() -> None:
    with pytest.raises(ConfigError, match=r"MACD: parameter 'fast_period' \(26\) must be smaller"):
        ti.macd(X, 26, 12, 9)
    with pytest.raises(ConfigError, match=r"BBANDS: parameter 'nbdev_up' must be a positive"):
        ti.bbands(X, 20, -1.0)
    with pytest.raises(ConfigError, match=r"SAR: parameter 'maximum'"):
        ti.SAR(0.02, float("nan"))
    with pytest.raises(ConfigError, match=r"VWAP: parameter 'session_ns'"):
        ti.VWAP(session_ns=0)


def test_arrays_of_different_lengths() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^ATR: inputs must have the same length, got high=50, "
        r"low=49, close=50$",
    ):
        ti.atr(X, X[:-1], X)
    with pytest.raises(ConfigError, match="VWAP: inputs must have the same length"):
        ti.vwap(X, X, X, X, np.arange(10))


def test_inputs_that_are_not_numeric_1d_arrays() -> None:
    with pytest.raises(ConfigError, match=r"^SMA: input 'close' must be 1-D"):
        ti.sma(np.ones((3, 3)), 2)
    with pytest.raises(ConfigError, match=r"^EMA: input 'close' must be a 1-D array of numbers"):
        ti.ema(["a", "b"], 2)


def test_short_input_is_all_nan_not_an_error() -> None:
    assert np.isnan(ti.sma(X[:5], 20)).all()
    assert np.isnan(ti.macd(X[:5]).hist).all()
    assert ti.rsi(np.array([]), 14).shape == (0,)


def test_registry_lists_every_exported_pair() -> None:
    assert len(REGISTRY) == len(CASES)
    for name, entry in REGISTRY.items():
        assert entry.function is getattr(ti, name)
        assert issubclass(entry.streaming, ti.Indicator)


class _FakeEntryPoint:
    """Quacks like importlib.metadata.EntryPoint for what load_plugins uses."""

    def __init__(self, name: str, obj: Any) -> None:
        self.name = name
        self.value = f"plugin:{name}"
        self._obj = obj

    def load(self) -> Any:
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def _install(monkeypatch: pytest.MonkeyPatch, *eps: _FakeEntryPoint) -> None:
    def fake(group: str) -> tuple[_FakeEntryPoint, ...]:
        assert group == ENTRY_POINT_GROUP
        return eps

    monkeypatch.setattr(registry, "entry_points", fake)
    monkeypatch.setattr(registry, "REGISTRY", dict(REGISTRY))


def test_load_plugins_adds_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, _FakeEntryPoint("my_sma", (ti.sma, ti.SMA)))
    assert registry.load_plugins() == ["my_sma"]
    assert registry.REGISTRY["my_sma"] == (ti.sma, ti.SMA)
    assert registry.load_plugins() == []


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (ti.sma, "must be a \\(function, streaming class\\) pair"),
        ((1, ti.SMA), "first item must be a function"),
        ((ti.sma, int), "second item must be a subclass"),
        (ImportError("no module named plugin"), "failed to load: ImportError"),
    ],
)
def test_malformed_plugin_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, obj: Any, message: str
) -> None:
    _install(monkeypatch, _FakeEntryPoint("bad", obj))
    with pytest.raises(ConfigError, match=f"^indicator plugin entry point 'bad' .*{message}"):
        registry.load_plugins()


def test_plugin_cannot_replace_a_builtin(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, _FakeEntryPoint("sma", (ti.ema, ti.EMA)))
    with pytest.raises(ConfigError, match="clashes with an already registered indicator"):
        registry.load_plugins()


def test_ichimoku_shorter_than_its_displacement_is_all_nan() -> None:
    result = ti.ichimoku(X[:10], X[:10], 9, 26, 52)
    assert np.isnan(result.senkou_a).all() and not np.isnan(result.tenkan[8])
