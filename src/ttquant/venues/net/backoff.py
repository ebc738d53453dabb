"""Reconnect delays: exponential growth with jitter.

Jitter matters when many clients lose a venue at once (a venue restart): without it they all
come back in the same instant and knock it over again.
"""

from __future__ import annotations

import random

from ttquant.core.errors import ConfigError


class Backoff:
    """Delay before the next attempt: ``initial * factor**n`` capped at ``maximum``, with jitter.

    ``jitter`` is the fraction of the delay drawn at random ("equal jitter"): 0.5 gives delays
    uniform in [d/2, d]. :meth:`reset` after a connection proved healthy.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if initial <= 0 or maximum < initial or factor < 1.0 or not 0.0 <= jitter <= 1.0:
            raise ConfigError(
                f"backoff needs 0 < initial <= maximum, factor >= 1, 0 <= jitter <= 1; got "
                f"initial={initial}, maximum={maximum}, factor={factor}, jitter={jitter}"
            )
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        base = min(self.initial * self.factor**self.attempts, self.maximum)
        self.attempts += 1
        return base * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        self.attempts = 0
