"""``ttq trade``: balances, positions, orders, fills, market data and orders over the REST API.

Every command talks to a running ``ttq serve`` (``--url``/``TTQ_API_URL``) with an API token
(``--token``/``TTQ_API_TOKEN``); ``--json`` prints the server's answer as JSON for scripts.
``ttq console`` runs these same commands in a REPL, so there is one implementation of each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # httpx is imported when a command runs, not when ttq starts
    from ttquant.cli.api_client import ApiClient

trade_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Trade through a running API server (ttq serve): balances, positions, orders, "
    "market data, manual orders, the kill switch.",
)

REFUSED = ("DENIED", "REJECTED")


@dataclass
class TradeContext:
    """What every command needs: where the server is, how to print, how to ask."""

    url: str | None
    token: str | None
    as_json: bool
    out: Console
    confirm: Callable[[str], bool] = field(default=typer.confirm)
    _client: ApiClient | None = None

    def client(self) -> ApiClient:
        if self._client is None:
            from ttquant.cli.api_client import ApiClient, Endpoint

            self._client = ApiClient(Endpoint.resolve(self.url, self.token))
        return self._client

    def show(self, data: Any, render: Callable[[Any], Any]) -> None:
        if self.as_json:
            self.out.print(
                json.dumps(data, indent=2), markup=False, highlight=False, soft_wrap=True
            )
        else:
            self.out.print(render(data))


@trade_app.callback()
def trade_main(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option(help="the API server (default $TTQ_API_URL or 127.0.0.1:8000)")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="API token (default $TTQ_API_TOKEN; prefer the variable)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the answer as JSON")] = False,
) -> None:
    if not isinstance(ctx.obj, TradeContext):  # ttq console passes its own
        from ttquant.cli.main import _stdout_console

        ctx.obj = TradeContext(url, token, as_json, _stdout_console())


def _run(ctx: typer.Context, action: Callable[[TradeContext], None]) -> None:
    from ttquant.cli.main import _user_errors

    with _user_errors():
        action(ctx.obj)


Instrument = Annotated[str, typer.Argument(help="instrument id, e.g. BTC/USDT@BINANCE")]


# -- reads ------------------------------------------------------------------------------------
@trade_app.command()
def balance(ctx: typer.Context) -> None:
    """Balances per account and currency."""
    _run(ctx, lambda t: t.show(t.client().get("/balances"), _balances_table))


@trade_app.command()
def positions(ctx: typer.Context) -> None:
    """Open positions with their PnL."""
    _run(ctx, lambda t: t.show(t.client().get("/positions"), _positions_table))


@trade_app.command()
def orders(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="closed orders too")] = False,
) -> None:
    """Open orders (all orders with --all)."""
    _run(ctx, lambda t: t.show(t.client().get("/orders", open=not all_), _orders_table))


@trade_app.command()
def fills(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="the newest N fills", min=1, max=10_000)] = 50,
) -> None:
    """The newest fills."""
    _run(ctx, lambda t: t.show(t.client().get("/fills", limit=limit), _fills_table))


@trade_app.command()
def ticker(ctx: typer.Context, instrument: Instrument) -> None:
    """Best bid and ask and the last trade of an instrument."""
    _run(
        ctx,
        lambda t: t.show(t.client().get("/market/ticker", instrument_id=instrument), _ticker),
    )


@trade_app.command()
def book(
    ctx: typer.Context,
    instrument: Instrument,
    depth: Annotated[int, typer.Option(help="levels per side", min=1, max=1000)] = 10,
) -> None:
    """The order book's best levels."""
    _run(
        ctx,
        lambda t: t.show(
            t.client().get("/market/book", instrument_id=instrument, depth=depth), _book
        ),
    )


# -- orders -----------------------------------------------------------------------------------
Quantity = Annotated[float, typer.Argument(help="quantity in the instrument's units", min=0)]
Price = Annotated[
    float | None, typer.Option(help="limit price (without it: a market order)", min=0)
]
StrategyOpt = Annotated[str, typer.Option(help="the strategy the order is booked to")]


