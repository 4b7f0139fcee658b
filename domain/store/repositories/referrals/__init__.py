"""Referral codes, invitations, reward rule sets and rewards.

Rewards are granted with INSERT ... SELECT ... ON CONFLICT DO NOTHING on the unique
(referral, beneficiary, trigger) key, so every run, retry or concurrent run of the
processing grants each reward once.

The SQL is one class put together from one part per concern:

- base.py: the rows turned into domain values, the list filter and `ReferralBase` (the
  connection and `_insert`);
- rules.py: reward rule sets; codes.py: codes and the per-inviter lock;
- invitations.py: invitations, joins and reads; fraud.py: what the fraud rules look at;
- rewards.py: conversion, rewards, reviews and payouts; kfactor.py: the K-factor's inputs.
"""

from domain.store.repositories.referrals.codes import CodesMixin
from domain.store.repositories.referrals.fraud import FraudInputsMixin
from domain.store.repositories.referrals.invitations import InvitationsMixin
from domain.store.repositories.referrals.kfactor import KFactorMixin
from domain.store.repositories.referrals.rewards import RewardsMixin
from domain.store.repositories.referrals.rules import RulesMixin


class ReferralRepository(RulesMixin, CodesMixin, InvitationsMixin, FraudInputsMixin,
                         RewardsMixin, KFactorMixin):
    """Referral codes, invitations, reward rule sets and rewards (see the module)."""


__all__ = ["ReferralRepository"]
