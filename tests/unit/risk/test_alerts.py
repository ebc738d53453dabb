"""Alert levels, suppression of repeats, escalation by frequency, history, subscribers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttquant.core.errors import ConfigError
from ttquant.risk.alerts import Alert, AlertLevel, AlertManager, AlertPolicy

MINUTE = 60_000_000_000
INFO, WARNING, CRITICAL, EMERGENCY = (
    AlertLevel.INFO,
    AlertLevel.WARNING,
    AlertLevel.CRITICAL,
    AlertLevel.EMERGENCY,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z

    def __call__(self) -> int:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += int(minutes * MINUTE)


def manager(**policy: int) -> tuple[AlertManager, Clock]:
    clock = Clock()
    return AlertManager(AlertPolicy(**policy), clock=clock), clock


def test_levels_are_ordered_and_named() -> None:
    assert INFO < WARNING < CRITICAL < EMERGENCY
    assert [level.label for level in AlertLevel] == ["info", "warning", "critical", "emergency"]
    assert AlertLevel.parse("Critical") is CRITICAL and AlertLevel.parse(20) is WARNING
    assert WARNING.raised(1) is CRITICAL and CRITICAL.raised(5) is EMERGENCY
    with pytest.raises(ConfigError, match="info, warning, critical, emergency"):
        AlertLevel.parse("fatal")


def test_repeats_inside_the_window_are_suppressed_and_counted() -> None:
    alerts, clock = manager(escalate_after=100)
    first = alerts.alert("feed.stale", "warning", "no data for 30 s")
    assert first is not None and first.suppressed == 0
    for _ in range(3):
        clock.advance(1)
        assert alerts.alert("feed.stale", "warning", "no data") is None
    clock.advance(1)  # 4 minutes after the first: still inside the default 5-minute window
    assert alerts.alert("feed.stale", "info", "no data") is None
    assert alerts.suppressed == 4
    clock.advance(1)  # 5 minutes: the window has passed
    again = alerts.alert("feed.stale", "warning", "no data")
    assert again is not None and again.suppressed == 4
    # another key is never held back by this one
    assert alerts.alert("fill.slow", "warning", "fill took 3 s") is not None


def test_a_higher_level_is_always_delivered() -> None:
    alerts, clock = manager(escalate_after=100)
    alerts.alert("risk.drawdown", WARNING, "drawdown 8 %")
    clock.advance(1)
    raised = alerts.alert("risk.drawdown", CRITICAL, "drawdown 12 %")
    assert raised is not None and raised.level is CRITICAL and raised.escalated_from is None
    clock.advance(1)
    assert alerts.alert("risk.drawdown", WARNING, "drawdown 9 %") is None


def test_frequent_repeats_escalate_one_level_per_n() -> None:
    alerts, clock = manager(escalate_after=3, suppress_window_ns=0)
    levels = []
    for _ in range(9):
        delivered = alerts.alert("order.rejected", "info", "rejected")
        assert delivered is not None
        levels.append(delivered.level)
        clock.advance(1)
    assert levels == [
        INFO,
        INFO,
        WARNING,
        WARNING,
        WARNING,
        CRITICAL,
        CRITICAL,
        CRITICAL,
        EMERGENCY,
    ]
    last = alerts.history()[-1]
    assert last.escalated_from is INFO and last.repeats == 9
    assert "escalated from info: 9 times" in last.text()


def test_escalation_counts_only_the_window() -> None:
    alerts, clock = manager(
        escalate_after=3, suppress_window_ns=0, escalation_window_ns=10 * MINUTE
    )
    for _ in range(2):
        alerts.alert("k", INFO, "x")
        clock.advance(6)
    # the first occurrence is 12 minutes old: only two fall inside the 10-minute window
    delivered = alerts.alert("k", INFO, "x")
    assert delivered is not None and delivered.level is INFO and delivered.repeats == 2


def test_escalation_breaks_through_suppression() -> None:
    alerts, clock = manager(escalate_after=3)  # default 5-minute suppression
    assert alerts.alert("venue.disconnected", WARNING, "ws closed") is not None
    clock.advance(0.5)
    assert alerts.alert("venue.disconnected", WARNING, "ws closed") is None
    clock.advance(0.5)
    third = alerts.alert("venue.disconnected", WARNING, "ws closed")
    assert third is not None and third.level is CRITICAL and third.suppressed == 1


def test_history_is_bounded_and_filtered() -> None:
    alerts, clock = manager(history_size=5, suppress_window_ns=0, escalate_after=100)
    for i in range(8):
        alerts.alert(f"k{i % 2}", CRITICAL if i == 7 else INFO, f"message {i}")
        clock.advance(1)
    assert [a.message for a in alerts.history()] == [f"message {i}" for i in range(3, 8)]
    assert [a.message for a in alerts.history(level="critical")] == ["message 7"]
    assert [a.message for a in alerts.history(key="k0")] == ["message 4", "message 6"]
    assert alerts.delivered[INFO] == 7 and alerts.delivered[CRITICAL] == 1


def test_a_failing_subscriber_never_breaks_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    alerts, _ = manager()
    received: list[Alert] = []

    def broken(alert: Alert) -> None:
        raise OSError("disk full")

    alerts.subscribe(broken)
    alerts.subscribe(received.append)
    assert alerts.alert("k", EMERGENCY, "halted") is not None
    assert alerts.sink_failures == 1 and [a.key for a in received] == ["k"]
    assert "alert subscriber" in caplog.text


def test_alert_serializes_to_json() -> None:
    alerts, _ = manager()
    alert = alerts.alert("risk.halted.trend", "emergency", "daily loss 3.2 %", source="risk")
    assert alert is not None
    doc = json.loads(json.dumps(alert.to_dict()))
    assert doc == {
        "key": "risk.halted.trend",
        "level": "emergency",
        "message": "daily loss 3.2 %",
        "time": "2024-01-01T00:00:00Z",
        "ts_ns": 1_704_067_200_000_000_000,
        "source": "risk",
        "repeats": 1,
        "suppressed": 0,
        "escalated_from": None,
    }
    assert alert.text() == "[EMERGENCY] risk.halted.trend: daily loss 3.2 %"


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"suppress_window_ns": -1}, "suppress_window_ns"),
        ({"escalate_after": 0}, "escalate_after"),
        ({"history_size": 0}, "history_size"),
        ({"escalation_window_ns": 1.5}, "escalation_window_ns"),
    ],
)
def test_bad_policies_are_named(policy: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        AlertPolicy(**policy)  # type: ignore[arg-type]


def test_an_alert_needs_a_key() -> None:
    with pytest.raises(ConfigError, match="key"):
        manager()[0].alert("", INFO, "x")


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(list(AlertLevel))), max_size=60))
def test_delivered_plus_suppressed_is_everything_raised(
    steps: list[tuple[int, AlertLevel]],
) -> None:
    alerts, clock = manager()
    for minutes, level in steps:
        clock.advance(minutes)
        alerts.alert("k", level, "x")
    assert sum(alerts.delivered.values()) + alerts.suppressed == len(steps)
    # every delivered alert is at least as loud as the level it was raised at
    assert all(a.escalated_from is None or a.level > a.escalated_from for a in alerts.history())
