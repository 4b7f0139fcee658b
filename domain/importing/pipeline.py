"""Storing an events file's rows one transaction per chunk: valid rows land, every
rejected row is reported with its line and reason, and events seen before count as
duplicates, so re-running a file (after a failure, say) is safe."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from domain import errors, events
from domain.importing.blocks import block_plan
from domain.importing.rows import Row
from domain.importing.sources import FileSource, ProcessBlocks, ThreadBlocks

# Rows per transaction: a commit, and a lookup of the chunk's members, per chunk.
DEFAULT_CHUNK = 50_000
# Rows per block (the import's reader hands over blocks) and blocks read ahead.
BLOCK = 10_000
READ_AHEAD = 1


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that did not land: its line, the error code and why."""

    line: int
    code: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    """What an import did, so far or in all."""

    read: int = 0  # rows read, blank lines not counted
    accepted: int = 0  # newly stored
    duplicates: int = 0  # already stored (or earlier in the file): not stored again
    rejected: list[Rejected] = field(default_factory=list)


async def import_events(*, uow_factory, rows: Iterable[Row] | FileSource, now: datetime,
                        chunk_size: int = DEFAULT_CHUNK, block_size: int = BLOCK,
                        on_chunk: Callable[[ImportReport], None] | None = None
                        ) -> ImportReport:
    """Store the rows one transaction per `chunk_size` rows and report what happened.

    Valid rows land; a rejected row (unparseable, invalid, or naming an unknown member)
    is reported with its line and reason and stops nothing. A failure of the database
    rolls back the chunk in progress and propagates; earlier chunks stay, and running
    the same file again stores only what is missing.

    A pipeline: a reader parses, checks and encodes blocks of `block_size` rows while
    this task binds each block's members and hands it to the database, which works in
    its own thread without the GIL; the next block is read meanwhile. The reader is a
    thread, or for a `FileSource` a process of its own (parsing then runs on another
    core instead of sharing this process's GIL with the database's thread). A chunk is
    several blocks, so the database starts on a chunk as soon as its first block is
    read; on SQLite the member-day rollup is added once per chunk.

    `on_chunk` is called with the report so far after each chunk is committed (progress).
    """
    report = ImportReport()
    loop = asyncio.get_running_loop()
    block_size = min(block_size, chunk_size)
    blocks = (ProcessBlocks(rows, now=now, chunk_size=chunk_size, block_size=block_size)
              if isinstance(rows, FileSource) else ThreadBlocks(rows, now=now))
    pending: deque[tuple[asyncio.Future, bool]] = deque()  # (block, last of its chunk)
    plan = block_plan(chunk_size, block_size)

    def read_ahead() -> None:
        while len(pending) < READ_AHEAD:
            size, last = next(plan)
            pending.append((blocks.request(loop, size), last))

    try:
        started = more = False
        while not started or more:
            if started:  # no transaction for an empty last chunk
                block, _ = pending[0]
                await asyncio.wait([block])
                if not block.result().read:
                    break
            async with uow_factory() as uow:  # one transaction per chunk
                if not started:  # the store decides how the reader encodes batches
                    encode = uow.events.encoder()
                    blocks.start(encode)
                    read_ahead()
                    started = True
                more = await _store_chunk(uow, pending, read_ahead, report, now, bulk=encode)
            if on_chunk is not None:
                on_chunk(report)
    finally:
        blocks.stop()
        if pending:
            await asyncio.gather(*(block for block, _ in pending), return_exceptions=True)
        blocks.close()
    return report



async def _store_chunk(uow, pending, read_ahead, report: ImportReport, now: datetime, *,
                       bulk) -> bool:
    """Store blocks up to the end of a chunk (or of the file) in `uow` and commit; add
    the outcome to `report`. Returns whether the file may have more rows."""
    mark = await uow.events.start_bulk() if bulk else None
    read = accepted = duplicates = 0
    rejected: list[tuple[int, errors.DomainError]] = []
    known: dict = {}  # members looked up in this transaction
    more = True
    while True:
        future, last = pending.popleft()
        block = await future
        more = block.read == block.size  # else the file ended
        read += block.read
        rejected.extend(block.rejected)
        if not len(block.checked):
            if more:
                read_ahead()
        else:
            # Bind with the reader thread idle: the lookups' round trips to the database
            # thread would each wait for the reader to give up the GIL.
            bound = await events.resolve_slots(uow=uow, slots=block.slots, known=known)
            if block.payload is not None:
                unknown = events.unknown_members(block.checked, block.slots, bound)
                storing = asyncio.ensure_future(uow.events.insert_encoded(
                    block.payload, bound, received_at=now))
            else:
                ready, unknown = events.bind_slots(block.checked, block.slots, bound)
                storing = asyncio.ensure_future(
                    events.store(uow=uow, events=ready, now=now, roll_up=False) if bulk
                    else events.store(uow=uow, events=ready, now=now))
            rejected.extend(unknown)
            await asyncio.sleep(0)  # the statement goes to the database thread
            if more:
                read_ahead()  # the next block is read while the database (GIL-free) works
            result = await storing
            if block.payload is not None:
                accepted += result
                duplicates += len(block.checked) - len(unknown) - result
            else:
                accepted += result.accepted
                duplicates += result.duplicates
        if last or not more:
            break
    if mark is not None:
        await uow.events.roll_up_since(mark)
    await uow.commit()
    report.read += read
    report.accepted += accepted
    report.duplicates += duplicates
    rejected.sort(key=lambda pair: pair[0])
    report.rejected.extend(Rejected(line, error.code, error.message)
                           for line, error in rejected)
    return more
