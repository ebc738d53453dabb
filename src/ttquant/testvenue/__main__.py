"""Run a test venue as its own process: ``python -m ttquant.testvenue binance-spot --port 8900``.

Faults are commanded over HTTP: ``POST /_control/<command>`` with command one of drop, stall,
gap, restart, order_fault, pause, resume (arguments in the query string).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from ttquant.core.errors import TTQuantError
from ttquant.testvenue.factory import binance_venue, okx_venue
from ttquant.testvenue.server import TestVenue

_DEFAULT_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _venue(args: argparse.Namespace) -> TestVenue:
    if args.exchange == "okx":
        return okx_venue(
            args.data,
            api_key=args.api_key,
            api_secret=args.api_secret,
            passphrase=args.passphrase,
            speed=args.speed,
            port=args.port,
        )
    market = args.exchange.removeprefix("binance-")
    return binance_venue(
        args.data,
        market=market,
        api_key=args.api_key,
        api_secret=args.api_secret,
        speed=args.speed,
        port=args.port,
    )


async def _serve(args: argparse.Namespace) -> None:
    venue = _venue(args)
    await venue.start()
    print(f"{args.exchange} test venue on {venue.url} (WebSocket {venue.ws_url})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with contextlib.suppress(asyncio.CancelledError):
        await stop.wait()
    await venue.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ttquant.testvenue", description=__doc__)
    parser.add_argument("exchange", choices=["binance-spot", "binance-usdm", "okx"])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed, 1.0 = as recorded")
    parser.add_argument("--data", type=Path, default=_DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--api-secret", default="test-secret")
    parser.add_argument("--passphrase", default="test-pass")
    args = parser.parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except TTQuantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
