"""The venues a node trades through, built from its config: an exchange adapter, and for paper
trading the simulated venue that fills orders against the adapter's live prices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.engine.node_config import NodeConfig
from ttquant.model.cache import Cache
from ttquant.model.enums import AccountType
from ttquant.model.instruments import Instrument
from ttquant.venues.adapter import AdapterConfig, LiveAdapter
from ttquant.venues.reports import SendRecord
from ttquant.venues.sim.models import FeeModel, FillModel
from ttquant.venues.sim.venue import SimulatedVenue

_CREDENTIALS = ("api_key", "api_secret", "passphrase")
_SECRET_WORDS = ("secret", "key", "passphrase", "password", "token")


def adapter_config(
    config: NodeConfig, cls: type[AdapterConfig], market_data_only: bool = False
) -> AdapterConfig:
    """The exchange config class filled from ``[venue]``; an unknown key is an error."""
    settings = {k: v for k, v in config.venue.items() if k not in ("exchange", "name")}
    if market_data_only or config.node.mode == "paper":  # no trading keys where none are needed
        settings = {k: v for k, v in settings.items() if k not in _CREDENTIALS}
    known = set(cls.__struct_fields__)
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(
            f"venue.{unknown[0]}: not a setting of the {config.exchange} adapter "
            f"(settings: {', '.join(sorted(known))})"
        )
    try:
        return msgspec.convert(settings, cls)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"venue: {exc}") from None


def build_adapter(
    config: NodeConfig,
    instruments: list[Instrument],
    *,
    save_before_send: Callable[[SendRecord], None] | None = None,
    market_data_only: bool = False,
) -> LiveAdapter:
    """The exchange adapter named by ``venue.exchange`` (imported only when used)."""
    exchange = config.exchange
    kwargs: dict[str, Any] = {"name": config.venue_name, "save_before_send": save_before_send}
    if exchange == "binance":
        from ttquant.venues.binance import BinanceAdapter, BinanceConfig

        cfg = adapter_config(config, BinanceConfig, market_data_only)
        assert isinstance(cfg, BinanceConfig)
        return BinanceAdapter(cfg, instruments, **kwargs)
    if exchange == "okx":
        from ttquant.venues.okx import OkxAdapter, OkxConfig

        ocfg = adapter_config(config, OkxConfig, market_data_only)
        assert isinstance(ocfg, OkxConfig)
        return OkxAdapter(ocfg, instruments, **kwargs)
    from ttquant.venues.ccxt import CcxtAdapter, CcxtConfig

    ccfg = adapter_config(config, CcxtConfig, market_data_only)
    assert isinstance(ccfg, CcxtConfig)
    return CcxtAdapter(ccfg, instruments, **kwargs)


def build_paper_venue(config: NodeConfig, cache: Cache) -> SimulatedVenue:
    """The simulated venue of paper mode, named like the exchange so instrument ids match."""
    paper = config.paper
    balances = dict(paper.balances)
    balances.setdefault(paper.base_currency, 0.0)
    return SimulatedVenue(
        config.venue_name,
        cache,
        account_type=AccountType.CASH if paper.account == "cash" else AccountType.MARGIN,
        base_currency=paper.base_currency,
        starting_balances=balances,
        leverage=paper.leverage,
        fill_model=FillModel(volume_limit=paper.volume_limit),
        fee_model=FeeModel(),
    )


def redacted(value: Any, path: str = "") -> Any:
    """``value`` with secrets (API keys, passphrases) replaced, for logs and messages."""
    if any(word in path.lower() for word in _SECRET_WORDS) and value:
        return "***"
    return value
