"""Repositories: SQL for one concept each, returning domain objects."""

from domain.store.repositories.activity import ActivityRepository
from domain.store.repositories.audit import AuditRepository
from domain.store.repositories.badges import BadgeRepository
from domain.store.repositories.calibration import CalibrationRepository
from domain.store.repositories.campaigns import CampaignRepository
from domain.store.repositories.churn_scores import ChurnScoreRepository
from domain.store.repositories.events import EventRepository
from domain.store.repositories.experiments import ExperimentRepository
from domain.store.repositories.features import FeatureRepository
from domain.store.repositories.histories import HistoryRepository
from domain.store.repositories.imported_members import ImportedMemberRepository
from domain.store.repositories.kpi import KpiRepository
from domain.store.repositories.lifecycle import LifecycleRepository
from domain.store.repositories.members import MemberRepository
from domain.store.repositories.points import PointsRepository
from domain.store.repositories.referrals import ReferralRepository
from domain.store.repositories.simulation_runs import SimulationRunRepository
from domain.store.repositories.tier_models import TierModelRepository
from domain.store.repositories.tiers import TierRepository
from domain.store.repositories.tokens import TokenRepository

__all__ = [
    "ActivityRepository",
    "AuditRepository",
    "BadgeRepository",
    "CalibrationRepository",
    "CampaignRepository",
    "ChurnScoreRepository",
    "EventRepository",
    "HistoryRepository",
    "ImportedMemberRepository",
    "ExperimentRepository",
    "KpiRepository",
    "LifecycleRepository",
    "MemberRepository",
    "PointsRepository",
    "ReferralRepository",
    "FeatureRepository",
    "MemberRepository",
    "SimulationRunRepository",
    "TierModelRepository",
    "TierRepository",
    "TokenRepository",
]
