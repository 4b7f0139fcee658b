"""Repositories: SQL for one concept each, returning domain objects."""

from domain.store.repositories.activity import ActivityRepository
from domain.store.repositories.audit import AuditRepository
from domain.store.repositories.campaigns import CampaignRepository
from domain.store.repositories.events import EventRepository
from domain.store.repositories.features import FeatureRepository
from domain.store.repositories.members import MemberRepository
from domain.store.repositories.tier_models import TierModelRepository
from domain.store.repositories.tiers import TierRepository
from domain.store.repositories.tokens import TokenRepository

__all__ = [
    "ActivityRepository",
    "AuditRepository",
    "CampaignRepository",
    "EventRepository",
    "FeatureRepository",
    "MemberRepository",
    "TierModelRepository",
    "TierRepository",
    "TokenRepository",
]
