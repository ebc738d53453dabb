"""The trading node's configuration: one TOML file for paper and live, split processes included.

```toml
[node]
name = "demo"                 # names the records, the journal folder and nothing else
mode = "paper"                # or "live"; ``ttq node run --mode`` overrides it
on_stop = "cancel"            # open orders at a graceful stop: cancel | keep
on_strategy_error = "cancel"  # a failed strategy's open orders: cancel | keep | flatten
reconcile = "adopt"           # a position the venue disagrees with: adopt | flatten | pause
orphans = "cancel"            # open orders with our client-id prefix we have no record of

[venue]                       # the exchange: its market data in both modes, its orders live
exchange = "binance"          # binance | okx | ccxt; every other key is the adapter's setting
market = "spot"
api_key = "..."

[paper]                       # the simulated venue that fills paper orders
account = "cash"
balances = { USDT = 100000, BTC = 1 }

[[instruments]]
symbol = "BTC/USDT"
price_increment = 0.01
size_increment = 0.00001
data = ["quotes", "trades"]   # what the node subscribes to

[[strategies]]                # as in a backtest config
name = "my_strategy.py:Maker"
params = { size = 0.001 }

[risk]                        # as in a backtest config; reloadable
```

A changed file is validated whole before anything is applied (:func:`reload_plan`): strategy
parameters, strategies added or removed, risk limits and the node's policies apply at once;
anything else (venue, instruments, store, mode...) needs a restart and is refused with a message
naming the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.engine.config import StrategyConfig
from ttquant.model.instruments import Instrument, instrument_from_symbol
from ttquant.risk.config import RiskConfig, validate_risk

Mode = Literal["paper", "live"]
DataKind = Literal["quotes", "trades", "book"]  # and "bars_<step>"


class NodeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: str = "node"
    mode: Mode = "paper"
    store: str = ""  # records store URL; default: the user's store (paper: its own file)
    state_dir: str = ""  # journal folder; default: <data home>/nodes/<name>-<mode>
    on_stop: Literal["cancel", "keep"] = "cancel"
    on_strategy_error: Literal["cancel", "keep", "flatten"] = "cancel"
    reconcile: Literal["adopt", "flatten", "pause"] = "adopt"
    orphans: Literal["adopt", "cancel"] = "cancel"
    watch_config: bool = True
    reload_interval: float = 1.0  # seconds between checks of the config file
    flush_interval: float = 0.2  # store writer: seconds between commits
    stop_timeout: float = 5.0  # graceful stop: wait this long for cancels to be confirmed


class PaperSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    account: Literal["cash", "margin"] = "cash"
    base_currency: str = "USDT"
    balances: dict[str, float] = msgspec.field(default_factory=lambda: {"USDT": 100_000.0})
    leverage: float = 1.0
    volume_limit: float | None = 1.0  # a trade fills resting orders up to its own size


class InstrumentSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    symbol: str
    price_increment: float
    size_increment: float
    min_quantity: float = 0.0
    min_notional: float = 0.0
    multiplier: float = 1.0
    maker_fee: float = 0.0
    taker_fee: float = 0.0
    data: list[str] = msgspec.field(default_factory=lambda: ["quotes", "trades"])


class RecorderSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    catalog: str = ""  # empty: no recording
    flush_interval: float = 1.0  # seconds between spool flushes (what a crash can lose)


class IpcSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    market_data: str = "tcp://127.0.0.1:5601"  # md PUB -> strategy/gateway SUB
    orders: str = "tcp://127.0.0.1:5602"  # strategy PUSH -> gateway PULL
    returns: str = "tcp://127.0.0.1:5603"  # gateway PUB -> strategy SUB (order/fill returns)
    shm: str = ""  # shared-memory price snapshot name; default ttq-<name>-prices
    shm_slots: int = 64


class NodeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    node: NodeSettings = msgspec.field(default_factory=NodeSettings)
    venue: dict[str, Any] = msgspec.field(default_factory=dict)
    paper: PaperSettings = msgspec.field(default_factory=PaperSettings)
    instruments: list[InstrumentSettings] = msgspec.field(default_factory=list)
    strategies: list[StrategyConfig] = msgspec.field(default_factory=list)
    risk: RiskConfig | None = None
    recorder: RecorderSettings = msgspec.field(default_factory=RecorderSettings)
    ipc: IpcSettings = msgspec.field(default_factory=IpcSettings)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

    @property
    def exchange(self) -> str:
        return str(self.venue.get("exchange", ""))

    @property
    def venue_name(self) -> str:
        """The venue part of instrument ids: the adapter's name for the exchange and market."""
        explicit = str(self.venue.get("name", "")).upper()
        if explicit:
            return explicit
        if self.exchange == "binance":
            return "BINANCEUSDM" if self.venue.get("market") == "usdm" else "BINANCE"
        return self.exchange.upper()

    def strategy_ids(self) -> list[str]:
        return [s.id or s.name for s in self.strategies]

    def build_instruments(self) -> list[Instrument]:
        venue = self.venue_name
        return [
            instrument_from_symbol(
                spec.symbol,
                venue,
                price_increment=spec.price_increment,
                size_increment=spec.size_increment,
                min_quantity=spec.min_quantity,
                min_notional=spec.min_notional,
                multiplier=spec.multiplier,
                maker_fee=spec.maker_fee,
                taker_fee=spec.taker_fee,
            )
            for spec in self.instruments
        ]


