"""Orders sent and cancels requested today, per instrument and per strategy and instrument.

Exchanges limit cancels per instrument and day (China futures: a few hundred per contract), and
market-abuse rules watch the share of orders canceled. What counts is a cancel *request* for an
order that was meant to rest: IOC and FOK orders end canceled by design and are not counted,
nor are the cancels the risk engine sends itself (kill switch) or the venue's own (OCO).
"""

from __future__ import annotations

from ttquant.core.time import NANOS_PER_DAY


class DailyActivity:
    __slots__ = ("_cancels", "_day", "_orders")

    def __init__(self) -> None:
        self._day = -1
        self._orders: dict[str | tuple[str, str], int] = {}
        self._cancels: dict[str | tuple[str, str], int] = {}

    def _roll(self, now_ns: int) -> None:
        day = now_ns // NANOS_PER_DAY
        if day != self._day:
            self._day = day
            self._orders.clear()
            self._cancels.clear()

    def order_sent(self, strategy_id: str, instrument_id: str, now_ns: int) -> None:
        self._roll(now_ns)
        for key in (instrument_id, (strategy_id, instrument_id)):
            self._orders[key] = self._orders.get(key, 0) + 1

    def cancel_sent(self, strategy_id: str, instrument_id: str, now_ns: int) -> None:
        self._roll(now_ns)
        for key in (instrument_id, (strategy_id, instrument_id)):
            self._cancels[key] = self._cancels.get(key, 0) + 1

    def counts(self, strategy_id: str | None, instrument_id: str, now_ns: int) -> tuple[int, int]:
        """(orders, cancels) today on the instrument: the account's, or one strategy's."""
        self._roll(now_ns)
        key: str | tuple[str, str] = (
            instrument_id if strategy_id is None else (strategy_id, instrument_id)
        )
        return self._orders.get(key, 0), self._cancels.get(key, 0)
