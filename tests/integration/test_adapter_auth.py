"""The test venue refuses bad credentials in each exchange's own shape; adapters say so clearly."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from tests.conftest import SHARED_DATA

from ttquant.core.errors import VenueError
from ttquant.testvenue import binance_venue, okx_venue
from ttquant.testvenue.instruments import BINANCE_SPOT_BTCUSDT, OKX_SPOT_BTCUSDT
from ttquant.venues.binance import BinanceAdapter, BinanceConfig
from ttquant.venues.binance.signing import signed_query
from ttquant.venues.okx import OkxAdapter, OkxConfig

pytestmark = pytest.mark.venue


def test_binance_refusals_use_binance_codes() -> None:
    async def main() -> None:
        venue = binance_venue(SHARED_DATA, api_key="k", api_secret="s")
        async with venue, httpx.AsyncClient(base_url=venue.url) as client:
            now = int((await client.get("/api/v3/time")).json()["serverTime"])
            good = signed_query({"symbol": "BTCUSDT"}, "s", now, 5000)
            bad_key = await client.get(f"/api/v3/openOrders?{good}", headers={"X-MBX-APIKEY": "x"})
            assert (bad_key.status_code, bad_key.json()["code"]) == (401, -2015)
            forged = signed_query({"symbol": "BTCUSDT"}, "wrong", now, 5000)
            bad_sig = await client.get(
                f"/api/v3/openOrders?{forged}", headers={"X-MBX-APIKEY": "k"}
            )
            assert (bad_sig.status_code, bad_sig.json()["code"]) == (400, -1022)
            old = signed_query({"symbol": "BTCUSDT"}, "s", now - 60_000, 5000)
            late = await client.get(f"/api/v3/openOrders?{old}", headers={"X-MBX-APIKEY": "k"})
            assert late.json() == {
                "code": -1021,
                "msg": "Timestamp for this request is outside of the recvWindow.",
            }
            ok = await client.get(f"/api/v3/openOrders?{good}", headers={"X-MBX-APIKEY": "k"})
            assert ok.status_code == 200 and ok.json() == []

    asyncio.run(main())


def test_binance_adapter_with_a_bad_key_fails_to_connect_with_the_venues_reason() -> None:
    async def main() -> None:
        async with binance_venue(SHARED_DATA, api_key="k", api_secret="s") as venue:
            cfg = BinanceConfig(
                api_key="wrong", api_secret="s", rest_url=venue.url, ws_url=venue.ws_url
            )
            adapter = BinanceAdapter(cfg, [BINANCE_SPOT_BTCUSDT])
            with pytest.raises(VenueError, match="-2015: Invalid API-key"):
                await adapter.connect()
            await adapter.disconnect()

    asyncio.run(main())


def test_okx_adapter_with_a_bad_passphrase_is_refused_at_login() -> None:
    async def main() -> None:
        async with okx_venue(SHARED_DATA, api_key="k", api_secret="s", passphrase="p") as venue:
            cfg = OkxConfig(
                api_key="k",
                api_secret="s",
                passphrase="wrong",
                rest_url=venue.url,
                ws_url=venue.ws_url,
            )
            adapter = OkxAdapter(cfg, [OKX_SPOT_BTCUSDT])
            with pytest.raises(VenueError, match="login refused: 60009 Login failed"):
                await adapter.connect()
            await adapter.disconnect()
            async with httpx.AsyncClient(base_url=venue.url) as client:
                answer = await client.get(
                    "/api/v5/account/balance", headers={"OK-ACCESS-KEY": "nope"}
                )
                assert (answer.status_code, answer.json()["code"]) == (401, "50111")

    asyncio.run(main())
