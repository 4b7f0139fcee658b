"""Use cases that write the points ledger. Each takes a unit of work and commits once.

Every write appends entries (never updates or deletes one) and moves the member's
balance row in the same transaction. Debits use a conditional update
(`balance >= amount`), so concurrent spends can never overdraw: the loser gets
INSUFFICIENT_POINTS. An idempotency key names each entry: the same key with the same
member, kind and amount returns the stored entry (a retry, counted once); with
anything else it is IDEMPOTENCY_KEY_REUSED.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time

from domain.members import MemberAlreadyMerged, MemberNotFound, MemberStatus
from domain.points import benefits, rules
from domain.points.rules import Entry, EntryKind
from domain.tiers import TierNotFound


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry before it is stored (no id yet)."""

    member_id: int
    kind: EntryKind
    amount: int
    idempotency_key: str
    reason: str
    actor: str
    occurred_at: datetime
    expires_at: datetime | None = None
    reverses_entry_id: int | None = None
    lot_entry_id: int | None = None
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class AccrualReport:
    examined: int  # events of rule types looked at
    written: int  # earn entries written now
    points: int  # points credited now
    members: int  # members credited now


@dataclass(frozen=True, slots=True)
class ExpiryReport:
    written: int  # expire entries written now
    points: int  # points expired now
    members: int


async def _check_member(uow, member_id: int, *, field: str = "memberId") -> None:
    await uow.points.lock_member(member_id)  # a merge in flight commits first (PostgreSQL)
    member = await uow.members.get(member_id)
    if member is None:
        raise MemberNotFound(f"member {member_id} does not exist", field=field)
    if member.status is MemberStatus.MERGED:
        raise MemberAlreadyMerged(f"member {member_id} was merged into member "
                                  f"{member.merged_into_id}", field=field)


def _retry_of(existing: Entry, new: NewEntry) -> Entry:
    if rules.same_request(existing, member_id=new.member_id, kind=new.kind, amount=new.amount):
        return existing
    raise rules.IdempotencyKeyReused(
        f"idempotency key {new.idempotency_key!r} already names a {existing.kind} of "
        f"{existing.amount} for member {existing.member_id}", field="idempotencyKey")


async def _stored(uow, new: NewEntry) -> Entry | None:
    """The stored entry a retry of `new` names (None: a new request); IDEMPOTENCY_KEY_REUSED
    when its key names a different request."""
    existing = await uow.points.entry_by_key(new.idempotency_key)
    return None if existing is None else _retry_of(existing, new)


async def post(uow, new: NewEntry, *, amount_field: str | None = "amount",
               check_member: bool = False) -> tuple[Entry, bool]:
    """Append `new` and move the balance; returns (entry, written). A retry returns the
    stored entry with written=False, even once the member was merged away; with
    `check_member` a new entry is refused for a missing or merged member. Does not
    commit. INSUFFICIENT_POINTS names `amount_field` (None when the amount is not an
    input, as in a redemption)."""
    stored = await _stored(uow, new)
    if stored is not None:
        return stored, False
    if check_member:
        await _check_member(uow, new.member_id)
    entry_id = await uow.points.insert_entry(new)
    if entry_id is None:  # a concurrent writer stored the key (or the reversal) first
        existing = await uow.points.entry_by_key(new.idempotency_key)
        if existing is not None:
            return _retry_of(existing, new), False
        raise rules.AlreadyReversed(f"entry {new.reverses_entry_id} was reversed already",
                                    field="entryId")
    if new.amount > 0:
        await uow.points.credit({new.member_id: new.amount})
    elif not await uow.points.debit(new.member_id, -new.amount):
        balance = (await uow.points.balances([new.member_id])).get(new.member_id, 0)
        raise rules.InsufficientPoints(
            f"member {new.member_id} has {balance} points, needs {-new.amount}",
            field=amount_field)
    return await uow.points.get_entry(entry_id), True


@dataclass(frozen=True, slots=True)
class RewardCredit:
    """Points another programme (referrals, campaign experiments) owes a member; `key`
    names the reward, so paying it again credits nothing more."""

    member_id: int
    points: int
    key: str
    reason: str


