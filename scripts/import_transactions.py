"""`tierwise import-transactions FILE`: load a business's purchase history from a CSV file.

The file has a header row and one row per transaction: the customer's id, the date
(or timestamp) and the amount (column names configurable). Each customer becomes a
member holding the identity (CHANNEL, customer id), created when missing; each row
becomes one purchase event whose id is derived from the row, so importing the same
file again creates nothing twice. Rejected rows are printed as `line N: CODE reason`.
Exit code 0 when every row landed, 1 when some rows were rejected, 2 when the file
cannot be read or lacks a column (nothing is written then).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from domain import errors, importing, transactions
from domain.clock import utcnow
from domain.importing import FileError
from domain.store.database import Database
from scripts import config
from scripts.import_events import _positive, _print_rejects


class Fatal(Exception):
    """The import cannot start: an unreadable file, a missing column, a bad option."""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-transactions", help="import purchases (customer_id,date,amount) from a CSV file",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="the CSV file")
    parser.add_argument("--customer-column", default="customer_id", metavar="NAME",
                        help="header of the customer id column (default customer_id)")
    parser.add_argument("--date-column", default="date", metavar="NAME",
                        help="header of the date column (default date)")
    parser.add_argument("--amount-column", default="amount", metavar="NAME",
                        help="header of the amount column (default amount)")
    parser.add_argument("--channel", default="offline",
                        help="channel of the customer identities (default offline)")
    parser.add_argument("--currency-scale", type=int, default=transactions.DEFAULT_SCALE,
                        metavar="N", help="minor units per major unit: 100 for cents "
                        "(default), 1 for currencies without minor units")
    parser.add_argument("--date-format", metavar="FORMAT",
                        help="strptime format of the dates, e.g. %%d/%%m/%%Y (default: ISO "
                             "dates = midnight UTC, or ISO timestamps with an offset); "
                             "dates without an offset are taken as UTC")
    parser.add_argument("--chunk-size", type=_positive, default=transactions.DEFAULT_CHUNK,
                        help="rows per database transaction "
                             f"(default {transactions.DEFAULT_CHUNK})")
    parser.add_argument("--rejects", type=Path, metavar="OUT.csv",
                        help="write every rejected row (line, code, reason) to this CSV file")
    parser.set_defaults(handler=run)


def run(args) -> int:
    started = time.perf_counter()
    try:
        report = asyncio.run(_import(config.from_environment().database_url, args))
    except Fatal as error:
        print(f"error: {error}")
        return 2
    _print_rejects(report.rejected, getattr(args, "rejects", None))
    figures = ", ".join(f"{name} {value:,}" for name, value in transactions.summary_counts(report))
    print(f"{figures} in {time.perf_counter() - started:.2f} s")
    return 1 if report.rejected else 0


async def _import(url: str, args) -> transactions.TransactionReport:
    db = Database(url)
    try:
        return await import_file(
            db, args.file, columns=transactions.Columns(
                customer=args.customer_column, date=args.date_column, amount=args.amount_column),
            channel=args.channel, scale=args.currency_scale, date_format=args.date_format,
            chunk_size=getattr(args, "chunk_size", transactions.DEFAULT_CHUNK))
    finally:
        await db.dispose()


async def import_file(db: Database, path: Path, *,
                      columns: transactions.Columns = transactions.Columns(),
                      channel: str = "offline", scale: int = transactions.DEFAULT_SCALE,
                      date_format: str | None = None,
                      chunk_size: int = transactions.DEFAULT_CHUNK,
                      now=None) -> transactions.TransactionReport:
    """Read and check the whole file, then store it (raises Fatal before writing
    anything when the options, the file or its header are unusable)."""
    now = now or utcnow()
    try:
        known = transactions.check_channel(channel)
        transactions.check_scale(scale)
    except errors.DomainError as error:
        raise Fatal(error.message) from None
    try:
        with path.open("rb", buffering=importing.READ_BUFFER) as stream:
            rows = transactions.read_transactions(
                stream, now=now, columns=columns, channel=known, scale=scale,
                date_format=date_format)
    except OSError as error:
        raise Fatal(f"cannot read {path}: {error.strerror or error}") from None
    except FileError as error:
        raise Fatal(f"{path}: {error.message}") from None
    return await transactions.import_transactions(
        uow_factory=db.unit_of_work, transactions=rows, now=now, channel=known,
        chunk_size=chunk_size)

