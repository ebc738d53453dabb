"""What the open orders add up to, kept current event by event for O(1) pre-trade checks.

Every order event updates the order's *contribution*: whether it is open (sent and not yet
done), the quantity it may still add to a position (its leaves, unless it is reduce-only: a
venue clamps those to the position), its signature (for the duplicate check) and the price it
rests at (for self-trade prevention). The old contribution is subtracted and the new one added,
so the totals never drift from the orders themselves, whatever order the events come in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ttquant.model.enums import OrderSide, OrderStatus, OrderType

Signature = tuple[str, OrderSide, OrderType, float, float | None, float | None]

_CLOSED = frozenset(
    {
        OrderStatus.INITIALIZED,
        OrderStatus.DENIED,
        OrderStatus.REJECTED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
    }
)


class OrderLike(Protocol):
    """The fields of an order (or of an order as a modify would leave it) the checks read."""

    @property
    def client_order_id(self) -> str: ...
    @property
    def strategy_id(self) -> str: ...
    @property
    def instrument_id(self) -> str: ...
    @property
    def side(self) -> OrderSide: ...
    @property
    def order_type(self) -> OrderType: ...
    @property
    def quantity(self) -> float: ...
    @property
    def price(self) -> float | None: ...
    @property
    def trigger_price(self) -> float | None: ...
    @property
    def reduce_only(self) -> bool: ...
    @property
    def leaves_qty(self) -> float: ...


class TrackedOrder(OrderLike, Protocol):
    @property
    def status(self) -> OrderStatus: ...


def signature(order: OrderLike) -> Signature:
    """What makes two orders duplicates: same instrument, side, type, quantity and prices."""
    return (
        order.instrument_id,
        order.side,
        order.order_type,
        order.quantity,
        order.price,
        order.trigger_price,
    )


def resting_price(order: TrackedOrder) -> float | None:
    """The price an order rests at in the book: limits, and stop-limits once triggered."""
    if order.order_type is OrderType.LIMIT or (
        order.order_type is OrderType.STOP_LIMIT and order.status is OrderStatus.TRIGGERED
    ):
        return order.price
    return None


class _Entry:
    __slots__ = (
        "buy",
        "instrument_id",
        "pending",
        "price",
        "quantity",
        "rest",
        "sig",
        "strategy_id",
        "trigger",
    )

    def __init__(self, order: TrackedOrder, signatures: bool, resting: bool) -> None:
        self.strategy_id = order.strategy_id
        self.instrument_id = order.instrument_id
        self.buy = order.side is OrderSide.BUY
        self.pending = 0.0 if order.reduce_only else order.leaves_qty
        self.quantity = order.quantity
        self.price = order.price
        self.trigger = order.trigger_price
        self.sig = signature(order) if signatures else None
        self.rest = resting_price(order) if resting else None


class OrderTracker:
    """Open-order counts, same-side pending quantities, signatures and resting prices.

    Counts and pending quantities are always kept; signatures and resting prices only while a
    rule needs them (:meth:`track`), as they cost a third of each update.
    """

    def __init__(self) -> None:
        self.signatures = False
        self.resting = False
        self._reset()

    def _reset(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self.open_total = 0
        self.open_by_strategy: dict[str, int] = {}
        self.open_by_instrument: dict[str, int] = {}
        # (strategy, instrument) and instrument -> [buy, sell] leaves of non-reduce-only orders
        self._pending: dict[tuple[str, str], list[float]] = {}
        self._pending_account: dict[str, list[float]] = {}
        self._signatures: dict[str, dict[Signature, int]] = {}
        # (instrument, is buy, strategy or None for all) -> client order id -> resting price
        self._resting: dict[tuple[str, bool, str | None], dict[str, float]] = {}

    def track(self, *, signatures: bool, resting: bool, orders: Iterable[TrackedOrder]) -> None:
        """Keep signatures and resting prices, or not; start over from the open ``orders``."""
        self.signatures, self.resting = signatures, resting
        self.rebuild(orders)

    def rebuild(self, orders: Iterable[TrackedOrder]) -> None:
        """Start over from ``orders`` (when checks are switched on mid-run)."""
        self._reset()
        for order in orders:
            self.update(order)

    def update(self, order: TrackedOrder) -> None:
        """Take in ``order``'s current state (after any event about it)."""
        coid = order.client_order_id
        closed = order.status in _CLOSED
        old = self._entries.get(coid)
        if (  # most events (accepted, pending cancel) change nothing tracked
            old is not None
            and not closed
            and old.pending == (0.0 if order.reduce_only else order.leaves_qty)
            and old.quantity == order.quantity
            and old.price == order.price
            and old.trigger == order.trigger_price
            and (not self.resting or old.rest == resting_price(order))
        ):
            return
        if old is not None:
            del self._entries[coid]
            self._apply(coid, old, -1)
        if not closed:
            entry = _Entry(order, self.signatures, self.resting)
            self._entries[coid] = entry
            self._apply(coid, entry, 1)

    def _apply(self, coid: str, e: _Entry, k: int) -> None:
        sid, iid = e.strategy_id, e.instrument_id
        self.open_total += k
        self.open_by_strategy[sid] = self.open_by_strategy.get(sid, 0) + k
        self.open_by_instrument[iid] = self.open_by_instrument.get(iid, 0) + k
        if e.pending:
            side = 0 if e.buy else 1
            pair = self._pending.get((sid, iid))
            if pair is None:
                pair = self._pending[(sid, iid)] = [0.0, 0.0]
            pair[side] += k * e.pending
            total = self._pending_account.get(iid)
            if total is None:
                total = self._pending_account[iid] = [0.0, 0.0]
            total[side] += k * e.pending
        if e.sig is not None:
            sigs = self._signatures.get(sid)
            if sigs is None:
                sigs = self._signatures[sid] = {}
            count = sigs.get(e.sig, 0) + k
            if count:
                sigs[e.sig] = count
            else:
                del sigs[e.sig]
        if e.rest is not None:
            for key in ((iid, e.buy, None), (iid, e.buy, sid)):
                book = self._resting.get(key)
                if book is None:
                    book = self._resting[key] = {}
                if k > 0:
                    book[coid] = e.rest
                else:
                    del book[coid]

    # -- queries --------------------------------------------------------------------------------
    def is_open(self, client_order_id: str) -> bool:
        return client_order_id in self._entries

    def pending(
        self, strategy_id: str | None, instrument_id: str, side: OrderSide, exclude: str = ""
    ) -> float:
        """Leaves of open non-reduce-only orders on ``side`` (of one strategy, or of all)."""
        pair = (
            self._pending_account.get(instrument_id)
            if strategy_id is None
            else self._pending.get((strategy_id, instrument_id))
        )
        idx = 0 if side is OrderSide.BUY else 1
        total = 0.0 if pair is None else pair[idx]
        own = self._entries.get(exclude) if exclude else None
        if (
            own is not None
            and (strategy_id is None or own.strategy_id == strategy_id)
            and own.instrument_id == instrument_id
            and own.buy == (idx == 0)
        ):
            total -= own.pending
        return total if total > 1e-12 else 0.0

    def duplicates(self, order: OrderLike, exclude: str = "") -> int:
        """How many open orders of the same strategy have ``order``'s signature."""
        sigs = self._signatures.get(order.strategy_id)
        if not sigs:
            return 0
        sig = signature(order)
        count = sigs.get(sig, 0)
        own = self._entries.get(exclude) if exclude else None
        if own is not None and own.sig == sig and own.strategy_id == order.strategy_id:
            count -= 1
        return count

    def crossed_by(
        self,
        instrument_id: str,
        buy: bool,
        price: float | None,
        strategy_id: str | None,
        exclude: str = "",
    ) -> tuple[str, float] | None:
        """Our best resting order on the other side that ``price`` would trade with (None:
        a market order, which trades with any), as (client order id, its price).

        ``strategy_id`` limits the search to that strategy's orders.
        """
        book = self._resting.get((instrument_id, not buy, strategy_id))
        if book and exclude in book:  # a modify: the order itself is not in the way
            book = {coid: px for coid, px in book.items() if coid != exclude}
        if not book:
            return None
        best = min(book.values()) if buy else max(book.values())
        if price is not None and (price < best if buy else price > best):
            return None
        for coid, px in book.items():
            if px == best:
                return coid, px
        raise AssertionError("unreachable: the best price is in the book")
