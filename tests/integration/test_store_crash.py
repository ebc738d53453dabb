"""A writer process killed mid-stream loses at most the last flush interval, never a hole; one
that exits without closing its writer loses nothing.

A child process streams fills, each stamped with the wall-clock time it was put, through a
``BatchedWriter`` that flushes every ``INTERVAL`` seconds; the test kills it with SIGKILL (no
cleanup of any kind runs) while it writes. What the store holds afterwards must be exactly the
first N fills put (batches commit whole and in order), the newest of them put no more than one
interval (plus the time one commit takes) before the kill, and the database must open cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import sqlalchemy as sa
from tests.conftest import DEMO_DATA, REPO

from ttquant.store import open_store

INTERVAL = 0.25
COMMIT_ALLOWANCE = 0.75  # one batch's commit, and scheduling noise on a busy 2-core machine

CHILD = """
import gzip, sys, time
from ttquant.store import open_store
from ttquant.store.writer import BatchedWriter

url, run_id, interval, data = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
with gzip.open(data, "rt") as f:
    closes = [float(line.split(",")[4]) for line in f.read().splitlines()[1:]]
writer = BatchedWriter(
    open_store(url), batch_size=1_000_000, max_pending=1_000_000, flush_interval=interval
)
i = 0
while True:
    now = time.time_ns()
    px = closes[i % len(closes)]
    writer.put("fills", (run_id, f"T{i}", now, now, f"O-{i}", f"V-{i}", "crash", "BTC/USDT@BINANCE",
                         "BINANCE", "BUY", 0.01, px, px * 1e-5, "USDT", "TAKER"))
    i += 1
    if i % 50 == 0:
        time.sleep(0.002)  # a steady stream, about 20,000 fills a second
"""


def test_a_killed_writer_loses_at_most_one_flush_interval(store_url: str) -> None:
    run_id = uuid.uuid4().hex
    with open_store(store_url) as store:  # migrated before the child starts

        def stored() -> list[tuple[str, int]]:
            with store.read() as conn:
                query = sa.text("SELECT trade_id, ts_event FROM fills WHERE run_id = :r")
                return [(r[0], r[1]) for r in conn.execute(query, {"r": run_id})]

        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, store_url, run_id, str(INTERVAL), str(DEMO_DATA)],
            cwd=REPO,
        )
        try:
            deadline = time.monotonic() + 60
            while not stored():
                assert child.poll() is None, "the writer process died on its own"
                assert time.monotonic() < deadline, "the writer process never committed"
                time.sleep(0.05)
            time.sleep(4 * INTERVAL)  # several more flushes, then kill it mid-stream
            killed_at = time.time_ns()
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
        assert child.returncode == -signal.SIGKILL

        rows = stored()
        numbers = sorted(int(trade_id[1:]) for trade_id, _ in rows)
        assert numbers == list(range(len(numbers)))  # a prefix of what was put: no hole, no repeat
        assert len(numbers) > 1000  # the stream ran through several flushes
        newest = max(ts for _, ts in rows)
        assert killed_at - newest <= (INTERVAL + COMMIT_ALLOWANCE) * 1e9

    with open_store(store_url) as reopened, reopened.read() as conn:  # recovers after the crash
        if reopened.dialect == "sqlite":
            assert conn.scalar(sa.text("PRAGMA integrity_check")) == "ok"
        count = conn.scalar(sa.text("SELECT count(*) FROM fills WHERE run_id = :r"), {"r": run_id})
        assert count == len(numbers)


EXITING_CHILD = """
import sys
from ttquant.store import open_store
from ttquant.store.writer import BatchedWriter

writer = BatchedWriter(open_store(sys.argv[1]), flush_interval=600.0)
for i in range(5000):
    writer.put("equity", (sys.argv[2], i, float(i)))
# the script ends without close(): a clean interpreter exit must still commit everything
"""


def test_a_process_that_exits_without_closing_loses_nothing(store_url: str) -> None:
    run_id = uuid.uuid4().hex
    with open_store(store_url) as store:
        proc = subprocess.run(
            [sys.executable, "-c", EXITING_CHILD, store_url, run_id],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        with store.read() as conn:
            query = sa.text("SELECT ts FROM equity WHERE run_id = :r ORDER BY ts")
            assert list(conn.scalars(query, {"r": run_id})) == list(range(5000))
