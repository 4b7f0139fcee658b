"""Binding checked events to their members, following merges to the survivor: per event
(`bind_columns`) or once per distinct member id or identity of a batch (`MemberSlots`,
`resolve_slots`, `bind_slots`), and the UnknownMember errors of those that name no member.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.events.columns import EventColumns
from domain.events.errors import EventError, UnknownMember
from domain.events.values import RESOLVE_IDS


async def bind_columns(*, uow, columns: EventColumns
                       ) -> tuple[EventColumns, list[tuple[int, EventError]]]:
    """Bind checked events to their members, following merges to the survivor.

    Returns the bound events (`member_id` the member to store them for,
    `origin_member_id` the one they named) and (key, UnknownMember) for the others.
    One lookup per RESOLVE_IDS distinct member ids, one for the distinct identities.
    """
    ids = list({m for m in columns.member_id if m is not None})
    by_id: dict[int, int] = {}
    for start in range(0, len(ids), RESOLVE_IDS):
        by_id.update(await uow.members.resolve_active(ids[start:start + RESOLVE_IDS]))
    keys = {d for d in columns.identity if d is not None}
    keys.discard(None)
    by_key = await uow.events.identity_members(keys) if keys else {}
    get_id, get_key = by_id.get, by_key.get
    bound = [get_id(m) if m is not None else get_key(d)
             for m, d in zip(columns.member_id, columns.identity, strict=True)]
    unknown: list[tuple[int, EventError]] = []
    if None in bound:
        missing = [i for i, b in enumerate(bound) if b is None]
        unknown = [(columns.key[i], UnknownMember(
            _missing_member(columns.member_id[i], columns.identity[i]), field="memberId"))
            for i in missing]
        keep = sorted(set(range(len(bound))) - set(missing))
        columns, bound = columns.take(keep), [bound[i] for i in keep]
    columns.origin_member_id = [m if m is not None else b
                                for m, b in zip(columns.member_id, bound, strict=True)]
    columns.member_id = bound
    return columns, unknown


@dataclass(slots=True)
class MemberSlots:
    """Which member each event of a batch names, without a lookup per event: `slot[i]`
    indexes the batch's distinct member ids (`ids`), then its distinct identities
    (`keys`), so binding looks each up once (`resolve_slots`) and a store can bind
    every event from the per-slot answers."""

    ids: list[int]
    keys: list[tuple[str, str]]
    slot: list[int]

    @classmethod
    def of(cls, columns: EventColumns) -> MemberSlots:
        """The slots of checked (not yet bound) events."""
        ids = dict.fromkeys(m for m in columns.member_id if m is not None)
        keys = dict.fromkeys(d for d in columns.identity if d is not None)
        slots = {m: i for i, m in enumerate(ids)}
        slots.update((d, i) for i, d in enumerate(keys, len(ids)))
        at = slots.__getitem__
        return cls(ids=list(ids), keys=list(keys),
                   slot=[at(m if m is not None else d)
                         for m, d in zip(columns.member_id, columns.identity, strict=True)])


async def resolve_slots(*, uow, slots: MemberSlots, known: dict | None = None
                        ) -> list[tuple[int, int] | None]:
    """Per slot: (the member to store its events for, the member they name), following
    merges to the survivor, or None for an unknown member (what `bind_columns` decides
    per event). One lookup per RESOLVE_IDS ids, one for the identities.

    `known` (member id or identity -> answer) carries answers between the batches of
    one transaction: only what it lacks is looked up, and the answers are added to it.
    (The answers of one lookup per chunk, as `bind_columns` gives them.)
    """
    known = {} if known is None else known
    ids = [m for m in slots.ids if m not in known]
    keys = [d for d in slots.keys if d not in known]
    by_id: dict[int, int] = {}
    for start in range(0, len(ids), RESOLVE_IDS):
        by_id.update(await uow.members.resolve_active(ids[start:start + RESOLVE_IDS]))
    by_key = await uow.events.identity_members(keys) if keys else {}
    known.update((m, (by_id[m], m) if m in by_id else None) for m in ids)
    known.update((d, (by_key[d], by_key[d]) if d in by_key else None) for d in keys)
    return [known[m] for m in slots.ids] + [known[d] for d in slots.keys]


def bind_slots(columns: EventColumns, slots: MemberSlots,
               bound: list[tuple[int, int] | None]
               ) -> tuple[EventColumns, list[tuple[int, EventError]]]:
    """`bind_columns`' result from `resolve_slots`' answers: the bound events and
    (key, UnknownMember) for the others."""
    per_event = [bound[s] for s in slots.slot]
    unknown = unknown_members(columns, slots, bound)
    if unknown:
        missing = {i for i, b in enumerate(per_event) if b is None}
        keep = [i for i in range(len(per_event)) if i not in missing]
        columns, per_event = columns.take(keep), [per_event[i] for i in keep]
    bound_columns = EventColumns(
        key=columns.key, external_id=columns.external_id, type=columns.type,
        occurred_us=columns.occurred_us, member_id=[b[0] for b in per_event],
        identity=[None] * len(per_event), amount_minor=columns.amount_minor,
        channel=columns.channel, properties=columns.properties,
        origin_member_id=[b[1] for b in per_event])
    return bound_columns, unknown


def unknown_members(columns: EventColumns, slots: MemberSlots,
                    bound: list[tuple[int, int] | None]) -> list[tuple[int, EventError]]:
    """(key, UnknownMember) of the events whose slot `resolve_slots` found no member for."""
    if None not in bound:
        return []
    return [(columns.key[i], UnknownMember(
        _missing_member(columns.member_id[i], columns.identity[i]), field="memberId"))
        for i, s in enumerate(slots.slot) if bound[s] is None]


def _missing_member(member_id: int | None, identity: tuple[str, str] | None) -> str:
    if member_id is not None:
        return f"member {member_id} does not exist"
    channel, external_id = identity
    return f"no member has {channel} identity {external_id!r}"
