"""Accounts: balances per currency, cash or margin.

A CASH account is a spot wallet: a buy spends the quote currency and receives the base currency,
a sell needs the base currency it sells (no shorting). A MARGIN account holds positions on
margin: only realized PnL and commissions move its balance, and the margin an exposure needs is
its notional divided by the leverage. Which venue owns the ledger does not matter to this class:
the simulated venue keeps one as an exchange would, and the portfolio mirrors the venue's
reported balances.
"""

from __future__ import annotations

import msgspec

from ttquant.core.errors import ConfigError
from ttquant.model.enums import AccountType, OrderSide
from ttquant.model.instruments import Instrument


class Balance(msgspec.Struct, kw_only=True):
    currency: str
    total: float = 0.0
    locked: float = 0.0

    @property
    def free(self) -> float:
        return self.total - self.locked


class AccountState(msgspec.Struct, frozen=True, kw_only=True):
    """A venue's report of an account's balances (published after every change)."""

    venue: str
    account_type: AccountType
    base_currency: str
    balances: dict[str, tuple[float, float]]  # currency -> (total, locked)
    margin_used: float
    ts_event: int


class Account:
    """Balances of one account at one venue."""

    def __init__(
        self,
        venue: str,
        account_type: AccountType,
        base_currency: str,
        starting_balances: dict[str, float],
        leverage: float = 1.0,
    ) -> None:
        if leverage <= 0:
            raise ConfigError(f"account at {venue}: leverage must be positive, got {leverage}")
        if base_currency not in starting_balances:
            starting_balances = {base_currency: 0.0, **starting_balances}
        self.venue = venue
        self.account_type = account_type
        self.base_currency = base_currency
        self.leverage = leverage
        self.balances = {c: Balance(currency=c, total=v) for c, v in starting_balances.items()}
        self.margin_used = 0.0

    def balance(self, currency: str) -> Balance:
        bal = self.balances.get(currency)
        if bal is None:
            bal = self.balances[currency] = Balance(currency=currency)
        return bal

    def apply_fill(
        self,
        instrument: Instrument,
        side: OrderSide,
        quantity: float,
        price: float,
        commission: float,
        commission_currency: str,
        realized_pnl: float,
    ) -> None:
        """Book a fill: currency exchange for CASH, realized PnL for MARGIN; then the commission."""
        if self.account_type is AccountType.CASH:
            notional = quantity * instrument.multiplier * price
            self.balance(instrument.quote).total -= side.sign * notional
            self.balance(instrument.base).total += side.sign * quantity * instrument.multiplier
        else:
            self.balance(instrument.settlement_currency).total += realized_pnl
        self.balance(commission_currency).total -= commission
