"""Trading states: ACTIVE, REDUCING (only position-reducing orders pass), HALTED (nothing passes).

A scope (the account, or one strategy) is not simply set to a state: each reason that restricts
it is a *hold* with its own expiry (a daily loss holds until the next UTC midnight, a loss streak
for its cooldown, a drawdown or a manual halt until resumed). The scope's state is the most
severe of its live holds, so a cooldown that ends while a daily-loss halt still runs changes
nothing, and every change of the effective state is reported once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import msgspec

ACCOUNT = "account"  # the scope name of the account as a whole


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def more_severe(a: TradingState, b: TradingState) -> TradingState:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


class TradingStateChanged(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Published on ``events.risk.state`` whenever a scope's effective state changes."""

    scope: str  # "account" or a strategy id
    state: TradingState
    previous: TradingState
    rule: str  # the hold that decided it (a reason code), or "RESUMED"/"EXPIRED"
    message: str
    ts_event: int


@dataclass(frozen=True, slots=True)
class Hold:
    rule: str  # reason code, e.g. MAX_DRAWDOWN
    state: TradingState
    until_ns: int | None  # None: until resumed
    message: str


class ScopeState:
    """The holds on one scope and the state they add up to."""

    __slots__ = ("_holds", "next_expiry", "scope", "state")

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.state = TradingState.ACTIVE
        self.next_expiry: float = float("inf")
        self._holds: dict[str, Hold] = {}

    def holds(self) -> list[Hold]:
        return list(self._holds.values())

    def put(self, hold: Hold) -> bool:
        """Add or replace the hold of ``hold.rule``; True when it is new or changed."""
        if self._holds.get(hold.rule) == hold:
            return False
        self._holds[hold.rule] = hold
        self._recompute()
        return True

    def has(self, rule: str) -> bool:
        return rule in self._holds

    def clear(self) -> None:
        self._holds.clear()
        self._recompute()

    def expire(self, now_ns: int) -> list[Hold]:
        """Drop the holds whose time is over; return them."""
        gone = [h for h in self._holds.values() if h.until_ns is not None and h.until_ns <= now_ns]
        for hold in gone:
            del self._holds[hold.rule]
        if gone:
            self._recompute()
        return gone

    def decisive(self) -> Hold | None:
        """The hold that sets the current state (the first of the most severe)."""
        for hold in self._holds.values():
            if hold.state is self.state:
                return hold
        return None

    def _recompute(self) -> None:
        state = TradingState.ACTIVE
        expiry = float("inf")
        for hold in self._holds.values():
            state = more_severe(state, hold.state)
            if hold.until_ns is not None and hold.until_ns < expiry:
                expiry = float(hold.until_ns)
        self.state = state
        self.next_expiry = expiry
