"""Binance error codes mapped onto ttquant's reject reasons.

Codes are Binance's documented ones (spot and futures share most); ``-2010`` and ``-1013`` are
umbrella codes whose message names the actual cause, so the message decides there.
"""

from __future__ import annotations

from ttquant.venues.reasons import LiveRejectReason as R

_BY_CODE: dict[int, str] = {
    -1003: R.RATE_LIMITED,  # too many requests
    -1015: R.RATE_LIMITED,  # too many new orders
    -1021: R.TIMESTAMP,  # timestamp outside recvWindow
    -1022: R.AUTHENTICATION,  # invalid signature
    -2014: R.AUTHENTICATION,  # API key format invalid
    -2015: R.AUTHENTICATION,  # invalid API key, IP or permissions
    -1121: R.UNKNOWN_INSTRUMENT,  # invalid symbol
    -1111: R.INVALID_QUANTITY,  # precision over the maximum defined for this asset
    -1100: R.VENUE_REJECTED,  # illegal characters in a parameter
    -2018: R.INSUFFICIENT_BALANCE,  # futures: balance insufficient
    -2019: R.INSUFFICIENT_MARGIN,  # futures: margin insufficient
    -2022: R.REDUCE_ONLY_WOULD_INCREASE,  # futures: ReduceOnly order rejected
    -4003: R.INVALID_QUANTITY,  # futures: quantity less than zero
    -4014: R.INVALID_PRICE,  # futures: price not increased by tick size
    -4023: R.INVALID_QUANTITY,  # futures: qty not increased by step size
    -4164: R.MIN_NOTIONAL,  # futures: notional below minimum
    -5022: R.POST_ONLY_WOULD_TAKE,  # futures: post-only (GTX) would take
    -4116: R.DUPLICATE_ORDER_ID,  # futures: clientOrderId is duplicated
}

_BY_MESSAGE: tuple[tuple[str, str], ...] = (
    ("insufficient balance", R.INSUFFICIENT_BALANCE),
    ("would immediately match and take", R.POST_ONLY_WOULD_TAKE),
    ("duplicate order sent", R.DUPLICATE_ORDER_ID),
    ("lot_size", R.INVALID_QUANTITY),
    ("market_lot_size", R.INVALID_QUANTITY),
    ("price_filter", R.INVALID_PRICE),
    ("percent_price", R.INVALID_PRICE),
    ("notional", R.MIN_NOTIONAL),
)

ORDER_DOES_NOT_EXIST = -2013  # a query's answer for an order the venue does not know


def reject_reason(code: int, message: str) -> str:
    reason = _BY_CODE.get(code)
    if reason is not None:
        return reason
    text = message.lower()
    for needle, mapped in _BY_MESSAGE:
        if needle in text:
            return mapped
    return R.VENUE_REJECTED
