"""Crash recovery and reconciliation: the node's books made to agree with the venue's.

**Restore** (:func:`restore`) rebuilds what the node knew before it stopped: every order of the
run from the store (spec, then its events in the order they were applied), orders the journal
saw leave but the store had not yet committed, the positions of every strategy from the stored
fills, and the strategies' declared variables.

**Reconcile** (:class:`Reconciler`), on start and after every reconnect, before strategies act:

1. every order we hold open is looked up at the venue by the client id saved before it was sent;
   the adapter turns the answer into the events we missed (acceptance, fills back-filled by trade
   id, exactly once, and the final state). An order the journal never saw leave was never sent
   and is rejected; one the venue does not know is closed;
2. open orders at the venue that carry our client-id prefix but that we have no record of
   (orphans) are adopted as unattributed orders, and canceled if ``orphans = "cancel"``;
3. positions are compared: derivatives against the venue's position report, spot against the
   base currency balance the venue holds versus the first balance of the run plus our fills. A
   difference is handled per ``reconcile``: ``adopt`` books it to the unattributed owner,
   ``flatten`` books it and trades it away, ``pause`` stops new orders until resumed;
4. balances are taken from the venue.

Every action is recorded in the store (``risk_events``, kind ``reconcile.*``) and the
non-routine ones raise alerts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ttquant.engine.journal import Record, SentOrder, StrategyState
from ttquant.engine.persistence import StoredRun
from ttquant.execution.engine import ExecutionEngine
from ttquant.model.cache import Cache
from ttquant.model.enums import (
    InstrumentKind,
    LiquiditySide,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from ttquant.model.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    OrderSubmitted,
)
from ttquant.model.orders import Order
from ttquant.portfolio.portfolio import UNATTRIBUTED, Portfolio
from ttquant.risk.alerts import AlertLevel, AlertManager
from ttquant.venues.adapter import LiveAdapter, TrackedOrder
from ttquant.venues.reasons import LiveRejectReason
from ttquant.venues.reports import OrderReport
from ttquant.venues.sim.venue import SimulatedVenue

log = logging.getLogger(__name__)

_QTY_EPS = 1e-9
Action = Callable[[str, str, dict[str, Any]], None]  # kind, message, payload


@dataclass(slots=True)
class Restored:
    """What a restart recovered."""

    orders: int = 0
    open_orders: list[Order] = field(default_factory=list)
    fills: int = 0
    sends: dict[str, SentOrder] = field(default_factory=dict)  # client order id -> last send
    states: dict[str, dict[str, Any]] = field(default_factory=dict)  # strategy id -> variables


def restore(
    stored: StoredRun,
    journal: Iterable[Record],
    cache: Cache,
    execution: ExecutionEngine,
    portfolio: Portfolio,
) -> Restored:
    """Put the run's orders, fills and positions back into an empty kernel."""
    out = Restored()
    for record in journal:
        if isinstance(record, SentOrder):
            out.sends[record.client_order_id] = record
        elif isinstance(record, StrategyState):
            out.states[record.strategy_id] = dict(record.values)
    order_ids = list(stored.orders) + [c for c in out.sends if c not in stored.orders]
    for cid in order_ids:
        send = out.sends.get(cid)
        order = send.rebuild() if send is not None else _order_from_row(stored.orders[cid])
        events = stored.events.get(cid) or [
            OrderSubmitted(**order.event_ids(order.ts_init))  # journaled, sent, not yet stored
        ]
        for event in events:
            order.apply(event)
        cache.add_order(order)
        cache.order_updated(order)
        out.orders += 1
        if not order.is_closed:
            out.open_orders.append(order)
    for fill in stored.fills:
        execution.fills.append(fill)
        portfolio.on_fill(fill, cache.order(fill.client_order_id))
    out.fills = len(stored.fills)
    return out


def restore_paper_ledger(venue: SimulatedVenue, fills: Iterable[OrderFilled]) -> None:
    """Replay the run's fills into the paper venue's net positions and balances."""
    for fill in fills:
        inst = venue.engines[fill.instrument_id].instrument
        pos = venue.positions[inst.id]
        realized_before = pos.realized_pnl
        pos.apply_fill(fill)
        venue.account.apply_fill(
            inst,
            fill.side,
            fill.last_qty,
            fill.last_px,
            fill.commission,
            fill.commission_currency,
            pos.realized_pnl - realized_before,
        )