@trade_app.command()
def buy(
    ctx: typer.Context,
    instrument: Instrument,
    quantity: Quantity,
    price: Price = None,
    strategy: StrategyOpt = "manual",
) -> None:
    """Buy: a limit order with --price, else a market order."""
    _run(ctx, lambda t: _place(t, "buy", instrument, quantity, price, strategy))


@trade_app.command()
def sell(
    ctx: typer.Context,
    instrument: Instrument,
    quantity: Quantity,
    price: Price = None,
    strategy: StrategyOpt = "manual",
) -> None:
    """Sell: a limit order with --price, else a market order."""
    _run(ctx, lambda t: _place(t, "sell", instrument, quantity, price, strategy))


def _place(
    t: TradeContext, side: str, instrument: str, quantity: float, price: float | None, sid: str
) -> None:
    from ttquant.core.errors import ApiClientError

    if quantity <= 0:
        raise ApiClientError(f"the quantity must be positive, got {quantity:g}")
    body: dict[str, Any] = {
        "instrument_id": instrument,
        "side": side,
        "quantity": quantity,
        "order_type": "market" if price is None else "limit",
        "strategy_id": sid,
    }
    if price is not None:
        body["price"] = price
    order = t.client().post("/orders", body)
    t.show(order, _order_line)
    if order["status"] in REFUSED:
        raise typer.Exit(1)


@trade_app.command()
def cancel(
    ctx: typer.Context, order_id: Annotated[str, typer.Argument(help="client order id")]
) -> None:
    """Cancel one order."""
    path = f"/orders/{quote(order_id, safe='')}"
    _run(ctx, lambda t: t.show(t.client().delete(path), _order_line))


@trade_app.command("cancel-all")
def cancel_all(
    ctx: typer.Context,
    instrument: Annotated[str | None, typer.Option(help="only this instrument's orders")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="don't ask")] = False,
) -> None:
    """Cancel every open order (of one instrument with --instrument)."""

    def action(t: TradeContext) -> None:
        what = f"every open order of {instrument}" if instrument else "every open order"
        if not yes and not t.confirm(f"Cancel {what}?"):
            raise typer.Exit(1)
        answer = t.client().delete("/orders", instrument_id=instrument)
        t.show(answer, lambda a: f"{a['canceled']} cancel requests sent")

    _run(ctx, action)


@trade_app.command()
def kill(
    ctx: typer.Context,
    off: Annotated[bool, typer.Option("--off", help="release the kill switch (admin)")] = False,
    reason: Annotated[str, typer.Option(help="why, for the records")] = "ttq trade kill",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="don't ask")] = False,
) -> None:
    """Kill switch: halt all trading and cancel every open order (--off releases it)."""

    def action(t: TradeContext) -> None:
        question = "Release the kill switch?" if off else "Halt all trading and cancel every order?"
        if not yes and not t.confirm(question):
            raise typer.Exit(1)
        risk = t.client().post("/risk/kill-switch", {"active": not off, "reason": reason})
        open_orders = len(t.client().get("/orders", open=True)) if not off else None
        t.show(risk, lambda r: _kill_line(r, open_orders))

    _run(ctx, action)


# -- rendering --------------------------------------------------------------------------------
def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}" if abs(value) >= 1 or value == 0 else f"{value:.8g}"


def _qty(value: float | None) -> str:
    return "—" if value is None else f"{value:.8g}"


def _time(ns: int | None) -> str:
    if not ns:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns / 1e9))


def _table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for name in columns:
        right = name in ("Qty", "Price", "Total", "Locked", "Free", "Avg px", "Last", "Filled")
        table.add_column(name, justify="right" if right or "PnL" in name else "left")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    if not rows:
        table.caption = "none"
    return table


