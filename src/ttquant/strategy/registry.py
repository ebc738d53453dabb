"""Finding strategies by name: built-ins, installed plugins, or a user's file.

``--strategy sma_cross`` names a registered strategy; ``--strategy path/to/file.py:ClassName``
loads a class from a file. Plugins register through the ``ttquant.strategies`` entry-point group.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path

from ttquant.core.errors import ConfigError
from ttquant.strategy.strategy import Strategy

ENTRY_POINT_GROUP = "ttquant.strategies"


def builtin_strategies() -> dict[str, type[Strategy]]:
    from ttquant.strategy.library.ma_cross import EMACross, MACross, SMACross

    return {cls.name: cls for cls in (MACross, SMACross, EMACross)}


def available_strategies() -> dict[str, tuple[type[Strategy], str]]:
    """Name → (class, source) for built-ins and installed plugins."""
    found: dict[str, tuple[type[Strategy], str]] = {
        name: (cls, "built-in") for name, cls in builtin_strategies().items()
    }
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break the built-ins
            raise ConfigError(
                f"strategy plugin {ep.name!r} ({ep.value}) failed to load: {exc}"
            ) from exc
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise ConfigError(f"strategy plugin {ep.name!r} ({ep.value}) is not a Strategy class")
        found.setdefault(ep.name, (cls, ep.dist.name if ep.dist else "plugin"))
    return found


def load_strategy_class(spec: str) -> type[Strategy]:
    """The class named by ``spec``: a registered name or ``file.py:ClassName``."""
    if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
        return _load_from_file(*spec.rsplit(":", 1))
    strategies = available_strategies()
    if spec not in strategies:
        known = ", ".join(sorted(strategies))
        raise ConfigError(f"unknown strategy {spec!r} (known: {known}; or give file.py:ClassName)")
    return strategies[spec][0]


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
