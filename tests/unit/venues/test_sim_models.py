"""Fee, slippage and fill models: built-in behaviour, volume limits and user subclasses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _simkit import Script, instrument, run

from ttquant.core.errors import ConfigError
from ttquant.model.data import Bar
from ttquant.model.enums import LiquiditySide, OrderSide, OrderStatus
from ttquant.model.instruments import Instrument
from ttquant.model.orders import Order
from ttquant.venues.sim.models import (
    BpsSlippage,
    FeeModel,
    FillModel,
    FixedTickSlippage,
    SlippageModel,
)

FLAT = (100.0, 100.0, 100.0, 100.0)
DOCS = Path(__file__).resolve().parents[3] / "docs" / "backtesting.md"


def _market_and_limit(s: Script) -> None:
    s.placed["m"] = s.buy(1.0)
    s.placed["l"] = s.sell(1.0, price=101.0)


BAR = (100.0, 101.5, 99.5, 101.0)  # low nearer: O -> L -> H crosses the sell limit at 101


@pytest.mark.parametrize(
    ("slippage", "market_px"),
    [(SlippageModel(), 100.0), (FixedTickSlippage(3), 100.03), (BpsSlippage(25.0), 100.25)],
)
def test_slippage_applies_to_taker_fills_only(slippage: SlippageModel, market_px: float) -> None:
    st = run([FLAT, BAR], {0: _market_and_limit}, slippage_model=slippage)
    assert st.fills("m")[0].last_px == pytest.approx(market_px, rel=1e-12)
    assert st.fills("l")[0].last_px == 101.0  # maker: no slippage


def test_sell_side_slippage_moves_the_price_down() -> None:
    st = run(
        [FLAT, FLAT],
        {0: lambda s: s.placed.update(m=s.sell(1.0))},
        slippage_model=FixedTickSlippage(2),
    )
    assert st.fills("m")[0].last_px == pytest.approx(99.98, rel=1e-12)


def test_maker_and_taker_fee_rates() -> None:
    st = run(
        [FLAT, BAR], {0: _market_and_limit}, inst=instrument(maker_fee=-0.0001, taker_fee=0.0004)
    )
    taker, maker = st.fills("m")[0], st.fills("l")[0]
    assert taker.liquidity_side is LiquiditySide.TAKER
    assert maker.liquidity_side is LiquiditySide.MAKER
    assert taker.commission == pytest.approx(100.0 * 0.0004, rel=1e-12)
    assert maker.commission == pytest.approx(-101.0 * 0.0001, rel=1e-12)  # a rebate
    st = run(
        [FLAT, BAR],
        {0: _market_and_limit},
        fee_model=FeeModel(maker=0.001, taker=0.002),
        inst=instrument(maker_fee=-0.0001, taker_fee=0.0004),
    )
    assert st.fills("m")[0].commission == pytest.approx(0.2, rel=1e-12)
    assert st.fills("l")[0].commission == pytest.approx(0.101, rel=1e-12)


def test_volume_limited_fills_carry_over_to_later_bars() -> None:
    def act(s: Script) -> None:
        s.placed["m"] = s.buy(10.0)

    bars = [
        FLAT,
        (100.0, 100.0, 100.0, 100.0, 40.0),
        (101.0, 101.0, 101.0, 101.0, 50.0),
        (102.0, 102.0, 102.0, 102.0, 1000.0),
    ]
    st = run(bars, {0: act}, fill_model=FillModel(volume_limit=0.1))
    assert [(f.last_qty, f.last_px) for f in st.fills("m")] == [
        (4.0, 100.0),
        (5.0, 101.0),
        (1.0, 102.0),
    ]
    order = st.placed["m"]
    assert order.status is OrderStatus.FILLED
    assert order.avg_px == pytest.approx((400.0 + 505.0 + 102.0) / 10.0, rel=1e-12)


def test_fill_model_rejects_bad_settings() -> None:
    with pytest.raises(ConfigError, match="market_fill"):
        FillModel(market_fill="open")
    with pytest.raises(ConfigError, match="volume_limit"):
        FillModel(volume_limit=1.5)
    with pytest.raises(ConfigError, match="ticks"):
        FixedTickSlippage(-1)
    with pytest.raises(ConfigError, match="bps"):
        BpsSlippage(-1.0)


class HighFirst(FillModel):
    """Always assume the high comes first (optimistic for shorts)."""

    def bar_path(self, bar: Bar) -> tuple[float, float, float, float]:
        return (bar.open, bar.high, bar.low, bar.close)


class FlatFee(FeeModel):
    def commission(
        self,
        order: Order,
        instrument: Instrument,
        quantity: float,
        price: float,
        liquidity: LiquiditySide,
    ) -> float:
        return 1.5


class HalfSpread(SlippageModel):
    def adjust(self, price: float, side: OrderSide, instrument: Instrument) -> float:
        return price + side.sign * 0.05


def test_user_models_are_honoured() -> None:
    def act(s: Script) -> None:
        s.placed["buy"] = s.buy(1.0, price=99.0)
        s.placed["sell"] = s.sell(1.0, price=101.0)
        s.placed["m"] = s.buy(1.0)

    tie = (100.0, 101.0, 99.0, 100.0)  # equal distances: the default goes low first
    default = run([FLAT, tie], {0: act})
    assert default.fills()[1].client_order_id == default.placed["buy"].client_order_id
    custom = run(
        [FLAT, tie],
        {0: act},
        fill_model=HighFirst(),
        fee_model=FlatFee(),
        slippage_model=HalfSpread(),
    )
    names = {o.client_order_id: n for n, o in custom.placed.items()}
    assert [(names[f.client_order_id], f.last_px, f.commission) for f in custom.fills()] == [
        ("m", 100.05, 1.5),
        ("sell", 101.0, 1.5),
        ("buy", 99.0, 1.5),
    ]


def test_docs_custom_model_example_runs_verbatim() -> None:
    """The example in docs/backtesting.md is executed exactly as printed."""
    text = DOCS.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    example = [b for b in blocks if "class " in b and "SlippageModel" in b]
    assert example, f"no custom-model example found in {DOCS}"
    namespace: dict[str, object] = {}
    exec(compile(example[0], str(DOCS), "exec"), namespace)  # the docs' own assertions run too
    assert namespace["fills"]
