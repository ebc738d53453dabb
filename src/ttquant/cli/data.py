"""``ttq data``: the market data catalog from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from ttquant.data.catalog import Catalog
    from ttquant.data.schema import DataType

data_app = typer.Typer(
    no_args_is_help=True,
    help="Market data catalog: import, download, list, inspect, validate and resample.",
)

CatalogOption = Annotated[
    Path | None,
    typer.Option(
        "--catalog",
        envvar="TTQ_CATALOG",
        help="catalog folder (default: $TTQ_CATALOG, else ttquant/catalog in the user data folder)",
    ),
]
TypeOption = Annotated[
    str, typer.Option("--type", "-t", help="data type: bars_1m, bars_1h, ..., trades or quotes")
]


def _catalog(root: Path | None) -> Catalog:
    from ttquant.data.catalog import Catalog, default_catalog_root

    return Catalog(root if root is not None else default_catalog_root())


def _errors() -> Any:
    from ttquant.cli.main import _user_errors

    return _user_errors()


def _console() -> Any:
    from ttquant.cli.main import _stdout_console

    return _stdout_console()


def _time_bound(text: str | None, what: str) -> int | None:
    """A YYYYMMDD date or epoch seconds/milliseconds as ns (the --timerange conventions)."""
    if text is None:
        return None
    from ttquant.data.timerange import parse_timerange

    start, _ = parse_timerange(f"{text}-")
    assert start is not None, what
    return start


@data_app.command("import")
def import_(
    paths: Annotated[
        list[Path], typer.Argument(help="files to import (CSV, zip, gz, Parquet, ...)")
    ],
    format_: Annotated[
        str,
        typer.Option("--format", "-f", help="auto, table, binance, freqtrade or shared"),
    ] = "auto",
    symbol: Annotated[str | None, typer.Option(help="ccxt-style symbol, e.g. BTC/USDT")] = None,
    venue: Annotated[str | None, typer.Option(help="venue, e.g. BINANCE")] = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", "-t", help="table files: bars, bars_1m, ..., trades or quotes"),
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="column mapping CATALOG=FILE, e.g. ts_event=Time; repeat"),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="epoch timestamp unit: s, ms, us or ns")] = None,
    timezone: Annotated[str, typer.Option(help="zone of text timestamps without one")] = "UTC",
    catalog: CatalogOption = None,
) -> None:
    """Import files into the catalog (appends deduplicate)."""
    with _errors():
        from ttquant.core.errors import ConfigError
        from ttquant.data.importers import ImportOptions, import_file

        columns = {}
        for pair in map_ or []:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(f"--map {pair!r} is not of the form CATALOG_COLUMN=FILE_COLUMN")
            columns[key.strip()] = value.strip()
        options = ImportOptions(
            format=format_,
            symbol=symbol,
            venue=venue,
            data_type=type_,
            columns=columns,
            timestamp_unit=unit,
            timezone=timezone,
        )
        store = _catalog(catalog)
        console = _console()
        for path in paths:
            for item in import_file(path, options):
                result = store.write(item.instrument, item.data_type, item.frame)
                console.print(
                    f"{escape(str(path))}: {result.rows:,} rows of {item.instrument} "
                    f"{item.data_type} ({result.replaced:,} replaced stored rows)",
                    highlight=False,
                    soft_wrap=True,
                )


@data_app.command("download")
def download(
    symbol: Annotated[str, typer.Option(help="ccxt symbol, e.g. BTC/USDT")],
    since: Annotated[str, typer.Option(help="start: YYYYMMDD or epoch s/ms")],
    exchange: Annotated[str, typer.Option(help="ccxt exchange id")] = "binance",
    timeframe: Annotated[str, typer.Option(help="bar step, e.g. 1m, 1h")] = "1m",
    trades: Annotated[bool, typer.Option("--trades", help="trades instead of bars")] = False,
    until: Annotated[str | None, typer.Option(help="end (exclusive); default now")] = None,
    api_url: Annotated[
        str | None, typer.Option(help="replace the exchange's REST host (a mirror or proxy)")
    ] = None,
    catalog: CatalogOption = None,
) -> None:
    """Download bars or trades through ccxt; a rerun resumes where the catalog ends."""
    with _errors():
        from ttquant.data.download import Downloader

        start = _time_bound(since, "since")
        assert start is not None
        end = _time_bound(until, "until")
        downloader = Downloader(_catalog(catalog), exchange, api_url=api_url)
        if trades:
            result = downloader.trades(symbol, start, end)
        else:
            result = downloader.ohlcv(symbol, timeframe, start, end)
        resumed = ""
        if result.resumed_from_ns is not None:
            from ttquant.core.time import ns_to_iso

            resumed = f", resumed at {ns_to_iso(result.resumed_from_ns)}"
        _console().print(
            f"{result.instrument} {result.data_type}: {result.rows:,} rows in "
            f"{result.requests} requests ({result.retries} retried){resumed}",
            highlight=False,
            soft_wrap=True,
        )


@data_app.command("list")
def list_(catalog: CatalogOption = None) -> None:
    """Every data set in the catalog with its size and time span."""
    with _errors():
        from ttquant.core.time import ns_to_iso

        store = _catalog(catalog)
        table = Table(title=f"Catalog {store.root}")
        for col in ("Instrument", "Type", "Rows", "First", "Last", "Files", "MB"):
            table.add_column(col, justify="right" if col in ("Rows", "Files", "MB") else "left")
        for info in store.datasets():
            table.add_row(
                info.instrument_id,
                str(info.data_type),
                f"{info.rows:,}",
                ns_to_iso(info.first_ns) if info.first_ns is not None else "-",
                ns_to_iso(info.last_ns) if info.last_ns is not None else "-",
                str(info.files),
                f"{info.bytes / 1e6:.1f}",
            )
        _console().print(table)


@data_app.command("info")
def info(
    instrument: Annotated[str, typer.Argument(help="SYMBOL@VENUE, e.g. BTC/USDT@BINANCE")],
    type_: TypeOption = "bars_1m",
    catalog: CatalogOption = None,
) -> None:
    """Details of one data set: files, rows, span, incomplete bars, recorded gaps."""
    with _errors():
        import polars as pl

        from ttquant.core.errors import DataError
        from ttquant.core.time import ns_to_iso
        from ttquant.data.schema import DataType

        store = _catalog(catalog)
        data_type = DataType.parse(type_)
        details = store.info(instrument, data_type)
        if details.files == 0:
            raise DataError(f"catalog {store.root} has no {data_type} of {instrument}")
        console = _console()
        rows = [
            ("path", str(details.path)),
            ("rows", f"{details.rows:,}"),
            ("first", ns_to_iso(details.first_ns) if details.first_ns is not None else "-"),
            ("last", ns_to_iso(details.last_ns) if details.last_ns is not None else "-"),
            ("files", str(details.files)),
            ("size", f"{details.bytes / 1e6:.1f} MB"),
        ]
        if data_type.kind == "bars":
            incomplete = (
                store.scan(instrument, data_type)
                .select((~pl.col("complete")).sum())
                .collect()
                .item()
            )
            rows.append(("incomplete bars", f"{incomplete:,}"))
        gaps = store.gaps(instrument, data_type)
        rows.append(("recorded gaps", f"{gaps.height:,}"))
        for key, value in rows:
            console.print(f"{key:>16}: {escape(value)}", highlight=False, soft_wrap=True)
        for start, end, missing in gaps.head(20).iter_rows():
            console.print(
                f"{'gap':>16}: {ns_to_iso(start)} .. {ns_to_iso(end)} ({missing:,} bars)",
                highlight=False,
            )


@data_app.command("validate")
def validate(
    instrument: Annotated[
        str | None, typer.Argument(help="SYMBOL@VENUE in the catalog (or use --file)")
    ] = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", "-t", help="bars_1m (default in the catalog), ..., trades, quotes"),
    ] = None,
    file: Annotated[
        Path | None, typer.Option(help="validate a file instead (any importable format)")
    ] = None,
    repair: Annotated[
        bool,
        typer.Option(help="catalog: drop duplicates and record gaps (nothing is invented)"),
    ] = False,
    show: Annotated[int, typer.Option(help="issues listed (all are counted)")] = 20,
    catalog: CatalogOption = None,
) -> None:
    """Report gaps, duplicates, OHLC errors, bad prices and spikes, with timestamps.

    Exits with status 1 when there are issues other than gaps recorded by --repair, so scripts
    can gate on clean data.
    """
    with _errors():
        import polars as pl

        from ttquant.core.errors import ConfigError
        from ttquant.data.importers import ImportOptions, import_file
        from ttquant.data.schema import DataType
        from ttquant.data.validation import repair as repair_frame
        from ttquant.data.validation import validate as validate_frame

        console = _console()
        targets: list[tuple[str, DataType, pl.DataFrame]] = []
        recorded: set[int] = set()  # gaps a repair recorded: known, not defects
        if file is not None:
            if repair:
                raise ConfigError("--repair works on the catalog: import the file, then repair")
            # a table file names no instrument; it is only checked, so its name will do
            options = ImportOptions(data_type=type_, symbol=file.name, venue="FILE")
            for item in import_file(file, options):
                targets.append((item.instrument, item.data_type, item.frame))
        elif instrument is not None:
            store = _catalog(catalog)
            data_type = DataType.parse(type_ or "bars_1m")
            frame = store.read(instrument, data_type)
            if frame.height == 0:
                raise ConfigError(f"catalog {store.root} has no {data_type} of {instrument}")
            if repair:
                fixed, gaps = repair_frame(frame, data_type)
                store.replace(instrument, data_type, fixed)
                if data_type.kind == "bars":
                    store.mark_gaps(instrument, data_type, gaps)
                console.print(
                    f"repaired {instrument} {data_type}: {frame.height - fixed.height:,} "
                    f"duplicate rows dropped, {gaps.height:,} gaps recorded",
                    highlight=False,
                )
                frame = fixed
            recorded = set(store.gaps(instrument, data_type)["start"].to_list())
            targets.append((instrument, data_type, frame))
        else:
            raise ConfigError("give an instrument in the catalog (SYMBOL@VENUE) or --file PATH")
        clean = True
        for iid, data_type, frame in targets:
            report = validate_frame(frame, data_type)
            counts = ", ".join(f"{n} {k}" for k, n in sorted(report.counts().items()))
            console.print(
                f"{iid} {data_type}: {report.rows:,} rows, " + (counts if counts else "no issues"),
                highlight=False,
                soft_wrap=True,
            )
            for issue in report.issues[:show]:
                console.print(f"  {escape(str(issue))}", highlight=False, soft_wrap=True)
            if len(report.issues) > show:
                console.print(f"  ... and {len(report.issues) - show:,} more", highlight=False)
            clean = clean and all(i.kind == "gap" and i.ts in recorded for i in report.issues)
        if not clean:
            raise typer.Exit(1)


@data_app.command("resample")
def resample(
    instrument: Annotated[str, typer.Argument(help="SYMBOL@VENUE, e.g. BTC/USDT@BINANCE")],
    to: Annotated[str, typer.Option(help="target bars: 1h, 1d, ... or N-tick, N-volume, N-value")],
    source: Annotated[
        str, typer.Option("--from", help="source data type: bars_1m, ... or trades")
    ] = "bars_1m",
    timezone: Annotated[str, typer.Option(help="day bars: the exchange's time zone")] = "UTC",
    day_offset: Annotated[
        str | None, typer.Option(help="day bars: day start after local midnight, e.g. 17h")
    ] = None,
    catalog: CatalogOption = None,
) -> None:
    """Aggregate bars into longer bars, or trades into time/tick/volume/value bars.

    Time bars are written to the catalog as bars_STEP; tick/volume/value bars go to a
    Parquet file next to the data set (the catalog keeps time bars).
    """
    with _errors():
        from ttquant.core.errors import ConfigError
        from ttquant.data.batch_aggregation import aggregate_trades, resample_bars
        from ttquant.data.schema import DataType
        from ttquant.model.data import BarType, parse_step
        from ttquant.model.enums import BarAggregation

        store = _catalog(catalog)
        source_type = DataType.parse(source)
        offset = 0 if day_offset is None else _signed_step(day_offset)
        frame = store.read(instrument, source_type)
        if frame.height == 0:
            raise ConfigError(f"catalog {store.root} has no {source_type} of {instrument}")
        count, sep, kind = to.partition("-")
        if sep:
            if source_type.kind != "trades":
                raise ConfigError(
                    "tick, volume and value bars are built from trades (--from trades)"
                )
            try:
                aggregation = BarAggregation(kind.upper())
                size = int(float(count))
            except ValueError:
                raise ConfigError(
                    f"--to {to!r}: expected N-tick, N-volume or N-value (e.g. 1000-tick)"
                ) from None
            bars = aggregate_trades(frame, BarType(instrument, size, aggregation))
            out = store.dataset_path(instrument, source_type).parent / f"bars_{to.lower()}.parquet"
            bars.write_parquet(out)
            where = str(out)
        else:
            step = parse_step(to)
            if source_type.kind == "trades":
                last = int(frame["ts_event"].max())  # type: ignore[arg-type]
                bars = aggregate_trades(
                    frame,
                    BarType(instrument, step),
                    timezone=timezone,
                    day_offset=offset,
                    end_ns=last + 1,
                )
            elif source_type.kind == "bars":
                bars = resample_bars(frame, step, timezone=timezone, day_offset=offset)
            else:
                raise ConfigError("bars are built from bars or trades, not quotes")
            target = DataType.bars(step)
            store.write(instrument, target, bars)
            where = f"{instrument} {target}"
        incomplete = int((~bars["complete"]).sum())
        _console().print(
            f"{bars.height:,} bars ({incomplete:,} incomplete) written to {escape(where)}",
            highlight=False,
            soft_wrap=True,
        )


def _signed_step(text: str) -> int:
    from ttquant.model.data import parse_step

    text = text.strip()
    return -parse_step(text[1:]) if text.startswith("-") else parse_step(text)
