"""The write-ahead journal: what a crash leaves is read back up to the last whole record."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ttquant.engine.journal import Journal, SentOrder, StrategyState, read_journal
from ttquant.model.enums import OrderSide, OrderType
from ttquant.model.orders import Order


def _order(n: int) -> Order:
    return Order(
        client_order_id=f"s-{n}",
        strategy_id="s",
        instrument_id="BTC/USDT@BINANCE",
        side=OrderSide.BUY if n % 2 else OrderSide.SELL,
        order_type=OrderType.LIMIT,
        quantity=0.001 * (n + 1),
        price=60_000.0 + n,
        tags=("a", "b"),
        ts_init=1_000 + n,
    )


def _records(n: int) -> list[SentOrder | StrategyState]:
    out: list[SentOrder | StrategyState] = []
    for i in range(n):
        out.append(SentOrder.of(_order(i), f"ttq{i}", "BINANCE"))
        out.append(StrategyState(strategy_id="s", values={"count": i, "name": "x"}, ts=i))
    return out


def test_records_round_trip_and_rebuild_the_order(tmp_path: Path) -> None:
    path = tmp_path / "node.journal"
    journal = Journal(path)
    for record in _records(3):
        journal.append(record)
    journal.close()
    again = read_journal(path)
    assert again == _records(3)
    sent = again[0]
    assert isinstance(sent, SentOrder)
    rebuilt = sent.rebuild()
    original = _order(0)
    for name in ("client_order_id", "side", "order_type", "quantity", "price", "tags", "ts_init"):
        assert getattr(rebuilt, name) == getattr(original, name)


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=2_000))
def test_a_torn_tail_is_cut_and_everything_before_it_kept(
    tmp_path_factory: object, cut: int
) -> None:
    folder: Path = tmp_path_factory.mktemp("j")  # type: ignore[attr-defined]
    path = folder / "node.journal"
    journal = Journal(path)
    records = _records(6)
    sizes = []
    for record in records:
        journal.append(record)
        sizes.append(path.stat().st_size)
    journal.close()
    data = path.read_bytes()
    cut = min(cut, len(data))
    path.write_bytes(data[:cut])  # the crash happened here
    whole = sum(1 for size in sizes if size <= cut)
    reopened = Journal(path)  # repairs
    assert reopened.recovered == records[:whole]
    assert path.stat().st_size == (sizes[whole - 1] if whole else 0)
    reopened.append(records[0])  # appends after the repaired end
    reopened.close()
    assert read_journal(path) == [*records[:whole], records[0]]


def test_a_corrupt_frame_ends_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "node.journal"
    journal = Journal(path)
    for record in _records(2):
        journal.append(record)
    journal.close()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # a flipped bit in the last record
    path.write_bytes(bytes(data))
    assert read_journal(path) == _records(2)[:-1]


def test_compact_keeps_only_what_is_given(tmp_path: Path) -> None:
    path = tmp_path / "node.journal"
    journal = Journal(path)
    for record in _records(4):
        journal.append(record)
    keep = [StrategyState(strategy_id="s", values={"count": 3}, ts=9)]
    journal.compact(keep)
    journal.append(_records(1)[0])
    journal.close()
    assert read_journal(path) == [*keep, _records(1)[0]]
    assert not path.with_suffix(".tmp").exists()