_EXCHANGES = ("binance", "okx", "ccxt")
_DATA_PREFIX_BARS = "bars_"


def load_node_config(path: str | Path, mode: str | None = None) -> NodeConfig:
    """Read and validate a node config; ``mode`` overrides ``[node] mode``."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file ({exc.strerror})") from None
    return parse_node_config(raw, str(p), mode)


def parse_node_config(raw: bytes, where: str, mode: str | None = None) -> NodeConfig:
    try:
        config = msgspec.toml.decode(raw, type=NodeConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from None
    if mode is not None:
        if mode not in ("paper", "live"):
            raise ConfigError(f"--mode must be paper or live, got {mode!r}")
        config.node.mode = mode  # type: ignore[assignment]  # checked just above
    validate_node_config(config, where)
    if config.risk is not None:  # instrument keys without a venue are on the node's venue
        venue = config.venue_name
        instruments = {
            (iid if "@" in iid else f"{iid}@{venue}"): limits
            for iid, limits in config.risk.instruments.items()
        }
        config.risk = msgspec.structs.replace(config.risk, instruments=instruments)
    return config


def validate_node_config(config: NodeConfig, where: str) -> None:
    """Raise :class:`ConfigError` naming the first invalid value; called before any change."""
    node = config.node
    if not (node.name.replace("-", "").replace("_", "").isalnum() and node.name.isascii()):
        raise ConfigError(f"{where}: node.name {node.name!r} must be letters, digits, - or _")
    for field in ("reload_interval", "flush_interval", "stop_timeout"):
        value = getattr(node, field)
        if not (math.isfinite(value) and value > 0):
            raise ConfigError(f"{where}: node.{field} must be a positive number, got {value}")
    if config.exchange not in _EXCHANGES:
        raise ConfigError(
            f"{where}: venue.exchange must be one of {', '.join(_EXCHANGES)}, "
            f"got {config.exchange or 'nothing'!r}"
        )
    if not config.instruments:
        raise ConfigError(f"{where}: no [[instruments]]: the node needs at least one to trade")
    try:
        instruments = config.build_instruments()
    except Exception as exc:  # InstrumentError and friends: one line naming the table
        raise ConfigError(f"{where}: instruments: {exc}") from None
    ids = [i.id for i in instruments]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: an instrument is listed twice ({', '.join(ids)})")
    for spec in config.instruments:
        for kind in spec.data:
            _check_data_kind(kind, f"{where}: instruments {spec.symbol!r} data")
    paper = config.paper
    if not (math.isfinite(paper.leverage) and paper.leverage > 0):
        raise ConfigError(f"{where}: paper.leverage must be positive, got {paper.leverage}")
    for ccy, amount in paper.balances.items():
        if not (math.isfinite(amount) and amount >= 0):
            raise ConfigError(f"{where}: paper.balances.{ccy} must be >= 0, got {amount}")
    sids = config.strategy_ids()
    if len(set(sids)) != len(sids):
        dup = next(s for s in sids if sids.count(s) > 1)
        raise ConfigError(f"{where}: strategy id {dup!r} is used twice: give each an id")
    if config.risk is not None:
        validate_risk(config.risk)
        unknown = sorted(set(config.risk.strategies) - set(sids))
        if unknown:
            raise ConfigError(
                f"{where}: risk.strategies: no strategy {unknown[0]!r} in [[strategies]]"
            )
    if config.recorder.flush_interval <= 0:
        raise ConfigError(f"{where}: recorder.flush_interval must be positive")
    if not 1 <= config.ipc.shm_slots <= 4096:
        raise ConfigError(f"{where}: ipc.shm_slots must be within 1..4096")


def _check_data_kind(kind: str, where: str) -> None:
    if kind in ("quotes", "trades", "book"):
        return
    if kind.startswith(_DATA_PREFIX_BARS):
        from ttquant.model.data import parse_step

        parse_step(kind.removeprefix(_DATA_PREFIX_BARS))
        return
    raise ConfigError(f"{where}: {kind!r} is not quotes, trades, book or bars_<step> (bars_1m)")


# -- hot reload -----------------------------------------------------------------------------------

# top-level fields applied while running; every other difference needs a restart
_RELOADABLE_NODE = frozenset(
    {"on_stop", "on_strategy_error", "reconcile", "orphans", "watch_config", "reload_interval"}
)


class StrategyChange(msgspec.Struct, frozen=True, kw_only=True):
    strategy_id: str
    action: Literal["add", "remove", "reload"]
    config: StrategyConfig | None  # the new config (None for remove)


class ReloadPlan(msgspec.Struct, frozen=True, kw_only=True):
    """What a changed config file would change: applied whole, or refused whole."""

    differences: list[tuple[str, Any, Any]]  # (dotted path, old, new)
    strategies: list[StrategyChange]
    risk_changed: bool
    node_changed: bool
    refused: list[str]  # restart-only paths that changed

    @property
    def empty(self) -> bool:
        return not self.differences


def reload_plan(old: NodeConfig, new: NodeConfig) -> ReloadPlan:
    """Compare two validated configs and sort every difference into reloadable or refused."""
    before, after = old.to_dict(), new.to_dict()
    differences: list[tuple[str, Any, Any]] = []
    refused: list[str] = []
    node_changed = False
    for key in sorted(set(before) | set(after)):
        if key in ("strategies", "risk"):
            continue
        diffs = _differences(before.get(key), after.get(key), key)
        if key == "node":
            for path, _a, _b in diffs:
                field = path.split(".", 2)[1]
                if field in _RELOADABLE_NODE:
                    node_changed = True
                else:
                    refused.append(path)
        else:
            refused.extend(path for path, _, _ in diffs)
        differences.extend(diffs)
    risk_diffs = _differences(before.get("risk"), after.get("risk"), "risk")
    differences.extend(risk_diffs)
    old_strats = {s.id or s.name: s for s in old.strategies}
    new_strats = {s.id or s.name: s for s in new.strategies}
    changes: list[StrategyChange] = []
    for sid, cfg in new_strats.items():
        prior = old_strats.get(sid)
        if prior is None:
            changes.append(StrategyChange(strategy_id=sid, action="add", config=cfg))
            differences.append((f"strategies.{sid}", None, msgspec.to_builtins(cfg)))
            continue
        diffs = _differences(
            msgspec.to_builtins(prior), msgspec.to_builtins(cfg), f"strategies.{sid}"
        )
        if diffs:
            changes.append(StrategyChange(strategy_id=sid, action="reload", config=cfg))
            differences.extend(diffs)
    for sid, prior in old_strats.items():
        if sid not in new_strats:
            changes.append(StrategyChange(strategy_id=sid, action="remove", config=None))
            differences.append((f"strategies.{sid}", msgspec.to_builtins(prior), None))
    return ReloadPlan(
        differences=differences,
        strategies=changes,
        risk_changed=bool(risk_diffs),
        node_changed=node_changed,
        refused=refused,
    )


def _differences(a: Any, b: Any, path: str) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            out.extend(_differences(a.get(key), b.get(key), f"{path}.{key}"))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(_differences(x, y, f"{path}[{i}]"))
    elif a != b:
        out.append((path, a, b))
    return out
