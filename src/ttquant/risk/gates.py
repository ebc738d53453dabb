"""Loss gates: daily loss, drawdown from peak equity, and losing streaks of one budget.

They watch an equity that is sampled whenever it can change (a price of a held instrument, a
fill) and report a *breach*: which rule, why, and until when it holds. The day is the UTC day of
the sample's time; the day's starting equity is the last equity sampled before it (the first
day's is the equity at the start), the convention the daily returns of the statistics use.
"""

from __future__ import annotations

from dataclasses import dataclass

from ttquant.core.time import NANOS_PER_DAY


class LossRule:
    """Reason codes of the loss gates (also the rule a halt names)."""

    MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
    MAX_DRAWDOWN = "MAX_DRAWDOWN"
    LOSS_STREAK = "LOSS_STREAK"


@dataclass(frozen=True, slots=True)
class Breach:
    rule: str
    message: str
    until_ns: int | None  # None: until resumed


@dataclass(frozen=True, slots=True)
class EquityLimits:
    daily_loss: float | None = None  # amount
    daily_loss_pct: float | None = None  # of the day's starting equity, 5.0 == 5 %
    drawdown: float | None = None
    drawdown_pct: float | None = None

    @property
    def any(self) -> bool:
        return any(
            v is not None
            for v in (self.daily_loss, self.daily_loss_pct, self.drawdown, self.drawdown_pct)
        )


class EquityWatch:
    """Daily loss and drawdown of one budget (``name``: the account or a strategy)."""

    __slots__ = ("day", "day_start", "last", "limits", "name", "peak")

    def __init__(self, name: str, limits: EquityLimits, equity: float, now_ns: int) -> None:
        self.name = name
        self.limits = limits
        self.day = now_ns // NANOS_PER_DAY
        self.day_start = equity
        self.peak = equity
        self.last = equity

    def restart(self, equity: float) -> None:
        """Forget the peak and the day's losses so far (after a manual resume)."""
        self.day_start = self.peak = self.last = equity

    def observe(self, now_ns: int, equity: float) -> Breach | None:
        day = now_ns // NANOS_PER_DAY
        if day != self.day:
            self.day = day
            self.day_start = self.last
        self.last = equity
        self.peak = max(self.peak, equity)
        lim = self.limits
        loss = self.day_start - equity
        if loss > 0.0:
            limit = _smaller(lim.daily_loss, lim.daily_loss_pct, self.day_start)
            if limit is not None and loss >= limit:
                return Breach(
                    LossRule.MAX_DAILY_LOSS,
                    f"max_daily_loss: {self.name} lost {loss:,.2f} today "
                    f"(from {self.day_start:,.2f} to {equity:,.2f}), limit {limit:,.2f}",
                    (day + 1) * NANOS_PER_DAY,
                )
        drawdown = self.peak - equity
        if drawdown > 0.0:
            limit = _smaller(lim.drawdown, lim.drawdown_pct, self.peak)
            if limit is not None and drawdown >= limit:
                return Breach(
                    LossRule.MAX_DRAWDOWN,
                    f"max_drawdown: {self.name} equity {equity:,.2f} is {drawdown:,.2f} below "
                    f"its peak {self.peak:,.2f}, limit {limit:,.2f}",
                    None,
                )
        return None


def _smaller(amount: float | None, pct: float | None, base: float) -> float | None:
    """The tighter of an amount and a percentage of ``base``."""
    by_pct = None if pct is None else pct / 100.0 * base
    if amount is None:
        return by_pct
    return amount if by_pct is None else min(amount, by_pct)


class StreakWatch:
    """Consecutive losing trades of one budget; a breach restarts the count."""

    __slots__ = ("cooldown_ns", "losses", "name", "streak")

    def __init__(self, name: str, losses: int, cooldown_ns: int) -> None:
        self.name = name
        self.losses = losses
        self.cooldown_ns = cooldown_ns
        self.streak = 0

    def observe(self, pnl: float, now_ns: int) -> Breach | None:
        if pnl >= 0.0:
            self.streak = 0
            return None
        self.streak += 1
        if self.streak < self.losses:
            return None
        self.streak = 0
        return Breach(
            LossRule.LOSS_STREAK,
            f"loss_streak: {self.name} lost {self.losses} trades in a row",
            now_ns + self.cooldown_ns,
        )
