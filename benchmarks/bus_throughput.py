"""Message throughput: the kernel's bus in one process, and the node's ZeroMQ wire between two.

In-process: ``MessageBus.publish`` of ``QuoteTick`` structs to one subscribed handler (what every
market data event costs before a strategy's own work).

Across processes: the market data process's path, ``QuoteTick`` -> versioned msgpack -> ZeroMQ
PUB, received by a SUB in another process that decodes every message back into a
``QuoteTick`` (``ttquant.engine.ipc``), over TCP loopback and over an ``ipc://`` socket. The rate
is messages the receiver decoded per second.

    python benchmarks/bus_throughput.py [--messages 2000000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time

import zmq

from ttquant.core.bus import MessageBus
from ttquant.engine.ipc import Codec, bind, connect
from ttquant.model.data import QuoteTick

IID = "BTC/USDT@BINANCE"


def in_process(n: int) -> float:
    bus = MessageBus()
    seen = [0]

    def handler(quote: QuoteTick) -> None:
        seen[0] += 1

    bus.subscribe(f"data.quotes.{IID}", handler)
    topic = f"data.quotes.{IID}"
    quotes = [QuoteTick(IID, 100.0 + i % 7, 100.5, 1.0, 1.0, i, i) for i in range(1000)]
    publish = bus.publish
    start = time.perf_counter()
    for i in range(n):
        publish(topic, quotes[i % 1000])
    elapsed = time.perf_counter() - start
    assert seen[0] == n
    return n / elapsed


def _receive(
    endpoint: str, n: int, ready: multiprocessing.Event, out: multiprocessing.Queue
) -> None:  # type: ignore[type-arg]
    codec = Codec()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sub = connect(context, zmq.SUB, endpoint)
    ready.set()
    recv = sub.recv
    decode = codec.decode_market
    decode(recv())
    start = time.perf_counter()
    for _ in range(n - 1):
        decode(recv())
    out.put((n - 1) / (time.perf_counter() - start))
    sub.close()
    context.term()


def over_zmq(endpoint: str, n: int) -> float:
    codec = Codec()
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub = bind(context, zmq.PUB, endpoint)
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    out: multiprocessing.Queue[float] = ctx.Queue()
    receiver = ctx.Process(target=_receive, args=(endpoint, n, ready, out))
    receiver.start()
    ready.wait(30)
    quotes = [QuoteTick(IID, 100.0 + i % 7, 100.5, 1.0, 1.0, i, i) for i in range(1000)]
    time.sleep(0.5)  # the subscription needs a moment to reach the publisher
    send = pub.send
    frame = codec.market_frame
    for i in range(n + 1000):  # a little extra: PUB drops what it sends before the join
        send(frame(quotes[i % 1000]))
    rate = out.get(timeout=120)
    receiver.join(30)
    pub.close()
    context.term()
    return float(rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2_000_000)
    args = parser.parse_args()
    n = args.messages
    print(f"in-process MessageBus.publish: {in_process(n):,.0f} msg/s")
    with tempfile.TemporaryDirectory() as tmp:
        for name, endpoint in (
            ("tcp loopback", "tcp://127.0.0.1:5719"),
            ("ipc", f"ipc://{tmp}/bus"),
        ):
            rate = over_zmq(endpoint, n // 2)
            print(f"ZeroMQ PUB -> SUB ({name}), msgpack encode + decode: {rate:,.0f} msg/s")


if __name__ == "__main__":
    main()
