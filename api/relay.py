"""Relay conventions: the Node interface, global ids, cursors and connections."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry

from api.errors import ApiError

T = TypeVar("T")


@strawberry.interface(description="An object with a global id, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


def to_global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


class InvalidGlobalId(ApiError):
    code = "INVALID_ID"


def from_global_id(value: str, *, expected: str | tuple[str, ...] | None = None,
                   field: str = "id") -> tuple[str, int]:
    """Decode `Type:pk`; raise InvalidGlobalId for anything else (or another type)."""
    try:
        padded = value + "=" * (-len(value) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        number = int(pk)
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidGlobalId(f"{value!r} is not a tierwise id", field=field) from None
    if number <= 0 or not type_name:
        raise InvalidGlobalId(f"{value!r} is not a tierwise id", field=field)
    wanted = (expected,) if isinstance(expected, str) else expected
    if wanted and type_name not in wanted:
        raise InvalidGlobalId(f"{value!r} is a {type_name} id, expected {' or '.join(wanted)}",
                              field=field)
    return type_name, number


def pk_of(value: str, expected: str, *, field: str) -> int:
    return from_global_id(value, expected=expected, field=field)[1]


class InvalidCursor(ApiError):
    code = "INVALID_CURSOR"


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    parts = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps([kind, *parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, types: Sequence[type]) -> tuple[Any, ...]:
    """The sort key inside `cursor`; it must come from a connection of the same kind/order."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(raw, list) or raw[0] != kind or len(raw) != len(types) + 1:
            raise ValueError
        return tuple(datetime.fromisoformat(v) if t is datetime else t(v)
                     for t, v in zip(types, raw[1:], strict=True))
    except (binascii.Error, UnicodeError, ValueError, TypeError, IndexError):
        raise InvalidCursor(f"cursor {cursor!r} does not belong to this list or order",
                            field="after") from None


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    node: T
    _kind: strawberry.Private[str]
    _key: strawberry.Private[tuple]

    @strawberry.field(description="Pass as `after` to continue after this edge.")
    def cursor(self) -> str:
        return encode_cursor(self._kind, self._key)  # computed only when asked for


@strawberry.type(description="A page of a list, with `first`/`after` keyset pagination.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Nodes of this page, without the edges.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many items match in all pages (one extra query, "
                                  "run only when asked).")
    async def total_count(self) -> int:
        return await self._count()


def connection(nodes: list, keys: list[tuple], *, kind: str, has_next: bool,
               after: str | None, count: Callable[[], Awaitable[int]]) -> Connection:
    """A page of `nodes` whose sort keys are `keys` (cursors are made from them)."""
    edges = [Edge(node=n, _kind=kind, _key=k) for n, k in zip(nodes, keys, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(has_next_page=has_next, has_previous_page=after is not None,
                           start_cursor=encode_cursor(kind, keys[0]) if keys else None,
                           end_cursor=encode_cursor(kind, keys[-1]) if keys else None),
        _count=count,
    )
