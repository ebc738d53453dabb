"""Time in force (IOC, FOK, GTD, DAY) and the post-only and reduce-only flags."""

from __future__ import annotations

from typing import TypeVar

from _simkit import T0, Script, close_ts, open_ts, run

from ttquant.core.time import NANOS_PER_DAY, NANOS_PER_HOUR
from ttquant.model.enums import OrderStatus, TimeInForce
from ttquant.model.events import OrderCanceled, OrderEvent, OrderExpired
from ttquant.venues.sim.models import FillModel
from ttquant.venues.sim.venue import RejectReason

E = TypeVar("E", bound=OrderEvent)
FLAT = (100.0, 100.0, 100.0, 100.0)
IOC, FOK = TimeInForce.IOC, TimeInForce.FOK


def _event(st: Script, name: str, kind: type[E]) -> E:
    oid = st.placed[name].client_order_id
    (event,) = [e for e in st.events if isinstance(e, kind) and e.client_order_id == oid]
    return event


def test_ioc_limit_fills_within_the_next_bar() -> None:
    def act(s: Script) -> None:
        s.placed["ioc"] = s.buy(1.0, price=99.0, time_in_force=IOC)

    st = run([FLAT, (100.0, 100.5, 98.5, 99.5)], {0: act})
    assert st.fills("ioc")[0].last_px == 99.0
    assert st.status("ioc") is OrderStatus.FILLED


def test_ioc_limit_not_reached_is_canceled_after_the_next_bar() -> None:
    def act(s: Script) -> None:
        s.placed["ioc"] = s.buy(1.0, price=99.0, time_in_force=IOC)

    st = run([FLAT, (100.0, 101.0, 99.5, 100.0), (98.0, 98.0, 98.0, 98.0)], {0: act})
    assert st.fills() == []
    assert st.status("ioc") is OrderStatus.CANCELED
    assert _event(st, "ioc", OrderCanceled).ts_event == close_ts(1)


def test_ioc_takes_what_the_volume_limit_allows_and_cancels_the_rest() -> None:
    def act(s: Script) -> None:
        s.placed["ioc"] = s.buy(1.0, time_in_force=IOC)

    st = run(
        [FLAT, (100.0, 100.0, 100.0, 100.0, 5.0)], {0: act}, fill_model=FillModel(volume_limit=0.1)
    )
    assert [f.last_qty for f in st.fills("ioc")] == [0.5]
    assert st.status("ioc") is OrderStatus.CANCELED
    assert st.placed["ioc"].filled_qty == 0.5


def test_fok_that_cannot_fill_fully_is_canceled_with_nothing_filled() -> None:
    def act(s: Script) -> None:
        s.placed["fok"] = s.buy(1.0, time_in_force=FOK)

    st = run(
        [FLAT, (100.0, 100.0, 100.0, 100.0, 5.0), FLAT],
        {0: act},
        fill_model=FillModel(volume_limit=0.1),
    )
    assert st.fills() == []
    assert st.status("fok") is OrderStatus.CANCELED
    assert st.placed["fok"].filled_qty == 0.0


def test_fok_fills_completely_when_volume_allows() -> None:
    def act(s: Script) -> None:
        s.placed["fok"] = s.buy(1.0, time_in_force=FOK)

    st = run(
        [FLAT, (101.0, 101.0, 101.0, 101.0, 10.0)], {0: act}, fill_model=FillModel(volume_limit=0.1)
    )
    assert [(f.last_qty, f.last_px) for f in st.fills("fok")] == [(1.0, 101.0)]


def test_gtd_expires_before_the_bar_that_opens_at_its_expiry() -> None:
    def act(s: Script) -> None:
        s.placed["gtd"] = s.buy(
            1.0, price=99.0, time_in_force=TimeInForce.GTD, expire_ns=open_ts(2)
        )

    # bar 1 does not reach 99; bar 2 would, but the order has expired at its open
    st = run([FLAT, (100.0, 101.0, 99.5, 100.0), (98.0, 99.0, 97.0, 98.0)], {0: act})
    assert st.fills() == []
    assert st.status("gtd") is OrderStatus.EXPIRED
    assert _event(st, "gtd", OrderExpired).ts_event == open_ts(2)


def test_gtd_in_the_past_is_rejected() -> None:
    def act(s: Script) -> None:
        s.placed["gtd"] = s.buy(
            1.0, price=99.0, time_in_force=TimeInForce.GTD, expire_ns=close_ts(0)
        )

    st = run([FLAT, FLAT], {0: act})
    assert [r.reason for r in st.rejects()] == [RejectReason.EXPIRED]


def test_day_order_expires_at_the_utc_day_boundary() -> None:
    start = T0 + 22 * NANOS_PER_HOUR  # hourly bars: 22:00, 23:00, then 00:00 of the next day
    midnight = T0 + NANOS_PER_DAY

    def act(s: Script) -> None:  # at 23:00, the close of the 22:00 bar
        s.placed["day"] = s.buy(1.0, price=99.0, time_in_force=TimeInForce.DAY)

    bars = [FLAT, (100.0, 101.0, 99.5, 100.0), (98.0, 99.0, 97.0, 98.0)]
    st = run(bars, {0: act}, step=NANOS_PER_HOUR, start=start)
    assert st.fills() == []
    assert st.status("day") is OrderStatus.EXPIRED
    assert _event(st, "day", OrderExpired).ts_event == midnight


def test_post_only_rejected_when_marketable_and_maker_when_resting() -> None:
    def act(s: Script) -> None:
        s.placed["takes"] = s.buy(1.0, price=100.0, post_only=True)  # last 100: would take
        s.placed["rests"] = s.buy(1.0, price=99.0, post_only=True)

    st = run([FLAT, (99.5, 99.8, 98.5, 99.0)], {0: act})
    assert [(r.client_order_id, r.reason) for r in st.rejects()] == [
        (st.placed["takes"].client_order_id, RejectReason.POST_ONLY_WOULD_TAKE)
    ]
    assert st.fills("rests")[0].last_px == 99.0
    assert st.fills("rests")[0].liquidity_side.value == "MAKER"


def test_reduce_only_rejected_when_it_would_increase() -> None:
    def act(s: Script) -> None:
        s.placed["flat_sell"] = s.sell(1.0, reduce_only=True)

    def add(s: Script) -> None:
        s.placed["long_buy"] = s.buy(1.0, reduce_only=True)

    st = run([FLAT, FLAT, FLAT], {0: act, 1: lambda s: s.buy(1.0), 2: add})
    assert {r.client_order_id: r.reason for r in st.rejects()} == {
        st.placed["flat_sell"].client_order_id: RejectReason.REDUCE_ONLY_WOULD_INCREASE,
        st.placed["long_buy"].client_order_id: RejectReason.REDUCE_ONLY_WOULD_INCREASE,
    }


def test_reduce_only_is_clamped_at_fill_time_and_the_rest_canceled() -> None:
    def enter(s: Script) -> None:
        s.buy(1.0)

    def exit_(s: Script) -> None:
        s.placed["exit"] = s.sell(3.0, reduce_only=True)

    st = run([FLAT, FLAT, (101.0, 101.0, 101.0, 101.0), FLAT], {0: enter, 1: exit_})
    assert [(f.last_qty, f.last_px) for f in st.fills("exit")] == [(1.0, 101.0)]
    assert st.status("exit") is OrderStatus.CANCELED
    assert _event(st, "exit", OrderCanceled).ts_event == close_ts(2)
    assert st.position().is_flat
