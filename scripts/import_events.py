"""`tierwise import-events FILE`: load events from a CSV or JSON Lines file.

Valid rows land, one transaction per chunk (progress on stderr every few seconds);
each rejected row is printed as `line N: CODE reason` (and all of them written to
`--rejects OUT.csv`); events already stored count as duplicates, so running a file
again is safe. Exit code 0 when nothing was rejected, 1 when some rows were, 2 when the
file cannot be read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import functools
import gc
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain import importing
from domain.clock import utcnow
from domain.store.database import Database
from scripts import config

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SHOWN_REJECTS = 50
PROGRESS_EVERY = 2.0  # seconds between progress lines


class UnreadableFile(Exception):
    """The file cannot be opened, or is not a CSV/JSON Lines file of events."""


@dataclass(frozen=True, slots=True)
class Outcome:
    report: importing.ImportReport
    seconds: float

    @property
    def rate(self) -> float:
        """Rows read per second, over the whole import."""
        return self.report.read / self.seconds if self.seconds else 0.0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "import-events", help="import events from a CSV or JSON Lines file",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="the file (.csv, .jsonl or .ndjson)")
    parser.add_argument("--format", choices=("csv", "jsonl"),
                        help="the file's format (default: by its extension)")
    parser.add_argument("--chunk-size", type=_positive, default=importing.DEFAULT_CHUNK,
                        help=f"rows per transaction (default {importing.DEFAULT_CHUNK})")
    parser.add_argument("--timezone", metavar="TZ",
                        help="time zone of timestamps without a UTC offset, e.g. Asia/Shanghai "
                             "(default: such timestamps are rejected)")
    parser.add_argument("--rejects", type=Path, metavar="OUT.csv",
                        help="write every rejected row (line, code, reason) to this CSV file")
    parser.set_defaults(handler=run)


class Progress:
    """Prints how far an import got, at most every `every` seconds (to stderr from the
    command: an import of millions of rows runs for minutes)."""

    def __init__(self, out: TextIO, *, every: float = PROGRESS_EVERY) -> None:
        self._out = out
        self._every = every
        self._started = self._shown = time.perf_counter()

    def __call__(self, report: importing.ImportReport) -> None:
        now = time.perf_counter()
        if now - self._shown < self._every:
            return
        self._shown = now
        rate = report.read / (now - self._started) if now > self._started else 0.0
        print(f"... read {report.read:,}, accepted {report.accepted:,}, duplicates "
              f"{report.duplicates:,}, rejected {len(report.rejected):,} ({rate:,.0f} "
              "events/s)", file=self._out, flush=True)


def run(args) -> int:
    try:
        timezone = ZoneInfo(args.timezone) if args.timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        print(f"error: unknown time zone {args.timezone!r} (use an IANA name like Asia/Shanghai)")
        return 2
    try:
        outcome = asyncio.run(_import(config.from_environment().database_url, args, timezone))
    except UnreadableFile as error:
        print(f"error: {error}")
        return 2
    _print_rejects(outcome.report.rejected, args.rejects)
    print(summary(outcome))
    return 1 if outcome.report.rejected else 0


async def _import(url: str, args, timezone) -> Outcome:
    db = Database(url)
    try:
        return await import_file(db, args.file, fmt=args.format, chunk_size=args.chunk_size,
                                 timezone=timezone, progress=Progress(sys.stderr))
    finally:
        await db.dispose()


async def import_file(db: Database, path: Path, *, fmt: str | None = None,
                      chunk_size: int = importing.DEFAULT_CHUNK, timezone=None,
                      now: datetime | None = None,
                      process_min_bytes: int = importing.PROCESS_MIN_BYTES,
                      progress: Callable[[importing.ImportReport], None] | None = None
                      ) -> Outcome:
    """Import one file into `db` (what the command and `tierwise bench import` run);
    `progress` gets the report so far after each chunk."""
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UnreadableFile(f"cannot tell the format of {path} from its extension; "
                             "give --format csv or --format jsonl")
    try:
        # Big reads: each read releases the GIL, and a reader thread that releases it
        # every few rows keeps the database thread from ever getting it back.
        stream = path.open("rb", buffering=importing.READ_BUFFER)
        size = os.fstat(stream.fileno()).st_size
    except OSError as error:
        raise UnreadableFile(f"cannot read {path}: {error.strerror}") from None
    with stream, _bulk_collection():
        started = time.perf_counter()
        try:
            source = importing.FileSource(path, fmt, timezone)
            # A big file is read in a process of its own, in parallel with the database's
            # work; a small one is not worth starting a process for.
            rows = source if size >= process_min_bytes else source.rows(stream)
            # Every event is bound to a member looked up in its own transaction, under
            # the write lock: SQLite need not check the references again, row by row.
            report = await importing.import_events(
                uow_factory=functools.partial(db.unit_of_work, check_references=False),
                rows=rows, now=now or utcnow(),
                chunk_size=chunk_size, on_chunk=progress)
            await db.checkpoint()  # the import's work includes writing it to the file
        except importing.FileError as error:
            raise UnreadableFile(f"{path}: {error.message}") from None
        except OSError as error:
            # Chunks before the failure were committed; importing the file again adds
            # only what is missing.
            raise UnreadableFile(f"reading {path} failed part-way: {error}; the rows "
                                 "before it were imported, run again to finish") from None
        return Outcome(report=report, seconds=time.perf_counter() - started)


@contextlib.contextmanager
def _bulk_collection() -> Iterator[None]:
    # An import allocates millions of short-lived objects and keeps two chunks alive;
    # the default thresholds then rescan the whole heap several times per chunk
    # (about a fifth of the run). Freeze what exists and collect young objects rarely.
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _print_rejects(rejected: list[importing.Rejected], out: Path | None) -> None:
    for row in rejected[:SHOWN_REJECTS]:
        print(f"line {row.line}: {row.code} {row.reason}")
    if len(rejected) > SHOWN_REJECTS:
        hint = f" (all in {out})" if out else " (--rejects OUT.csv writes them all)"
        print(f"... and {len(rejected) - SHOWN_REJECTS:,} more rejected row(s){hint}")
    if out is not None:
        try:
            with out.open("w", newline="", encoding="utf-8") as file:
                writer = csv.writer(file)
                writer.writerow(("line", "code", "reason"))
                writer.writerows((r.line, r.code, r.reason) for r in rejected)
        except OSError as error:
            print(f"warning: cannot write the rejected rows to {out}: {error.strerror}")


def summary(outcome: Outcome) -> str:
    r = outcome.report
    return (f"read {r.read:,}, accepted {r.accepted:,}, duplicates {r.duplicates:,}, "
            f"rejected {len(r.rejected):,} in {outcome.seconds:.2f} s "
            f"({outcome.rate:,.0f} events/s)")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
