"""Risk: what stands between a strategy's intent and the venue, and what watches the result.

Pre-trade (the kernel's :class:`~ttquant.risk.engine.RiskEngine`): ``config`` (the ``[risk]``
section), ``rules`` (one check per limit), ``tracking`` (open orders, kept per event),
``throttle`` (token buckets), ``activity`` (orders and cancels per day), ``gates`` (daily loss,
drawdown, losing streaks), ``state`` (ACTIVE / REDUCING / HALTED and their holds).

Around positions and results: ``stops``, ``sizing``, ``metrics`` and ``alerts``.

Nothing is imported here: strategies import :mod:`ttquant.risk.stops` without pulling in the
engine.
"""