def _balances_table(rows: list[dict[str, Any]]) -> Table:
    columns = ["Account", "Currency", "Total", "Locked", "Free"]
    return _table(
        "Balances",
        columns,
        [
            [
                b["account"],
                b["currency"],
                _num(b["total"], 8),
                _num(b["locked"], 8),
                _num(b["free"], 8),
            ]
            for b in rows
        ],
    )


def _positions_table(rows: list[dict[str, Any]]) -> Table:
    columns = [
        "Account",
        "Strategy",
        "Instrument",
        "Qty",
        "Avg px",
        "Last",
        "Unrealized PnL",
        "Realized PnL",
    ]
    return _table(
        "Positions",
        columns,
        [
            [
                p["account"],
                p["strategy_id"],
                p["instrument_id"],
                _qty(p["quantity"]),
                _num(p["avg_px"]),
                _num(p["last_price"]),
                _num(p["unrealized_pnl"]),
                _num(p["realized_pnl"]),
            ]
            for p in rows
        ],
    )


def _orders_table(rows: list[dict[str, Any]]) -> Table:
    columns = [
        "Order",
        "Strategy",
        "Instrument",
        "Side",
        "Type",
        "Qty",
        "Price",
        "Filled",
        "Status",
    ]
    return _table(
        "Orders",
        columns,
        [
            [
                o["client_order_id"],
                o["strategy_id"],
                o["instrument_id"],
                o["side"],
                o["order_type"],
                _qty(o["quantity"]),
                _num(o["price"]),
                _qty(o["filled_qty"]),
                o["status"],
            ]
            for o in rows
        ],
    )


def _fills_table(rows: list[dict[str, Any]]) -> Table:
    columns = ["Time", "Strategy", "Instrument", "Side", "Qty", "Price", "Fee", "Order"]
    return _table(
        "Fills",
        columns,
        [
            [
                _time(f["ts_event"]),
                f["strategy_id"],
                f["instrument_id"],
                f["side"],
                _qty(f["qty"]),
                _num(f["price"]),
                f"{f['commission']:.8g}",
                f["client_order_id"],
            ]
            for f in rows
        ],
    )


def _ticker(t: dict[str, Any]) -> Table:
    spread = t["ask"] - t["bid"] if t["ask"] is not None and t["bid"] is not None else None
    columns = ["Bid", "Bid size", "Ask", "Ask size", "Spread", "Last", "Last size", "Time (UTC)"]
    row = [
        _num(t["bid"]),
        _qty(t["bid_size"]),
        _num(t["ask"]),
        _qty(t["ask_size"]),
        _num(spread),
        _num(t["last"]),
        _qty(t["last_size"]),
        _time(t["ts_ns"]),
    ]
    return _table(t["instrument_id"], columns, [row])


def _book(b: dict[str, Any]) -> Table:
    rows = [["", _num(px), _qty(size)] for px, size in reversed(b["asks"])]
    rows += [[_qty(size), _num(px), ""] for px, size in b["bids"]]
    title = f"{b['instrument_id']} book at {_time(b['ts_ns'])}"
    table = _table(title, ["Bids", "Price", "Asks"], rows)
    for column in table.columns:
        column.justify = "right"
    return table


def _order_line(o: dict[str, Any]) -> str:
    price = f" @ {_num(o['price'])}" if o["price"] is not None else ""
    filled = f", filled {_qty(o['filled_qty'])}" if o["filled_qty"] else ""
    style = "red" if o["status"] in REFUSED else "green"
    return (
        f"order [bold]{escape(o['client_order_id'])}[/] [{style}]{escape(o['status'])}[/]: "
        f"{o['side']} {_qty(o['quantity'])} {escape(o['instrument_id'])} {o['order_type']}"
        f"{price}{filled}"
    )


def _kill_line(risk: dict[str, Any], open_orders: int | None) -> str:
    if not risk["kill_switch"]:
        return f"kill switch [green]off[/]: trading state {escape(risk['state'])}"
    left = "" if open_orders is None else f"; open orders: {open_orders}"
    return f"kill switch [bold red]ON[/]: trading state {escape(risk['state'])}{left}"