async def _active_owners(uow, member_ids: set[int]) -> dict[int, int]:
    """The active member each of `member_ids` is (or was merged into), with those members
    share-locked until commit (PostgreSQL): a merge in flight finishes first, and one that
    starts later waits, then moves the points written here with the rest."""
    if not member_ids:
        return {}
    await uow.points.lock_members(member_ids)
    owners = await uow.members.resolve_active(member_ids)
    await uow.points.lock_members(set(owners.values()) - member_ids)
    return owners


async def credit_rewards(*, uow, credits: list[RewardCredit], actor: str,
                         now: datetime) -> int:
    """Post each reward as an earn entry expiring like any earned points, within the
    caller's transaction (no commit). Rewards of a member merged since go to the member
    it was merged into. Returns the points newly credited.

    The key names the reward, so a reward credited before counts as paid whichever
    member holds it now: a merge (or its undo) since the first payment changes where
    the points would go, not whether they were paid."""
    owners = await _active_owners(uow, {c.member_id for c in credits})
    credited = 0
    for credit in credits:
        paid = await uow.points.entry_by_key(credit.key)
        if paid is not None and paid.kind is EntryKind.EARN and paid.amount == credit.points:
            continue
        new = NewEntry(member_id=owners.get(credit.member_id, credit.member_id),
                       kind=EntryKind.EARN, amount=credit.points,
                       idempotency_key=credit.key, reason=credit.reason, actor=actor,
                       occurred_at=now, expires_at=rules.expires_at(now,
                                                                    rules.DEFAULT_EXPIRY_DAYS))
        _, written = await post(uow, new)
        credited += credit.points if written else 0
    return credited


async def award_points(*, uow, member_id: int, amount: int, kind: EntryKind, reason: str,
                       idempotency_key: str, actor: str, now: datetime,
                       expiry_days: int | None = None) -> Entry:
    """An operator's `earn` (positive; expires after `expiry_days`, default 365) or
    `adjust` (either sign; a credit that never expires, a debit that cannot overdraw)."""
    if kind not in (EntryKind.EARN, EntryKind.ADJUST):
        raise rules.InvalidEntry(f"operators award earn or adjust entries, not {kind}",
                                 field="kind")
    if amount == 0 or abs(amount) > rules.MAX_POINTS:
        raise rules.InvalidEntry(f"amount must be non-zero and at most {rules.MAX_POINTS} "
                                 f"points, got {amount}", field="amount")
    if kind is EntryKind.EARN and amount < 0:
        raise rules.NegativePoints(f"earned points must be positive, got {amount}",
                                   field="amount")
    days = rules.DEFAULT_EXPIRY_DAYS if expiry_days is None else expiry_days
    if not 1 <= days <= rules.MAX_EXPIRY_DAYS:
        raise rules.InvalidEntry(f"expiry must be 1-{rules.MAX_EXPIRY_DAYS} days, got {days}",
                                 field="expiresInDays")
    new = NewEntry(member_id=member_id, kind=kind, amount=amount,
                   idempotency_key=rules.check_key(idempotency_key),
                   reason=rules.check_reason(reason), actor=actor, occurred_at=now,
                   expires_at=rules.expires_at(now, days) if kind is EntryKind.EARN else None)
    entry, written = await post(uow, new, check_member=True)
    if written:
        await uow.audit.record(actor=actor, action=f"points.{kind}", subject=f"member:{member_id}",
                               detail={"entry": entry.id, "amount": amount, "reason": new.reason})
    await uow.commit()
    return entry


async def spend_points(*, uow, member_id: int, amount: int, reason: str, idempotency_key: str,
                       actor: str, now: datetime) -> Entry:
    """Take `amount` (> 0) points from the member; INSUFFICIENT_POINTS beyond the balance."""
    if not 0 < amount <= rules.MAX_POINTS:
        raise rules.InvalidEntry(f"amount must be 1-{rules.MAX_POINTS}, got {amount}",
                                 field="amount")
    new = NewEntry(member_id=member_id, kind=EntryKind.SPEND, amount=-amount,
                   idempotency_key=rules.check_key(idempotency_key),
                   reason=rules.check_reason(reason), actor=actor, occurred_at=now)
    entry, written = await post(uow, new, check_member=True)
    if written:
        await uow.audit.record(actor=actor, action="points.spend", subject=f"member:{member_id}",
                               detail={"entry": entry.id, "amount": amount})
    await uow.commit()
    return entry


