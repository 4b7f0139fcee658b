"""Referral codes and what is checked when one is used: drawing and normalising codes,
their expiry, hashed fingerprints and contact details, and whether the invitee is new.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from domain.referrals.errors import CodeExpired, InvalidReferralInput, InviteeTooOld
from domain.referrals.values import Fingerprint, ReferralCode, ReferralRules

# No 0/O, 1/I/L: a code read aloud or copied from a poster cannot be mistyped into another.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8  # 31^8 ~ 8.5e11 codes: guessing one at random is hopeless


def new_code() -> str:
    """A random code of CODE_LENGTH characters from the unambiguous CODE_ALPHABET."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str:
    """What a user typed, as stored: upper case, without spaces or dashes."""
    return re.sub(r"[\s\-]", "", text).upper()


def check_code_usable(code: ReferralCode, *, now: datetime) -> None:
    """Raise CodeExpired for a code past its expiry or replaced by a newer one."""
    if code.revoked_at is not None:
        raise CodeExpired(f"code {code.code} was replaced on {code.revoked_at.isoformat()}",
                          field="code")
    if code.expires_at is not None and code.expires_at <= now:
        raise CodeExpired(f"code {code.code} expired at {code.expires_at.isoformat()}",
                          field="code")


# --- hashing of contact facts ---

def _hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def fingerprint_of(*, device_id: str | None, ip: str | None) -> Fingerprint:
    """Hash a device id and an IP address (validated, normalised) into a Fingerprint."""
    device = (device_id or "").strip()
    if len(device) > 200:
        raise InvalidReferralInput("deviceId must be at most 200 characters",
                                   field="fingerprint.deviceId")
    ip_text = (ip or "").strip()
    if ip_text:
        try:
            ip_text = ipaddress.ip_address(ip_text).compressed
        except ValueError:
            raise InvalidReferralInput(f"ip {ip!r} is not an IP address",
                                       field="fingerprint.ip") from None
    return Fingerprint(device_hash=_hash("device", device) if device else None,
                       ip_hash=_hash("ip", ip_text) if ip_text else None)


def contact_hashes(*, email: str | None, phone: str | None,
                   external_ids: Iterable[str] = ()) -> frozenset[str]:
    """Hashes of a member's e-mail (lower case), phone (digits only) and channel account
    ids: two members sharing any of them are likely one person."""
    found = set()
    if email and email.strip():
        found.add(_hash("email", email.strip().lower()))
    digits = re.sub(r"\D", "", phone or "")
    if digits:
        found.add(_hash("phone", digits))
    found.update(_hash("account", e.strip()) for e in external_ids if e.strip())
    return frozenset(found)


# --- the invitee must be new ---

def check_invitee_new(*, invitee_joined_at: datetime, inviter_joined_at: datetime,
                      used_at: datetime, rules: ReferralRules) -> None:
    """Raise InviteeTooOld unless the invitee is a new member brought by this code.

    New means: joined no earlier than the inviter, and no more than
    `rules.join_grace_hours` before using the code (enrolment and code entry happen
    in one sign-up, so a few hours cover app retries; a member of last month is not
    a referral).
    """
    if invitee_joined_at < inviter_joined_at:
        raise InviteeTooOld(
            f"the invitee joined at {invitee_joined_at.isoformat()}, before the inviter "
            f"({inviter_joined_at.isoformat()})", field="inviteeMemberId")
    grace = timedelta(hours=rules.join_grace_hours)
    if invitee_joined_at < used_at - grace:
        raise InviteeTooOld(
            f"the invitee joined at {invitee_joined_at.isoformat()}, more than "
            f"{rules.join_grace_hours} h before using the code", field="inviteeMemberId")


def window_end(joined_at: datetime, rules: ReferralRules) -> date:
    """The first UTC day whose purchases no longer convert: the join day plus the
    attribution window (30 days: the join day and the 29 days after it count)."""
    return joined_at.date() + timedelta(days=rules.attribution_window_days)
