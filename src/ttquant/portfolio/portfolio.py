"""The portfolio: positions per strategy, balances per venue, equity and PnL.

Positions are built from fills (per strategy and instrument, so PnL can be attributed);
balances come from the venues (the venue's ledger is the truth, in a backtest as live): a
simulated venue shares its :class:`Account` object, a live adapter reports account states.
"""

from __future__ import annotations

from ttquant.model.account import Account, AccountState
from ttquant.model.cache import Cache
from ttquant.model.enums import AccountType
from ttquant.model.events import OrderFilled
from ttquant.model.orders import Order
from ttquant.model.position import Position, RoundTrip


class Portfolio:
    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.accounts: dict[str, Account] = {}
        # the venue's net position per instrument: what its margin balance settles against
        self.net_positions: dict[str, dict[str, Position]] = {}

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
        """Signed quantity summed over every strategy."""
        return sum(
            p.quantity for (_, iid), p in self.cache.positions.items() if iid == instrument_id
        )

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

    def balance(self, venue: str, currency: str) -> float:
        account = self.accounts.get(venue.upper())
        if account is None or currency not in account.balances:
            return 0.0
        return account.balances[currency].total

    def equity(self, venue: str | None = None) -> float:
        """Account value in each account's base currency, summed over venues (or one venue)."""
        total = 0.0
        for name, account in self.accounts.items():
            if venue is not None and name != venue.upper():
                continue
            for ccy, bal in account.balances.items():
                if bal.total:
                    total += bal.total * self.cache.conversion_rate(ccy, account.base_currency)
            if account.account_type is AccountType.MARGIN:
                # unrealized PnL of the venue's netted positions, not the sum of each
                # strategy's: opposite positions of two strategies are flat at the venue
                for pos in self._net_positions(name):
                    upnl = pos.unrealized_pnl(self.cache.price(pos.instrument.id))
                    rate = self.cache.conversion_rate(
                        pos.instrument.settlement_currency, account.base_currency
                    )
                    total += upnl * rate
        return total
