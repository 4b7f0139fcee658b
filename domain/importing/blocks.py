"""Blocks of rows as an import's reader (a thread or a process) hands them over:
parsed, checked, with each event's member slot and, when the store takes one, the
batch already encoded."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from domain import errors, events
from domain.importing.columns import parse_block
from domain.importing.rows import FIELDS, Row, RowError, Rows


@dataclass(slots=True)
class Block:
    """Up to `size` rows of a file, read: the checked events and the rejected rows."""

    read: int = 0
    checked: events.EventColumns = field(default_factory=events.EventColumns)  # by line
    rejected: list[tuple[int, errors.DomainError]] = field(default_factory=list)  # by line
    size: int = 0  # rows asked for
    slots: events.MemberSlots | None = None
    payload: Any = None  # the store's encoding of `checked`, when it takes one


def read_block(rows: Iterator[Row] | Rows, size: int, now: datetime, encode) -> Block:
    """`read_chunk`, plus each event's member slot and, given the store's `encode`
    and distinct external ids, the encoded batch (in the reader thread)."""
    block = read_chunk(rows, size, now)
    block.size = size
    block.slots = events.MemberSlots.of(block.checked)
    ids = block.checked.external_id
    if encode is not None and len(set(ids)) == len(ids):
        block.payload = encode(block.checked, block.slots.slot)
    return block


def read_chunk(rows: Iterator[Row] | Rows, size: int, now: datetime) -> Block:
    """Parse and check (events.check_event) up to `size` rows: a file's rows column-wise
    (parse_block), any other iterator of rows one by one."""
    chunk = Block()
    rejected = chunk.rejected
    if isinstance(rows, Rows):
        lines: list[int] = []
        records: list[list] = []
        for line, record in islice(rows.records, size):
            if record.__class__ is list:
                lines.append(line)
                records.append(record)
            else:
                rejected.append((line, record))
        chunk.read = len(lines) + len(rejected)
        columns = list(zip(*records, strict=True))
        fields = [columns[i] for i in rows.positions] if records else [()] * len(FIELDS)
        chunk.checked, block_rejected = parse_block(lines, fields, rows.tz, now)
        rejected.extend(block_rejected)
        return chunk
    checked = chunk.checked
    for line, item in islice(rows, size):
        chunk.read += 1
        if isinstance(item, RowError):
            rejected.append((line, item))
            continue
        try:
            checked.append(line, events.check_event(item, now=now))
        except events.EventError as error:
            rejected.append((line, error))
    return chunk


def block_plan(chunk_size: int, block_size: int) -> Iterator[tuple[int, bool]]:
    """(rows to read, whether that block ends its chunk), forever."""
    while True:
        left = chunk_size
        while left:
            size = min(block_size, left)
            left -= size
            yield size, not left
