"""OKX error codes (``code`` / ``sCode``) mapped onto ttquant's reject reasons."""

from __future__ import annotations

from ttquant.venues.reasons import LiveRejectReason as R

_BY_CODE: dict[str, str] = {
    "50011": R.RATE_LIMITED,  # request too frequent
    "50102": R.TIMESTAMP,  # timestamp request expired
    "50105": R.AUTHENTICATION,  # passphrase incorrect
    "50111": R.AUTHENTICATION,  # invalid OK-ACCESS-KEY
    "50113": R.AUTHENTICATION,  # invalid signature
    "50114": R.AUTHENTICATION,  # invalid authorization
    "51001": R.UNKNOWN_INSTRUMENT,  # instrument ID does not exist
    "51006": R.INVALID_PRICE,  # order price out of the limit
    "51008": R.INSUFFICIENT_BALANCE,  # insufficient balance or margin
    "51119": R.INSUFFICIENT_BALANCE,
    "51131": R.INSUFFICIENT_BALANCE,
    "51016": R.DUPLICATE_ORDER_ID,  # duplicated client order ID
    "51020": R.MIN_NOTIONAL,  # order amount below the minimum
    "51120": R.INVALID_QUANTITY,  # quantity below the minimum
    "51121": R.INVALID_QUANTITY,  # not a multiple of the lot size
}

ORDER_NOT_FOUND = "51603"
# cancelSource of a post-only order canceled because it would have taken liquidity
POST_ONLY_CANCEL_SOURCE = "31"


def reject_reason(code: str) -> str:
    return _BY_CODE.get(code, R.VENUE_REJECTED)