async def redeem_benefit(*, uow, member_id: int, benefit_id: int, idempotency_key: str,
                         actor: str, now: datetime) -> benefits.Redemption:
    """Spend the benefit's cost and take one unit of stock, in one transaction.

    Refused with BENEFIT_INACTIVE, OUT_OF_STOCK or INSUFFICIENT_POINTS (nothing
    written). The same key again returns the first redemption: no second spend."""
    key = rules.check_key(idempotency_key)
    existing = await uow.points.entry_by_key(key)
    if existing is not None:
        return await _redemption_retry(uow, existing, member_id=member_id, benefit_id=benefit_id)
    benefit = await uow.points.get_benefit(benefit_id)
    if benefit is None:
        raise benefits.BenefitNotFound(f"benefit {benefit_id} does not exist", field="benefitId")
    await _check_member(uow, member_id)
    if not benefit.active:
        raise benefits.BenefitInactive(f"benefit {benefit_id} is inactive", field="benefitId")
    if benefit.stock == 0:
        raise benefits.OutOfStock(f"benefit {benefit_id} is out of stock", field="benefitId")
    entry, written = await post(uow, NewEntry(
        member_id=member_id, kind=EntryKind.SPEND, amount=-benefit.cost_points,
        idempotency_key=key, reason=f"redeemed {benefit.name}", actor=actor, occurred_at=now),
        amount_field=None)  # the cost is the benefit's, not an input
    if not written:
        return await _redemption_retry(uow, entry, member_id=member_id, benefit_id=benefit_id)
    if not await uow.points.take_stock(benefit_id):
        raise benefits.OutOfStock(f"benefit {benefit_id} is out of stock", field="benefitId")
    redemption_id = await uow.points.add_redemption(
        member_id=member_id, benefit_id=benefit_id, entry_id=entry.id,
        cost_points=benefit.cost_points, now=now)
    await uow.audit.record(actor=actor, action="points.redeem", subject=f"member:{member_id}",
                           detail={"benefit": benefit_id, "entry": entry.id})
    await uow.commit()
    return await uow.points.get_redemption(redemption_id)


async def _redemption_retry(uow, entry: Entry, *, member_id: int,
                            benefit_id: int) -> benefits.Redemption:
    redemption = await uow.points.redemption_of_entry(entry.id)
    if redemption is None or (redemption.member_id, redemption.benefit_id) != (member_id,
                                                                               benefit_id):
        raise rules.IdempotencyKeyReused(
            f"idempotency key {entry.idempotency_key!r} already names a {entry.kind} of "
            f"{entry.amount} for member {entry.member_id}", field="idempotencyKey")
    return redemption


# Transfers belong to a member merge: undoing the merge is how they are taken back.
_NOT_REVERSIBLE = (EntryKind.REVERSE, EntryKind.EXPIRE, EntryKind.TRANSFER_OUT,
                   EntryKind.TRANSFER_IN)


async def reverse_entry(*, uow, entry_id: int, reason: str, actor: str,
                        now: datetime) -> Entry:
    """Append the opposite of entry `entry_id` (once only). Reversing a credit takes
    its own lot first and cannot overdraw; reversing a debit gives the points back as
    a credit that never expires. Reversals, expiries and merge transfers are not
    reversible; entries of a merged member are MEMBER_MERGED (undo the merge first)."""
    reason = rules.check_reason(reason)
    target = await uow.points.get_entry(entry_id)
    if target is None:
        raise rules.EntryNotFound(f"entry {entry_id} does not exist", field="entryId")
    if target.kind in _NOT_REVERSIBLE:
        raise rules.NotReversible(f"entry {entry_id} is a {target.kind}; it cannot be "
                                  "reversed", field="entryId")
    if await uow.points.reversal_of(entry_id) is not None:
        raise rules.AlreadyReversed(f"entry {entry_id} was reversed already", field="entryId")
    # A merged member's points moved to the survivor: a reversal would strand points on
    # (or take them from) an account that no longer counts. Undo the merge first.
    await _check_member(uow, target.member_id, field="entryId")
    entry, _ = await post(uow, NewEntry(
        member_id=target.member_id, kind=EntryKind.REVERSE, amount=-target.amount,
        idempotency_key=f"reverse:{entry_id}", reason=reason, actor=actor, occurred_at=now,
        reverses_entry_id=entry_id, lot_entry_id=entry_id if target.amount > 0 else None),
        amount_field="entryId")  # the amount is the entry's: no input names it
    await uow.audit.record(actor=actor, action="points.reverse",
                           subject=f"member:{target.member_id}",
                           detail={"entry": entry.id, "reverses": entry_id, "reason": reason})
    await uow.commit()
    return entry


