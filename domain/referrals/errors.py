"""Referral failures: one base, `ReferralError`, and a subclass per fact with its code."""

from __future__ import annotations

from domain import errors


class ReferralError(errors.DomainError):
    """Base of referral failures."""


class UnknownCode(ReferralError, errors.NotFound):
    """No referral code is spelled like that."""

    code = "UNKNOWN_CODE"


class CodeExpired(ReferralError):
    """The code's expiry has passed, or it was replaced by a newer code."""

    code = "CODE_EXPIRED"


class OwnCode(ReferralError):
    """A member used their own code."""

    code = "OWN_CODE"


class AlreadyReferred(ReferralError):
    """The invitee already joined through a referral; a member is referred once."""

    code = "ALREADY_REFERRED"


class InviteeTooOld(ReferralError):
    """The invitee joined before the inviter, or too long before using the code."""

    code = "INVITEE_TOO_OLD"


class CodeExists(ReferralError):
    """The member already has an active code (pass replaceExisting to replace it)."""

    code = "CODE_EXISTS"


class NotFlagged(ReferralError):
    """Only a referral held for review can be reviewed."""

    code = "NOT_FLAGGED"


class AlreadyReviewed(ReferralError):
    """The referral was approved or rejected before; a review is final."""

    code = "ALREADY_REVIEWED"


class InvalidReferralRules(ReferralError, errors.InvalidValue):
    """A reward rule set with a bad amount, window, limit or a repeated reward."""


class ReferralNotFound(ReferralError, errors.NotFound):
    """No referral has that id."""


class InvalidReferralInput(ReferralError, errors.InvalidValue):
    """A fingerprint or an expiry that cannot be used."""
