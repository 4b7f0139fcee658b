"""Storing a file's checked rows (`import_transactions`): one database transaction per
chunk, creating the missing members and recording one purchase event per row; and the
figures the command prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain import events
from domain.members import Channel
from domain.transactions.rows import member_profile
from domain.transactions.values import ACTOR, DEFAULT_CHUNK, TransactionReport, Transactions


async def import_transactions(*, uow_factory, transactions: Transactions, now: datetime,
                              channel: Channel = Channel.OFFLINE,
                              chunk_size: int = DEFAULT_CHUNK,
                              actor: str = ACTOR) -> TransactionReport:
    """Store a file's checked rows, one database transaction per `chunk_size` rows.

    Per chunk: one lookup of the chunk's customers' identities on `channel`, one insert
    of the members missing (joined_at and first_seen_at = the customer's earliest
    transaction in the whole file) and one of their identities, then the purchases
    through `events.bind_columns` and `events.store` (which keep the member_days
    rollup). Rows whose event id is already stored count as duplicates. A database
    failure rolls back the chunk in progress and propagates; earlier chunks stay, and
    importing the file again adds only what is missing.
    """
    report = TransactionReport(read=transactions.read,
                               rejected=sorted(transactions.rejected, key=lambda r: r.line))
    first = transactions.first_seen()
    key = str(channel)
    for start in range(0, len(transactions), chunk_size):
        stop = start + chunk_size
        customers = transactions.customer[start:stop]
        async with uow_factory() as uow:
            wanted = sorted(set(customers))
            owners = await uow.events.identity_members([(key, c) for c in wanted])
            missing = [c for c in wanted if (key, c) not in owners]
            if missing:
                await uow.imported_members.enroll_many(
                    channel=channel,
                    customers=[(c, events.at(first[c]), member_profile(c)) for c in missing],
                    now=now)
            columns = _purchases(transactions, start, stop, key)
            bound, unknown = await events.bind_columns(uow=uow, columns=columns)
            if unknown:  # an identity removed concurrently: cannot happen in one transaction
                raise RuntimeError(f"{len(unknown)} purchase(s) lost their member")
            result = await events.store(uow=uow, events=bound, now=now)
            await uow.audit.record(actor=actor, action="transactions.import",
                                   subject=f"channel:{channel}",
                                   detail={"rows": len(customers), "members_created": len(missing),
                                           "purchases": result.accepted,
                                           "duplicates": result.duplicates})
            await uow.commit()
        report.members_created += len(missing)
        report.purchases += result.accepted
        report.duplicates += result.duplicates
    return report


def _purchases(t: Transactions, start: int, stop: int, channel: str) -> events.EventColumns:
    customers = t.customer[start:stop]
    n = len(customers)
    return events.EventColumns(
        key=t.line[start:stop], external_id=t.external_id[start:stop],
        type=[events.EventType.PURCHASE] * n, occurred_us=t.occurred_us[start:stop],
        member_id=[None] * n, identity=[(channel, c) for c in customers],
        amount_minor=t.amount_minor[start:stop], channel=[channel] * n,
        properties=[None] * n)


def summary_counts(report: TransactionReport) -> Sequence[tuple[str, int]]:
    """The figures the command prints, in order."""
    return (("rows", report.read), ("members created", report.members_created),
            ("purchases recorded", report.purchases), ("duplicates", report.duplicates),
            ("rejected", len(report.rejected)))
