"""KPI rollups and the funding report's inputs: SQL over `member_days` and the rollups,
never over raw events (except the events-id watermark scan, a primary-key range).

The rollups (see tables.py, `# --- kpi ---`) are kept by `refresh`: it finds the days
whose member_days rows changed (days of events added since the watermark, plus days and
members marked dirty), recomputes those days' totals, recomputes the per-member summary
and month rows of the members active on them, and moves the cohort x month counts by the
difference of those members' contributions before and after.
"""

from domain.store.repositories.kpi.base import (
    FITS_KEPT,
    FULL_REBUILD_DAYS,
    KpiState,
    MemberMarks,
    moving,
    new_cells,
    new_members,
    new_months,
)
from domain.store.repositories.kpi.funding import FundingMixin
from domain.store.repositories.kpi.increments import IncrementsMixin
from domain.store.repositories.kpi.member_side import MemberSideMixin
from domain.store.repositories.kpi.models import ModelHistoriesMixin
from domain.store.repositories.kpi.refresh import RefreshMixin
from domain.store.repositories.kpi.state import StateMixin
from domain.store.repositories.kpi.targets import TargetsMixin


class KpiRepository(StateMixin, RefreshMixin, IncrementsMixin, MemberSideMixin, FundingMixin,
                    ModelHistoriesMixin, TargetsMixin):
    """The KPI rollups' SQL, one class put together from one part per concern:

    - base.py: the connection and shared SQL helpers (`KpiBase`: `_pg`, `_month`,
      `_insert`, `_upsert_adding`), the refresh's scratch tables, constants, helpers;
    - state.py: state, watermarks and dirty marks (`state`, `member_marks`, `mark_dirty`);
    - refresh.py: `refresh`, the full rebuild, `_incremental`, the trailing windows moved;
    - increments.py: new events as increments (`_apply_new_events`);
    - member_side.py: join days, tiers and join days copied for the report;
    - funding.py: `funding_inputs` and the reads behind it;
    - models.py: purchase histories for the models and the stored model fits;
    - targets.py: KPI targets and acquisition spend.
    """


__all__ = [
    "FITS_KEPT",
    "FULL_REBUILD_DAYS",
    "KpiRepository",
    "KpiState",
    "MemberMarks",
    "moving",
    "new_cells",
    "new_members",
    "new_months",
]
