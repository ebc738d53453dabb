"""The portfolio: positions per strategy, balances per venue, equity and PnL.

Positions are built from fills (per strategy and instrument, so PnL can be attributed);
balances come from the venues (the venue's ledger is the truth, in a backtest as live): a
simulated venue shares its :class:`Account` object, a live adapter reports account states.

Strategies sharing an account may each be allocated capital. A strategy's PnL is its realized
PnL net of commissions plus the unrealized PnL of its positions; fills the venue reports for
orders no strategy owns go to the :data:`UNATTRIBUTED` bucket. Equity is linear in the fills and
prices, so the strategies' PnL and the unattributed PnL add up to the account's.
"""

from __future__ import annotations

import math

import msgspec

from ttquant.model.account import Account, AccountState
from ttquant.model.cache import Cache
from ttquant.model.enums import AccountType
from ttquant.model.events import OrderFilled
from ttquant.model.orders import Order
from ttquant.model.position import Position, RoundTrip

UNATTRIBUTED = "unattributed"  # the owner of fills and positions no strategy of ours made


class StrategyPnl(msgspec.Struct, frozen=True, kw_only=True):
    """One owner's PnL in the account currency (realized is net of commissions)."""

    realized: float
    unrealized: float
    commissions: float

    @property
    def total(self) -> float:
        return self.realized + self.unrealized


class Portfolio:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.accounts: dict[str, Account] = {}
        # the venue's net position per instrument: what its margin balance settles against
        self.net_positions: dict[str, dict[str, Position]] = {}
        self.capitals: dict[str, float] = {}  # strategy id -> allocated capital

    def register_account(self, account: Account, net_positions: dict[str, Position]) -> None:
        """Follow a simulated venue's ledger and net positions themselves: always current."""
        self.accounts[account.venue] = account
        self.net_positions[account.venue] = net_positions

    def on_account_state(self, state: AccountState) -> None:
        """Apply a venue's report of its balances."""
        account = self.accounts.get(state.venue)
        if account is None:
            account = self.accounts[state.venue] = Account(
                state.venue, state.account_type, state.base_currency, {}
            )
        if state.balances:
            for ccy, (total, locked) in state.balances.items():
                bal = account.balance(ccy)
                bal.total, bal.locked = total, locked
        account.margin_used = state.margin_used

    def on_fill(self, fill: OrderFilled, order: Order | None) -> list[RoundTrip]:
        position = self.cache.position(fill.strategy_id, fill.instrument_id)
        reason = (order.exit_reason if order is not None else "") or "signal"
        trips = position.apply_fill(fill, reason)
        self.cache.round_trips.extend(trips)
        return trips

    def _net_positions(self, venue: str) -> list[Position]:
        net = self.net_positions.get(venue)
        if net is not None:
            return [p for p in net.values() if not p.is_flat]
        # a live venue that reports no net positions: all strategies' positions there
        return [p for p in self.cache.open_positions() if p.instrument.venue == venue]

    def position(self, strategy_id: str, instrument_id: str) -> Position:
        return self.cache.position(strategy_id, instrument_id)

    def net_position(self, instrument_id: str) -> float:
        """Signed quantity summed over every strategy (the venue's net position)."""
        net = self.net_positions.get(instrument_id.rpartition("@")[2])
        if net is not None:  # the venue keeps it: no sum to compute
            pos = net.get(instrument_id)
            return 0.0 if pos is None else pos.quantity
        return sum(
            p.quantity for (_, iid), p in self.cache.positions.items() if iid == instrument_id
        )

    def net_quantities(self) -> dict[str, float]:
        """Signed net quantity per instrument held (over every strategy and venue)."""
        out: dict[str, float] = {}
        for net in self.net_positions.values():
            for iid, pos in net.items():
                if pos.quantity:
                    out[iid] = pos.quantity
        if len(self.net_positions) < max(len(self.accounts), 1):
            # a venue that keeps no net positions for us: sum what the strategies hold there
            for (_, iid), pos in self.cache.positions.items():
                if pos.quantity and iid.rpartition("@")[2] not in self.net_positions:
                    out[iid] = out.get(iid, 0.0) + pos.quantity
        return out

    def unrealized_pnl(self, strategy_id: str | None = None) -> float:
        return sum(
            p.unrealized_pnl(self.cache.price(p.instrument.id))
            for p in self.cache.open_positions(strategy_id)
        )

    def realized_pnl(self, strategy_id: str | None = None) -> float:
        """Realized PnL net of commissions."""
        return sum(
            p.realized_pnl - p.commissions
            for (sid, _), p in self.cache.positions.items()
            if strategy_id is None or sid == strategy_id
        )

    def allocate(self, strategy_id: str, capital: float) -> None:
        """Give ``strategy_id`` a capital of its own within the account."""
        self.capitals[strategy_id] = capital

    def capital(self, strategy_id: str) -> float:
        """The strategy's allocated capital; 0 when it has none."""
        return self.capitals.get(strategy_id, 0.0)

    def strategy_pnl(self, strategy_id: str) -> float:
        """Realized (net of commissions) plus unrealized PnL of one strategy."""
        total = 0.0
        for (sid, iid), p in self.cache.positions.items():
            if sid == strategy_id:
                total += p.realized_pnl - p.commissions + p.unrealized_pnl(self.cache.price(iid))
        return total

    def strategy_equity(self, strategy_id: str) -> float:
        """Allocated capital plus PnL; the whole account's equity for a strategy without one."""
        if strategy_id not in self.capitals:
            return self.equity()
        return self.capitals[strategy_id] + self.strategy_pnl(strategy_id)

    def pnl_by_strategy(self) -> dict[str, StrategyPnl]:
        """PnL per owner (strategies and, if any, the unattributed bucket)."""
        parts: dict[str, list[float]] = {}
        for (sid, iid), p in self.cache.positions.items():
            acc = parts.setdefault(sid, [0.0, 0.0, 0.0])
            acc[0] += p.realized_pnl - p.commissions
            acc[1] += p.unrealized_pnl(self.cache.price(iid))
            acc[2] += p.commissions
        return {
            sid: StrategyPnl(realized=r, unrealized=u, commissions=c)
            for sid, (r, u, c) in parts.items()
        }

    def balance(self, venue: str, currency: str) -> float:
        account = self.accounts.get(venue.upper())
        if account is None or currency not in account.balances:
            return 0.0
        return account.balances[currency].total

    def equity(self, venue: str | None = None) -> float:
        """Account value in each account's base currency, summed over venues (or one venue)."""
        # evaluated at every price when a loss gate watches it: no conversion in one currency
        total = 0.0
        prices = self.cache.prices
        for name, account in self.accounts.items():
            if venue is not None and name != venue.upper():
                continue
            base = account.base_currency
            for ccy, bal in account.balances.items():
                if bal.total:
                    total += (
                        bal.total
                        if ccy == base
                        else bal.total * self.cache.conversion_rate(ccy, base)
                    )
            if account.account_type is AccountType.MARGIN:
                # unrealized PnL of the venue's netted positions, not the sum of each
                # strategy's: opposite positions of two strategies are flat at the venue
                net = self.net_positions.get(name)
                for pos in net.values() if net is not None else self._net_positions(name):
                    if not pos.quantity:
                        continue
                    inst = pos.instrument
                    upnl = pos.unrealized_pnl(prices.get(inst.id, math.nan))
                    settle = inst.settlement_currency
                    total += (
                        upnl if settle == base else upnl * self.cache.conversion_rate(settle, base)
                    )
        return total
