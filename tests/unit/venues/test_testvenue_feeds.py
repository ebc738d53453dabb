"""Recorded feeds for the test venue: loading, and clear errors on bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec
import pytest
from tests.conftest import SHARED_DATA

from ttquant.core.errors import ConfigError, DataError
from ttquant.testvenue import binance_venue
from ttquant.testvenue.feeds import load_cryptofeed_binance, load_cryptofeed_okx, load_hftbacktest
from ttquant.venues.binance.messages import DepthSnapshot, DepthUpdate

FEEDS = SHARED_DATA / "raw_feeds" / "hftbacktest_binance"
CAPTURES = SHARED_DATA / "raw_messages" / "cryptofeed_captures"


def test_hftbacktest_replay_starts_with_the_diff_that_straddles_the_snapshot() -> None:
    recording = load_hftbacktest([FEEDS / "usdm_btcusdt_20240808.jsonl.gz"])
    assert list(recording.snapshots) == ["BTCUSDT"]
    last = msgspec.json.decode(recording.snapshots["BTCUSDT"], type=DepthSnapshot, strict=False)
    first = msgspec.json.decode(recording.records[0].payload, type=DepthUpdate, strict=False)
    assert first.first_id <= last.last_update_id <= first.last_id  # futures' rule
    channels = {r.channel for r in recording.records}
    assert channels == {"btcusdt@depth", "btcusdt@bookTicker", "btcusdt@trade"}


def test_cryptofeed_recordings_load() -> None:
    binance = load_cryptofeed_binance(
        CAPTURES / "BINANCE.ws.1.0.txt", CAPTURES / "BINANCE.http.0.0.txt"
    )
    assert set(binance.snapshots) == {"NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"}
    okx = load_cryptofeed_okx(CAPTURES / "OKX.ws.1.0.txt")
    assert okx.records[0].channel.startswith("books:") and okx.span_ns > 10**9


def test_missing_feed_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.jsonl\.gz does not exist"):
        load_hftbacktest([tmp_path / "nope.jsonl.gz"])


def test_malformed_feed_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'1 {"stream":"btcusdt@trade","data":{}}\n')
        handle.write(b"this is not a feed line\n")
    with pytest.raises(DataError, match=r"bad.jsonl.gz:2: not a '<ns> <json>' feed line"):
        load_hftbacktest([path])


def test_feed_without_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nosnap.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'1 {"stream":"btcusdt@trade","data":{"p":"1"}}\n')
    with pytest.raises(DataError, match="no depth snapshot"):
        load_hftbacktest([path])


def test_venue_factory_refuses_unknown_markets() -> None:
    with pytest.raises(ConfigError, match="'spot' or 'usdm'"):
        binance_venue(SHARED_DATA, market="coinm")
