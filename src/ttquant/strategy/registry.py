"""Finding strategies by name: built-ins, installed plugins, or a user's file.

``--strategy sma_cross`` names a registered strategy; ``--strategy path/to/file.py:ClassName``
loads a class from a file. Plugins register through the ``ttquant.strategies`` entry-point group.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from ttquant.core.errors import ConfigError
from ttquant.strategy.strategy import Strategy

ENTRY_POINT_GROUP = "ttquant.strategies"


def builtin_strategies() -> dict[str, type[Strategy]]:
    from ttquant.strategy.library.bollinger import BollingerReversion
    from ttquant.strategy.library.breakout import Breakout
    from ttquant.strategy.library.dca import DCA
    from ttquant.strategy.library.grid import Grid
    from ttquant.strategy.library.ma_cross import EMACross, MACross, SMACross
    from ttquant.strategy.library.macd_cross import MACDCross
    from ttquant.strategy.library.pairs import Pairs
    from ttquant.strategy.library.rsi_reversion import RSIReversion
    from ttquant.strategy.library.turtle import Turtle

    classes: tuple[type[Strategy], ...] = (
        MACross,
        SMACross,
        EMACross,
        Breakout,
        RSIReversion,
        MACDCross,
        BollingerReversion,
        Turtle,
        Grid,
        DCA,
        Pairs,
    )
    return {cls.name: cls for cls in classes}


def available_strategies(
    errors: dict[str, str] | None = None,
) -> dict[str, tuple[type[Strategy], str]]:
    """Name → (class, source) for built-ins and installed plugins.

    A plugin that fails to load is left out (and described in ``errors`` when given): one
    broken package must not hide every other strategy.
    """
    found: dict[str, tuple[type[Strategy], str]] = {
        name: (cls, "built-in") for name, cls in builtin_strategies().items()
    }
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        try:
            found[ep.name] = (_load_plugin(ep), ep.dist.name if ep.dist else "plugin")
        except ConfigError as exc:
            if errors is not None:
                errors[ep.name] = str(exc)
    return found


def _load_plugin(ep: EntryPoint) -> type[Strategy]:
    try:
        cls = ep.load()
    except Exception as exc:  # the plugin's own error, reported as a one-line message
        raise ConfigError(
            f"strategy plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError(f"strategy plugin {ep.name!r} ({ep.value}) is not a Strategy class")
    return cls


def load_strategy_class(spec: str) -> type[Strategy]:
    """The class named by ``spec``: a registered name or ``file.py:ClassName``."""
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        return _load_from_file(*spec.rsplit(":", 1))
    builtins = builtin_strategies()
    if spec in builtins:
        return builtins[spec]
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=spec):
        return _load_plugin(ep)
    known = ", ".join(sorted(available_strategies()))
    raise ConfigError(f"unknown strategy {spec!r} (known: {known}; or give file.py:ClassName)")


def _load_from_file(path_text: str, class_name: str) -> type[Strategy]:
    path = Path(path_text)
    if not path.is_file():
        raise ConfigError(f"strategy file {path} does not exist")
    module_name = f"ttquant_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"strategy file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)  # the user's code: its own errors surface with traceback
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"strategy file {path} has no class {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ConfigError(f"{path}:{class_name} is not a subclass of ttquant Strategy")
    return cls