async def set_earn_rules(*, uow, earn_rules: list[rules.EarnRule],
                         multipliers: list[rules.TierMultiplier], actor: str,
                         now: datetime) -> rules.EarnRules:
    """Replace the whole rule set (rules per event type, multipliers per tier)."""
    checked = rules.validate_rules(earn_rules, multipliers)
    known = await uow.tiers.get_many([m.tier_id for m in checked.multipliers])
    for index, multiplier in enumerate(checked.multipliers):
        if multiplier.tier_id not in known:
            raise TierNotFound(f"tier {multiplier.tier_id} does not exist",
                                      field=f"tierMultipliers.{index}.tierId")
    await uow.points.replace_rules(checked, now=now)
    await uow.audit.record(actor=actor, action="points.rules", subject="earn-rules",
                           detail={"rules": len(checked.rules),
                                   "multipliers": len(checked.multipliers)})
    await uow.commit()
    return await uow.points.earn_rules()


async def accrue_points(*, uow, as_of: datetime, since: datetime | None, actor: str,
                        now: datetime) -> AccrualReport:
    """Turn stored events before `as_of` (from the UTC day of `since`, or all) into earn
    entries per the earn rules (see rules.accruals). Idempotent: each event earns once,
    keyed by its id and type, so runs may overlap or repeat."""
    if since is not None and since >= as_of:
        raise rules.InvalidEntry("since must be before asOf", field="since")
    earn_rules = await uow.points.earn_rules()
    if not earn_rules.rules:
        return AccrualReport(examined=0, written=0, points=0, members=0)
    start = datetime.combine(since.astimezone(UTC).date(), time(), UTC) if since else None
    candidates = await uow.points.accrual_candidates(
        [r.event_type.value for r in earn_rules.rules], since=start, before=as_of)
    planned = rules.accruals(candidates, earn_rules)
    owners = await _active_owners(uow, {a.member_id for a in planned})
    planned = [replace(a, member_id=owners.get(a.member_id, a.member_id)) for a in planned]
    written = await uow.points.insert_accruals(planned, actor=actor, now=now)
    totals: dict[int, int] = defaultdict(int)
    for accrual in written:
        totals[accrual.member_id] += accrual.points
    if totals:
        await uow.points.credit(dict(sorted(totals.items())))
    report = AccrualReport(examined=len(candidates), written=len(written),
                           points=sum(totals.values()), members=len(totals))
    await uow.audit.record(actor=actor, action="points.accrue", subject="earn-rules",
                           detail={"asOf": as_of.isoformat(), "written": report.written,
                                   "points": report.points})
    await uow.commit()
    return report


async def expire_points(*, uow, as_of: datetime, actor: str, now: datetime) -> ExpiryReport:
    """Write an `expire` entry for the unspent remainder (FIFO, see rules) of every lot
    expired by `as_of`. Idempotent: a lot is expired once (key `expire:<lot id>`).
    `as_of` after `now` is INVALID_VALUE: it would expire points before their expiry."""
    if as_of > now:
        raise rules.InvalidEntry(f"asOf {as_of.isoformat()} is in the future: points "
                                 "expire at their expiry, not before", field="asOf")
    written = points = 0
    members = 0
    for member_id in sorted(await uow.points.members_with_expired_lots(as_of)):
        await uow.points.lock_balance(member_id)  # no spend may slip in between read and write
        entries = await uow.points.entries_of(member_id)
        lots = rules.replay(entries).lots
        remainders = rules.expirable(entries, as_of=as_of)
        for lot_id, remaining in sorted(remainders.items()):
            await post(uow, NewEntry(
                member_id=member_id, kind=EntryKind.EXPIRE, amount=-remaining,
                idempotency_key=f"expire:{lot_id}", reason=f"lot {lot_id} expired",
                actor=actor, occurred_at=lots[lot_id].expires_at, lot_entry_id=lot_id))
            written += 1
            points += remaining
        members += bool(remainders)
    report = ExpiryReport(written=written, points=points, members=members)
    await uow.audit.record(actor=actor, action="points.expire", subject="ledger",
                           detail={"asOf": as_of.isoformat(), "written": written,
                                   "points": points})
    await uow.commit()
    return report