def _order_from_row(row: dict[str, Any]) -> Order:
    return Order(
        client_order_id=row["client_order_id"],
        strategy_id=row["strategy_id"],
        instrument_id=row["instrument_id"],
        side=OrderSide(row["side"]),
        order_type=OrderType(row["order_type"]),
        quantity=row["quantity"],
        price=row["price"],
        trigger_price=row["trigger_price"],
        time_in_force=TimeInForce(row["time_in_force"]),
        post_only=row["post_only"],
        reduce_only=row["reduce_only"],
        exit_reason=row["exit_reason"],
        tags=tuple(row["tags"]),
        ts_init=row["ts_init"],
    )


@dataclass(slots=True)
class Mismatch:
    instrument_id: str
    ours: float
    venue: float

    @property
    def difference(self) -> float:
        return self.venue - self.ours


class Reconciler:
    """Brings the kernel's orders, positions and balances in line with a live venue."""

    def __init__(
        self,
        *,
        adapter: LiveAdapter,
        cache: Cache,
        execution: ExecutionEngine,
        portfolio: Portfolio,
        emit: Callable[[object], None],
        idle: Callable[[], bool],
        alerts: AlertManager,
        record: Action,
        policy: str,
        orphans: str,
        baseline: Callable[[], dict[str, float]],
        submit_flatten: Callable[[Order], None],
    ) -> None:
        self.adapter = adapter
        self.cache = cache
        self.execution = execution
        self.portfolio = portfolio
        self.emit = emit  # into the kernel's inbox, like the adapter's own events
        self.idle = idle  # True when the kernel has handled everything queued
        self.alerts = alerts
        self.record = record
        self.policy = policy
        self.orphans = orphans
        self.baseline = baseline  # first balances of the run, per currency
        self.submit_flatten = submit_flatten
        self.sends: dict[str, SentOrder] = {}
        # commissions charged in an instrument's base currency (spot), over the whole run: the
        # node keeps only recent fills in memory
        self.base_fees: dict[str, float] = {}
        for fill in execution.fills:
            self.note_fill(fill)
        self.runs = 0
        self.paused_by_policy = ""
        self._adopt_seq = 0

    def note_send(self, send: SentOrder) -> None:
        self.sends[send.client_order_id] = send

    def note_fill(self, fill: OrderFilled) -> None:
        inst = self.cache.instruments.get(fill.instrument_id)
        if inst is not None and fill.commission_currency == inst.base:
            self.base_fees[fill.instrument_id] = (
                self.base_fees.get(fill.instrument_id, 0.0) + fill.commission
            )

    async def reconcile(self, restored_open: Iterable[Order] = ()) -> list[Mismatch]:
        """One full pass; returns the position mismatches found (already handled by policy)."""
        self.runs += 1
        started = time.time_ns()
        followed = [(o, t) for o in restored_open if (t := await self._follow(o)) is not None]
        tracks = [track for _, track in followed]
        for order, track in followed:
            report = await self.adapter.refresh(track, until_answered=True)
            if report is None and not track.done:
                self._close_unknown(order, track)
        await self._settle(tracks)
        await self._orphans()
        await self._settle([])
        mismatches = await self._confirmed_mismatches()
        for mismatch in mismatches:
            self._apply_policy(mismatch)
        await self._settle([])
        self.record(
            "reconcile.done",
            f"reconciliation #{self.runs} done in {(time.time_ns() - started) / 1e6:.0f} ms: "
            f"{len(tracks)} open orders checked, {len(mismatches)} position differences",
            {"orders": len(tracks), "mismatches": len(mismatches)},
        )
        return mismatches

    async def _follow(self, order: Order) -> TrackedOrder | None:
        """Track a restored open order at the venue, or close it when it never left."""
        if self.adapter.tracked(order.client_order_id) is not None:
            return self.adapter.tracked(order.client_order_id)
        send = self.sends.get(order.client_order_id)
        if send is None:
            now = time.time_ns()
            message = "no record of it being sent (the node stopped before it left)"
            self.emit(
                OrderRejected(
                    **order.event_ids(now), reason=LiveRejectReason.NOT_SENT, message=message
                )
            )
            self.record(
                "reconcile.never_sent",
                f"{order.client_order_id}: {message}",
                {"client_order_id": order.client_order_id},
            )
            return None
        return self.adapter.restore(order, send.venue_client_id)

    async def _confirmed_mismatches(self, checks: int = 3) -> list[Mismatch]:
        """Position differences that survive a refresh of every open order.

        While orders keep filling, the venue's balances may already count a fill whose report
        is still on its way: such a difference goes away once the open orders are refreshed. A
        real one stays the same; only those are returned.
        """
        seen: dict[str, float] = {}
        for attempt in range(checks):
            state = await self.adapter.account_state()
            self.emit(state)
            await self._settle([])
            found = await self._positions()
            if not found:
                return []
            stable = [
                m
                for m in found
                if abs(seen.get(m.instrument_id, math.inf) - m.difference) <= _QTY_EPS
            ]
            if attempt and len(stable) == len(found):
                return found
            seen = {m.instrument_id: m.difference for m in found}
            tracks = [
                t
                for o in self.cache.open_orders()
                if (t := self.adapter.tracked(o.client_order_id))
            ]
            for track in tracks:
                await self.adapter.refresh(track)
            await self._settle(tracks)
        return [
            m for m in found if abs(seen.get(m.instrument_id, math.inf) - m.difference) <= _QTY_EPS
        ]

    def _close_unknown(self, order: Order, track: TrackedOrder) -> None:
        """The venue has no such order: never received (killed mid-send) or long gone."""
        track.done = True
        now = time.time_ns()
        if order.status is OrderStatus.SUBMITTED:
            message = "the venue never received it (the node stopped while sending)"
            self.emit(
                OrderRejected(
                    **order.event_ids(now),
                    reason=LiveRejectReason.NOT_FOUND_AFTER_TIMEOUT,
                    message=message,
                )
            )
        else:
            message = "the venue no longer knows it: closed as canceled"
            self.emit(OrderCanceled(**order.event_ids(now)))
            self.alerts.alert(
                f"reconcile.unknown.{order.client_order_id}",
                AlertLevel.WARNING,
                f"{order.client_order_id}: {message}",
                source="reconciliation",
            )
        self.record(
            "reconcile.not_at_venue",
            f"{order.client_order_id}: {message}",
            {"client_order_id": order.client_order_id, "status": order.status.value},
        )

    async def _settle(self, tracks: list[TrackedOrder], timeout: float = 10.0) -> None:
        """Wait until back-fills finished and the kernel handled every event they produced."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = any(t.backfilling or t.pending_terminal is not None for t in tracks)
            if not busy and self.idle():
                await asyncio.sleep(0)
                if self.idle():
                    return
            await asyncio.sleep(0.01)
        log.warning("reconciliation: back-fills still running after %.0f s", timeout)

    async def _orphans(self) -> None:
        reports = await self.adapter.open_orders()
        for report in reports:
            if not self.adapter.client_ids.owns(report.venue_client_id):
                continue  # not ours: someone else's order on the account
            if self._known(report):
                continue
            order = self._adopt(report)
            action = "cancel" if self.orphans == "cancel" else "adopt"
            message = (
                f"orphan order {report.venue_client_id} ({report.side.value} "
                f"{report.quantity:g} {order.instrument_id}) adopted"
                + (" and canceled" if action == "cancel" else "")
            )
            self.record(
                f"reconcile.orphan_{action}",
                message,
                {
                    "venue_client_id": report.venue_client_id,
                    "venue_order_id": report.venue_order_id,
                },
            )
            self.alerts.alert(
                f"reconcile.orphan.{report.venue_client_id}",
                AlertLevel.WARNING,
                message,
                source="reconciliation",
            )
            if action == "cancel":
                await self._settle([])
                self.execution.cancel(order)

    def _known(self, report: OrderReport) -> bool:
        if any(s.venue_client_id == report.venue_client_id for s in self.sends.values()):
            return True
        order = self.cache.order(report.venue_client_id)
        return order is not None

    def _adopt(self, report: OrderReport) -> Order:
        """An orphan becomes an order of the unattributed owner, followed like ours."""
        iid = next(
            (i for i in self.adapter.instruments if self.adapter.symbol_of(i) == report.symbol),
            f"{report.symbol}@{self.adapter.name}",
        )
        order = Order(
            client_order_id=report.venue_client_id,
            strategy_id=UNATTRIBUTED,
            instrument_id=iid,
            side=report.side,
            order_type=report.order_type,
            quantity=report.quantity,
            price=report.price,
            ts_init=report.ts_event,
        )
        self.cache.add_order(order)
        now = time.time_ns()
        self.emit(OrderSubmitted(**order.event_ids(now)))
        self.emit(OrderAccepted(**order.event_ids(now, report.venue_order_id)))
        self.sends[order.client_order_id] = SentOrder.of(
            order, report.venue_client_id, self.adapter.name
        )
        track = self.adapter.restore(order, report.venue_client_id)
        track.accepted = True
        self.adapter.apply_report(report)
        return order

    async def _positions(self) -> list[Mismatch]:
        reported = {p.instrument_id: p.quantity for p in await self.adapter.positions()}
        account = self.portfolio.accounts.get(self.adapter.name)
        baseline = self.baseline()
        out = []
        for iid, inst in self.adapter.instruments.items():
            ours = self.portfolio.net_position(iid)
            if inst.kind is InstrumentKind.SPOT:
                if account is None or inst.base not in baseline:
                    continue
                held = account.balance(inst.base).total
                venue = held - baseline[inst.base] + self.base_fees.get(iid, 0.0)
            else:
                venue = reported.get(iid, 0.0)
            tolerance = max(inst.size_increment / 2.0, _QTY_EPS)
            if abs(venue - ours) > tolerance:
                out.append(Mismatch(iid, ours, venue))
        return out

    def _apply_policy(self, mismatch: Mismatch) -> None:
        iid = mismatch.instrument_id
        message = (
            f"{iid}: our position {mismatch.ours:.10g}, the venue's {mismatch.venue:.10g} "
            f"(difference {mismatch.difference:+.10g}); policy {self.policy}"
        )
        payload = {"instrument_id": iid, "ours": mismatch.ours, "venue": mismatch.venue}
        self.alerts.alert(
            f"reconcile.position.{iid}", AlertLevel.CRITICAL, message, source="reconciliation"
        )
        if self.policy == "pause":
            self.paused_by_policy = message
            self.record("reconcile.position_pause", message, payload)
            return
        fill = self._book_difference(mismatch)
        self.record("reconcile.position_adopt", message, {**payload, "trade_id": fill.trade_id})
        if self.policy == "flatten":
            order = Order(
                client_order_id=f"reconcile-flat-{fill.ts_event}",
                strategy_id=UNATTRIBUTED,
                instrument_id=iid,
                side=OrderSide.SELL if mismatch.difference > 0 else OrderSide.BUY,
                order_type=OrderType.MARKET,
                quantity=abs(mismatch.difference),
                exit_reason="reconcile",
                ts_init=fill.ts_event,
            )
            self.submit_flatten(order)
            self.record(
                "reconcile.position_flatten",
                f"{iid}: {order.side.value} {order.quantity:.10g} to flatten the difference",
                {**payload, "client_order_id": order.client_order_id},
            )

    def _book_difference(self, mismatch: Mismatch) -> OrderFilled:
        """A synthetic fill that moves the unattributed position by the difference."""
        iid = mismatch.instrument_id
        inst = self.cache.instrument(iid)
        price = self.cache.price(iid)
        if math.isnan(price):
            price = 0.0
        now = time.time_ns()
        self._adopt_seq += 1
        diff = mismatch.difference
        fill = OrderFilled(
            client_order_id=f"reconcile-{now}-{self._adopt_seq}",
            strategy_id=UNATTRIBUTED,
            instrument_id=iid,
            ts_event=now,
            ts_init=now,
            trade_id=f"reconcile-{now}-{self._adopt_seq}",
            side=OrderSide.BUY if diff > 0 else OrderSide.SELL,
            last_qty=abs(diff),
            last_px=price,
            commission=0.0,
            commission_currency=inst.settlement_currency,
            liquidity_side=LiquiditySide.TAKER,
        )
        self.emit(fill)
        return fill


def close_lost_paper_orders(orders: Iterable[Order], emit: Callable[[OrderEvent], None]) -> int:
    """Paper orders open at a crash died with the simulated venue that held them: cancel them."""
    count = 0
    now = time.time_ns()
    for order in orders:
        if order.status is not OrderStatus.INITIALIZED and not order.is_closed:
            emit(OrderCanceled(**order.event_ids(now)))
            count += 1
    return count
