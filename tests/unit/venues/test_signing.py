"""Request signatures, checked against Binance's documented example and ccxt's implementations."""

from __future__ import annotations

import json

import ccxt

from ttquant.venues.binance.signing import signature, signed_query
from ttquant.venues.okx.signing import iso_timestamp, login_args, sign

# Binance API documentation, "SIGNED endpoint examples for POST /api/v3/order"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_binance_signature_matches_the_documented_example() -> None:
    assert signature(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE


def test_binance_signed_query_puts_window_timestamp_and_signature_last() -> None:
    params = {
        "symbol": "LTCBTC",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "1",
        "price": "0.1",
    }
    assert (
        signed_query(params, DOC_SECRET, 1499827319559, 5000)
        == f"{DOC_QUERY}&signature={DOC_SIGNATURE}"
    )


def test_okx_rest_signature_equals_ccxt() -> None:
    exchange = ccxt.okx({"apiKey": "key", "secret": "secret", "password": "phrase"})
    exchange.nonce = lambda: 1607418537715
    body = {
        "instId": "BTC-USDT",
        "tdMode": "cash",
        "side": "buy",
        "ordType": "limit",
        "sz": "1",
        "px": "2",
        "clOrdId": "ttq1",
    }
    request = exchange.sign("trade/order", ["private"], "POST", dict(body))
    headers = request["headers"]
    stamp = headers["OK-ACCESS-TIMESTAMP"]
    assert stamp == iso_timestamp(1607418537715 * 1_000_000) == "2020-12-08T09:08:57.715Z"
    assert (
        sign("secret", stamp, "POST", "/api/v5/trade/order", request["body"])
        == headers["OK-ACCESS-SIGN"]
    )
    assert json.loads(request["body"]) == body


def test_okx_get_signature_covers_the_query_string() -> None:
    exchange = ccxt.okx({"apiKey": "key", "secret": "secret", "password": "phrase"})
    exchange.nonce = lambda: 1607418537715
    request = exchange.sign(
        "trade/order", ["private"], "GET", {"instId": "BTC-USDT", "clOrdId": "ttq1"}
    )
    path = request["url"].removeprefix("https://www.okx.com")
    assert (
        sign("secret", request["headers"]["OK-ACCESS-TIMESTAMP"], "GET", path)
        == request["headers"]["OK-ACCESS-SIGN"]
    )


def test_okx_login_signs_the_verify_path_with_seconds() -> None:
    args = login_args("key", "secret", "phrase", 1_607_418_537_715_000_000)
    assert args["timestamp"] == "1607418537"
    assert args["sign"] == sign("secret", "1607418537", "GET", "/users/self/verify")
    assert (args["apiKey"], args["passphrase"]) == ("key", "phrase")
