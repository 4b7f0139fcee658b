"""Where an import's blocks are read: a thread of the importing process, or for a
file a process of its own (parsing then runs on another core instead of sharing the
importing process's GIL with the database's thread)."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import queue
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, tzinfo
from itertools import islice
from pathlib import Path

from domain.importing.blocks import Block, block_plan, read_block
from domain.importing.rows import FileError, Row, Rows, read_csv, read_jsonl

# Blocks a reader process may have parsed and not yet handed over.
PROCESS_READ_AHEAD = 2
# Bytes of a file from which reading it in a process of its own pays for starting one.
PROCESS_MIN_BYTES = 8 << 20
READ_BUFFER = 4 << 20  # bytes per read of a file


@dataclass(frozen=True, slots=True)
class FileSource:
    """An events file for `import_events` to read in a process of its own, in place of
    an iterator of its rows: same rows, same lines, same rejections."""

    path: Path
    format: str  # "csv" or "jsonl"
    tz: tzinfo | None = None  # of timestamps without an offset (None: they are rejected)

    def rows(self, lines: Iterable[bytes]) -> Iterator[Row]:
        read = read_csv if self.format == "csv" else read_jsonl
        return read(lines, default_tz=self.tz)


class ReaderFailed(FileError):
    """The process reading the file stopped without a word (killed, out of memory)."""

    code = "READER_FAILED"


class ThreadBlocks:
    """Blocks read by a thread of this process from an iterator of rows."""

    def __init__(self, rows: Iterable[Row], *, now: datetime) -> None:
        self._rows = rows if isinstance(rows, Rows) else iter(rows)
        self._now = now
        self._encode = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tierwise-import")

    def start(self, encode) -> None:
        self._encode = encode

    def request(self, loop: asyncio.AbstractEventLoop, size: int) -> asyncio.Future:
        return loop.run_in_executor(self._thread, read_block, self._rows, size, self._now,
                                    self._encode)

    def stop(self) -> None:
        """Nothing to end: a requested block is read to its end, then the thread idles."""

    def close(self) -> None:
        self._thread.shutdown(wait=True)


class ProcessBlocks:
    """Blocks read by a process of their own from a file, following the import's block
    plan and at most PROCESS_READ_AHEAD blocks ahead of the requests. The first block is
    read here, by a thread, while that process starts (it skips the block's rows)."""

    def __init__(self, source: FileSource, *, now: datetime, chunk_size: int,
                 block_size: int) -> None:
        # spawn: a fork of a process running threads (the database's) may deadlock
        context = multiprocessing.get_context("spawn")
        self._settings, settings = context.Pipe()
        self._blocks = context.Queue(maxsize=PROCESS_READ_AHEAD)
        self._process = context.Process(
            target=_read_in_process, name="tierwise-import-reader", daemon=True,
            args=(source, now, chunk_size, block_size, settings, self._blocks))
        self._process.start()
        settings.close()
        self._stopped = False
        self._source: FileSource | None = source  # until its first block is read here
        self._now = now
        self._encode = None
        self._thread = ThreadPoolExecutor(max_workers=1,
                                          thread_name_prefix="tierwise-import-receiver")

    def start(self, encode) -> None:
        self._settings.send(encode)
        self._encode = encode

    def request(self, loop: asyncio.AbstractEventLoop, size: int) -> asyncio.Future:
        if self._source is not None:
            source, self._source = self._source, None
            return loop.run_in_executor(self._thread, self._read_first, source, size)
        return loop.run_in_executor(self._thread, self._next)

    def _read_first(self, source: FileSource, size: int) -> Block:
        with source.path.open("rb", buffering=READ_BUFFER) as stream:
            return read_block(source.rows(stream), size, self._now, self._encode)

    def _next(self) -> Block:
        while True:
            try:
                item = self._blocks.get(timeout=0.1)
            except queue.Empty:
                if self._stopped:
                    raise ReaderFailed("the import stopped before this block") from None
                if not self._process.is_alive():
                    raise ReaderFailed(
                        f"the process reading the file stopped (exit code "
                        f"{self._process.exitcode}); the chunks before it were imported, "
                        "run the import again to finish") from None
                continue
            if isinstance(item, BaseException):
                raise item
            return item

    def stop(self) -> None:
        """No more blocks are wanted: end the reader (the import is done, or failed)."""
        self._stopped = True
        # Done reading, it exits once its last block is taken; stopped early, it waits
        # to hand over a block nobody will take.
        self._process.join(timeout=0.5)
        if self._process.is_alive():
            self._process.terminate()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._process.join()
        self._process.close()
        self._settings.close()
        self._blocks.close()


def _read_in_process(source: FileSource, now: datetime, chunk_size: int, block_size: int,
                     settings, out) -> None:
    """The reader process: blocks of `source` as the import's plan asks for them, each
    put on `out`; an exception is put there instead, for the import to raise."""
    # A process of its own: collect young objects rarely (an import allocates millions
    # of short-lived objects), as `tierwise import-events` does in the importing process.
    gc.set_threshold(100_000, 50, 1_000)
    try:
        encode = settings.recv()  # the store's batch encoder, once it is known
        with source.path.open("rb", buffering=READ_BUFFER) as stream:
            rows = source.rows(stream)
            plan = block_plan(chunk_size, block_size)
            first, _ = next(plan)  # read by the importing process
            records = rows.records if isinstance(rows, Rows) else rows
            if sum(1 for _ in islice(records, first)) < first:
                return  # the file ended within it
            for size, _ in plan:
                block = read_block(rows, size, now, encode)
                out.put(block)
                if block.read < size:
                    break
    except EOFError:
        return  # the import failed before it started reading
    except BaseException as error:  # noqa: BLE001 - handed over, raised by the import
        out.put(error)
