"""Ready-made test venues over the recorded feeds in ``shared/data``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ttquant.core.errors import ConfigError
from ttquant.model.enums import AccountType
from ttquant.testvenue.binance import BinanceDialect
from ttquant.testvenue.exchange import Exchange
from ttquant.testvenue.feeds import Recording, load_cryptofeed_okx, load_hftbacktest
from ttquant.testvenue.instruments import (
    BINANCE_SPOT_BTCUSDT,
    BINANCE_USDM_BTCUSDT,
    OKX_SPOT_BTCUSDT,
)
from ttquant.testvenue.okx import OkxDialect
from ttquant.testvenue.server import TestVenue

_BINANCE_FEEDS = {
    "spot": ("spot_btcusdt_20240808.jsonl.gz", "spot_btcusdt_20240809.jsonl.gz"),
    "usdm": ("usdm_btcusdt_20240808.jsonl.gz",),
}


@lru_cache(maxsize=4)
def _binance_recording(paths: tuple[Path, ...]) -> Recording:
    return load_hftbacktest(list(paths))


@lru_cache(maxsize=2)
def _okx_recording(path: Path) -> Recording:
    return load_cryptofeed_okx(path)


def binance_venue(
    data_dir: Path,
    *,
    market: str = "spot",
    api_key: str = "test-key",
    api_secret: str = "test-secret",
    speed: float = 1.0,
    balances: dict[str, float] | None = None,
    port: int = 0,
) -> TestVenue:
    """Binance spot or USDⓈ-M BTCUSDT, replaying hftbacktest's August 2024 capture."""
    if market not in _BINANCE_FEEDS:
        raise ConfigError(f"binance test venue market must be 'spot' or 'usdm', got {market!r}")
    folder = data_dir / "raw_feeds" / "hftbacktest_binance"
    recording = _binance_recording(tuple(folder / name for name in _BINANCE_FEEDS[market]))
    futures = market == "usdm"
    inst = BINANCE_USDM_BTCUSDT if futures else BINANCE_SPOT_BTCUSDT
    exchange = Exchange(
        inst.venue,
        {"BTCUSDT": inst},
        account_type=AccountType.MARGIN if futures else AccountType.CASH,
        balances=balances
        or ({"USDT": 1_000_000.0} if futures else {"USDT": 1_000_000.0, "BTC": 10.0}),
    )
    dialect = BinanceDialect(
        exchange, recording, market=market, api_key=api_key, api_secret=api_secret
    )
    return TestVenue(dialect, recording, port=port, speed=speed)


def okx_venue(
    data_dir: Path,
    *,
    api_key: str = "test-key",
    api_secret: str = "test-secret",
    passphrase: str = "test-pass",
    speed: float = 1.0,
    balances: dict[str, float] | None = None,
    port: int = 0,
) -> TestVenue:
    """OKX v5 with BTC-USDT spot trading, replaying cryptofeed's May 2022 capture in a loop."""
    recording = _okx_recording(data_dir / "raw_messages" / "cryptofeed_captures" / "OKX.ws.1.0.txt")
    exchange = Exchange(
        "OKX",
        {"BTC-USDT": OKX_SPOT_BTCUSDT},
        account_type=AccountType.CASH,
        balances=balances or {"USDT": 1_000_000.0, "BTC": 10.0},
    )
    dialect = OkxDialect(exchange, api_key=api_key, api_secret=api_secret, passphrase=passphrase)
    return TestVenue(dialect, recording, port=port, speed=speed, loop_feed=True)
