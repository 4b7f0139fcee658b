"""The relational schema. Alembic migrations create it; tests compare the two.

Money is integer minor units (fen/cents); every timestamp is UTC (see UtcDateTime).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)

# Stable constraint names so migrations are reproducible on every backend.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only aliases the rowid for INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores timestamptz; SQLite stores naive UTC text in a fixed
    format (so lexical order is time order) and values are made aware on read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: tierwise stores UTC-aware timestamps")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


tiers = Table(
    "tiers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("rank", Integer, nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("benefits", JSON, nullable=False, default=list),
    Column("touch_channel", String(32), nullable=False),
    Column("touch_every_days", Integer, nullable=False),
    Column("touch_content", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("touch_every_days > 0", name="touch_every_days_positive"),
)

members = Table(
    "members",
    metadata,
    Column("id", Id, primary_key=True),
    Column("display_name", String(120), nullable=False),
    Column("email", String(254)),
    Column("phone", String(32)),
    Column("age_band", String(16)),
    Column("region", String(64)),
    Column("occupation", String(64)),
    Column("interests", JSON, nullable=False, default=list),
    Column("channel", String(32), nullable=False),
    Column("joined_at", UtcDateTime, nullable=False),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("merged_into_id", Id, ForeignKey("members.id")),
    Column("tier_id", Id, ForeignKey("tiers.id")),
    Column("tier_source", String(16)),
    Column("created_at", UtcDateTime, nullable=False),
    # Lifecycle stage as of the last refresh (domain.lifecycle); NULL until then.
    Column("lifecycle_stage", String(16)),
    Column("lifecycle_as_of", Date),
    Index("ix_members_joined_at_id", "joined_at", "id"),
    Index("ix_members_tier_id_joined_at", "tier_id", "joined_at"),
    Index("ix_members_channel_joined_at", "channel", "joined_at"),
    Index("ix_members_lifecycle_stage_joined_at", "lifecycle_stage", "joined_at"),
)

member_identities = Table(
    "member_identities",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("channel", String(32), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("channel", "external_id"),
)

member_merges = Table(
    "member_merges",
    metadata,
    Column("id", Id, primary_key=True),
    Column("survivor_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("merged_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("moved_identity_ids", JSON, nullable=False),
    Column("actor", String(120), nullable=False),
    Column("reason", Text, nullable=False),
    Column("merged_at", UtcDateTime, nullable=False),
    Column("undone_at", UtcDateTime),
    Column("undone_by", String(120)),
    # What followed the merge (NULL on merges recorded before points and badges did):
    # points moved to the survivor, points its undo gave back, badge ids it added.
    Column("points_moved", BigInteger),
    Column("points_returned", BigInteger),
    Column("added_badge_ids", JSON),
)

tier_assignments = Table(
    "tier_assignments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("tier_id", Id, ForeignKey("tiers.id")),
    Column("previous_tier_id", Id, ForeignKey("tiers.id")),
    # manual | model: automatic runs (tier models, a later version) never override manual.
    Column("source", String(16), nullable=False),
    Column("model_version", Integer),
    Column("actor", String(120), nullable=False),
    Column("reason", Text, nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
    Index("ix_tier_assignments_member_id_assigned_at", "member_id", "assigned_at"),
)

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("target_tier_ids", JSON, nullable=False),
    Column("target_channels", JSON, nullable=False),
    Column("starts_at", UtcDateTime),
    Column("ends_at", UtcDateTime),
    Column("budget_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("budget_minor >= 0", name="budget_non_negative"),
)

campaign_status_changes = Table(
    "campaign_status_changes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("external_id", String(128), nullable=False, unique=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    # The member the event was recorded for; merges move member_id, undo restores it.
    Column("origin_member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("type", String(32), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("amount_minor", BigInteger),
    Column("channel", String(32)),
    Column("properties", JSON),
    Column("received_at", UtcDateTime, nullable=False),
    # No index on occurred_at alone: the events of a period are found through the
    # member_days rollup (activity.members_with_events), then a member index. PostgreSQL:
    # (member_id, occurred_at). SQLite: (UTC day, member_id) below, so that a batch of
    # new events (all on a few recent days) touches a few leaf pages instead of one page
    # per member all over a member-ordered b-tree.
    Index("ix_events_member_id_occurred_at", "member_id", "occurred_at")
    .ddl_if(dialect="postgresql"),
)

# One row per member and UTC day with any event: the rollup every per-member feature, tier
# model, lifecycle stage and KPI reads instead of raw events. Maintained in the same
# transaction as the events (EventRepository.insert_new), rebuilt for members whose events
# move (merges) and after bulk writes (ActivityRepository.rebuild).
member_days = Table(
    "member_days",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("events", Integer, nullable=False),
    Column("logins", Integer, nullable=False),
    Column("posts", Integer, nullable=False),
    Column("comments", Integer, nullable=False),
    Column("likes", Integer, nullable=False),
    Column("shares", Integer, nullable=False),
    Column("check_ins", Integer, nullable=False),
    Column("purchases", Integer, nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
    Column("referral_invites", Integer, nullable=False),
    # Keyed day first and, on SQLite, stored in that key (WITHOUT ROWID): new events'
    # rows sit together on the last days' pages, and day-range reads (KPI rollups) read
    # them in order. Per-member reads use the (member_id, day) index on PostgreSQL; on
    # SQLite they name the days (activity.rollup_days: one key seek per day).
    PrimaryKeyConstraint("day", "member_id"),
    Index("ix_member_days_member_id_day", "member_id", "day").ddl_if(dialect="postgresql"),
    sqlite_with_rowid=False,
)

# SQLite: the events by UTC day (the expression activity.utc_day emits) and member.
Index("ix_events_day_member_id", func.substr(events.c.occurred_at, 1, 10),
      events.c.member_id).ddl_if(dialect="sqlite")

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("label", String(120), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("actor", String(120), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

# --- badges ---
badges = Table(
    "badges",
    metadata,
    Column("id", Id, primary_key=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("stage", String(16), nullable=False),  # explore | active | contribute | lead
    Column("description", Text, nullable=False),
    Column("benefit", Text, nullable=False),
    Column("rule", JSON, nullable=False),  # domain.badge_rules.Rule.to_json()
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row per member and badge: awarding again is a no-op. `rule` is the rule as it was
# when awarded, `evidence` the first events that matched it (id, external id, type, time).
badge_awards = Table(
    "badge_awards",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("badge_id", Id, ForeignKey("badges.id"), nullable=False, index=True),
    Column("awarded_at", UtcDateTime, nullable=False),
    Column("as_of", Date, nullable=False),
    Column("value", BigInteger, nullable=False),
    Column("rule", JSON, nullable=False),
    Column("evidence", JSON, nullable=False),
    # Set when a member merge copied the award from the merged member; its undo removes it.
    Column("via_merge_id", Id, ForeignKey("member_merges.id")),
    UniqueConstraint("member_id", "badge_id"),
)

# --- points ---
# The ledger is append-only: entries are never updated or deleted. `amount` is signed
# (credits positive). The balance row moves in the same transaction as each entry;
# its CHECK is the last guard against overdrawing.
points_entries = Table(
    "points_entries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("reason", Text, nullable=False),
    Column("actor", String(120), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("reverses_entry_id", Id, ForeignKey("points_entries.id"), unique=True),
    Column("lot_entry_id", Id, ForeignKey("points_entries.id")),
    # The event an accrual paid for (no foreign key: events may be erased on request).
    Column("event_id", Id),
    CheckConstraint("amount <> 0", name="amount_non_zero"),
    CheckConstraint("kind IN ('earn', 'spend', 'expire', 'adjust', 'reverse', "
                    "'transfer_out', 'transfer_in')", name="kind_known"),
    Index("ix_points_entries_member_id_id", "member_id", "id"),
    Index("ix_points_entries_event_id", "event_id"),
    Index("ix_points_entries_lot_entry_id", "lot_entry_id"),
    Index("ix_points_entries_expires_at", "expires_at"),
)

points_balances = Table(
    "points_balances",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("balance", BigInteger, nullable=False),
    CheckConstraint("balance >= 0", name="balance_non_negative"),
)

points_earn_rules = Table(
    "points_earn_rules",
    metadata,
    Column("event_type", String(32), primary_key=True),
    Column("points", Integer, nullable=False),
    Column("daily_cap", Integer),  # events per member and UTC day that earn; NULL: no cap
    Column("expiry_days", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

points_tier_multipliers = Table(
    "points_tier_multipliers",
    metadata,
    Column("tier_id", Id, ForeignKey("tiers.id"), primary_key=True),
    Column("permille", Integer, nullable=False),  # 1000 = 1x
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("permille > 0", name="permille_positive"),
)

benefits = Table(
    "benefits",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("cost_points", BigInteger, nullable=False),
    Column("stock", Integer),  # units left; NULL is unlimited
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("cost_points > 0", name="cost_positive"),
    CheckConstraint("stock >= 0", name="stock_non_negative"),
)

benefit_redemptions = Table(
    "benefit_redemptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("benefit_id", Id, ForeignKey("benefits.id"), nullable=False, index=True),
    Column("entry_id", Id, ForeignKey("points_entries.id"), nullable=False, unique=True),
    Column("cost_points", BigInteger, nullable=False),
    Column("redeemed_at", UtcDateTime, nullable=False),
)

# --- experiments ---

# A campaign's experiment design; seed and started_at are set once, by startExperiment.
campaign_experiments = Table(
    "campaign_experiments",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id"), primary_key=True),
    Column("control_share", Float, nullable=False),
    Column("conversion_event", String(32), nullable=False),
    Column("reward_unit", String(16), nullable=False),
    Column("point_value_minor", BigInteger, nullable=False),
    Column("per_member_limit", Integer, nullable=False),
    Column("global_limit", Integer),
    Column("seed", BigInteger),
    Column("started_at", UtcDateTime),
    Column("configured_at", UtcDateTime, nullable=False),
    CheckConstraint("control_share >= 0 AND control_share <= 0.5", name="control_share_range"),
    CheckConstraint("per_member_limit >= 1", name="per_member_limit_positive"),
)

campaign_variants = Table(
    "campaign_variants",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id"), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("name", String(120), nullable=False),
    Column("weight", Integer, nullable=False),
    Column("reward", BigInteger, nullable=False),
    Column("message", Text, nullable=False),
    CheckConstraint("weight > 0", name="weight_positive"),
    CheckConstraint("reward >= 0", name="reward_non_negative"),
)

# The arm (a variant key or 'control') of every member targeted when the experiment started.
campaign_assignments = Table(
    "campaign_assignments",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id"), primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("arm", String(64), nullable=False),
    Index("ix_campaign_assignments_member_id", "member_id"),
)

# One reward per response: the seq-th conversion of a member on a UTC day, granted once.
campaign_rewards = Table(
    "campaign_rewards",
    metadata,
    Column("id", Id, primary_key=True),
    Column("campaign_id", Id, ForeignKey("campaigns.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("arm", String(64), nullable=False),
    Column("response_day", Date, nullable=False),
    Column("response_seq", Integer, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("cost_minor", BigInteger, nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
    UniqueConstraint("campaign_id", "member_id", "response_day", "response_seq"),
)

# --- referrals ---

# Versions of the referral programme (rewards, attribution window, fraud limits); one
# is active. Referrals keep the version they joined under.
referral_rule_sets = Table(
    "referral_rule_sets",
    metadata,
    Column("id", Id, primary_key=True),
    Column("version", Integer, nullable=False, unique=True),
    Column("active", Boolean, nullable=False),
    Column("rewards", JSON, nullable=False),
    Column("attribution_window_days", Integer, nullable=False),
    Column("join_grace_hours", Integer, nullable=False),
    Column("max_joins_per_hour", Integer, nullable=False),
    Column("max_joins_per_day", Integer, nullable=False),
    Column("max_invitees_per_fingerprint", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

referral_codes = Table(
    "referral_codes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("code", String(16), nullable=False, unique=True),
    # SHA-256 of the device id / IP the inviter created the code from (never the raw value).
    Column("device_hash", String(64)),
    Column("ip_hash", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),  # replaced by a newer code
)

# One row per invitation: invited -> joined (an invitee attached) -> converted.
referrals = Table(
    "referrals",
    metadata,
    Column("id", Id, primary_key=True),
    Column("code_id", Id, ForeignKey("referral_codes.id"), nullable=False),
    Column("inviter_id", Id, ForeignKey("members.id"), nullable=False),
    Column("invitee_id", Id, ForeignKey("members.id"), unique=True),  # referred once
    Column("status", String(16), nullable=False),
    Column("invited_at", UtcDateTime, nullable=False),
    Column("joined_at", UtcDateTime),
    Column("converted_at", UtcDateTime),
    Column("join_day", Date),
    Column("window_ends_on", Date),  # exclusive end of the attribution window
    Column("first_purchase_on", Date),
    Column("rule_version", Integer),
    Column("device_hash", String(64)),
    Column("ip_hash", String(64)),
    Column("flags", JSON, nullable=False),
    Column("review", String(16), nullable=False),
    Column("review_note", Text),
    Column("reviewed_at", UtcDateTime),
    Column("reviewed_by", String(120)),
    CheckConstraint("status IN ('invited', 'joined', 'converted')", name="status_known"),
    Index("ix_referrals_inviter_id_joined_at", "inviter_id", "joined_at"),
    Index("ix_referrals_status_id", "status", "id"),
)

# Each reward exists once per (referral, beneficiary, trigger): processing can run any
# number of times, concurrently, and grant it once. The points ledger picks up PAYABLE
# points rewards; money rewards are acquisition cost.
referral_rewards = Table(
    "referral_rewards",
    metadata,
    Column("id", Id, primary_key=True),
    Column("referral_id", Id, ForeignKey("referrals.id"), nullable=False),
    Column("beneficiary", String(16), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, index=True),
    Column("trigger", String(16), nullable=False),
    Column("rule_version", Integer, nullable=False),
    Column("points", Integer, nullable=False),
    Column("money_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
    Column("paid_at", UtcDateTime),
    UniqueConstraint("referral_id", "beneficiary", "trigger"),
    CheckConstraint("points >= 0 AND money_minor >= 0", name="amounts_non_negative"),
    Index("ix_referral_rewards_status_id", "status", "id"),
)

# --- lifecycle ---
# Every change of a member's lifecycle stage, written by a refresh only when the stage
# changes (so a repeated refresh for the same day adds nothing).
lifecycle_transitions = Table(
    "lifecycle_transitions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("from_stage", String(16)),  # NULL: the member's first classification
    Column("to_stage", String(16), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_lifecycle_transitions_member_id_as_of", "member_id", "as_of"),
)

# Inactivity warnings of the latest refresh: one row per warned member (a refresh replaces
# them all). Predictive scores (BG/NBD) are meant to sit beside these, not in them.
churn_signals = Table(
    "churn_signals",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("level", Integer, nullable=False),
    Column("days_inactive", Integer, nullable=False),
    Column("suggested_action", String(32), nullable=False),
    Column("as_of", Date, nullable=False),
    Index("ix_churn_signals_level_days_inactive_member_id", "level", "days_inactive",
          "member_id"),
)

# --- churn scores ---
# Every fit of the customer-base models (BG/NBD, Gamma-Gamma), newest last.
churn_models = Table(
    "churn_models",
    metadata,
    Column("id", Id, primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("horizon_days", Integer, nullable=False),
    Column("members", Integer, nullable=False),
    Column("bgnbd", JSON, nullable=False),  # params, logLikelihood, n, converged, iterations
    Column("gamma_gamma", JSON, nullable=False),
    Column("fitted_at", UtcDateTime, nullable=False),
)

# The latest fit's score per buyer (a scoring run replaces them all).
churn_scores = Table(
    "churn_scores",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("model_id", Id, ForeignKey("churn_models.id"), nullable=False),
    Column("p_alive", Float, nullable=False),
    Column("expected_transactions", Float, nullable=False),
    Column("expected_spend_minor", Float, nullable=False),
    Column("value_lost_minor", BigInteger, nullable=False),
    Index("ix_churn_scores_value_lost_minor_member_id", "value_lost_minor", "member_id"),
)

# --- tier_models ---
# Versioned tier models (kind + parameters JSON); applying one makes it the only active one.
tier_models = Table(
    "tier_models",
    metadata,
    Column("id", Id, primary_key=True),
    Column("version", Integer, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_by", String(120), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("activated_at", UtcDateTime),
)

# Humane demotion: since when a model run has wanted to demote a member (cleared when a run
# no longer wants it or the demotion is applied).
tier_demotion_pending = Table(
    "tier_demotion_pending",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("since", UtcDateTime, nullable=False),
    Column("model_version", Integer, nullable=False),
)

# --- kpi ---
# Rollups behind the funding report (domain.kpi), kept by refresh_kpi_rollups from
# member_days, never from raw events. `kpi_state` holds one row: the id of the last event
# the rollups have seen (the watermark) and the latest day they cover.
kpi_state = Table(
    "kpi_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("events_watermark", BigInteger, nullable=False),
    Column("latest_day", Date),
    Column("refreshed_at", UtcDateTime, nullable=False),
)

# Days (and members) whose member_days rows changed other than by new events (merges,
# erasure): the next refresh recomputes them.
kpi_dirty_days = Table(
    "kpi_dirty_days",
    metadata,
    Column("day", Date, primary_key=True),
)

kpi_dirty_members = Table(
    "kpi_dirty_members",
    metadata,
    Column("member_id", Id, primary_key=True),  # no foreign key: erased members too
)

# Scratch list of the members one refresh recomputes (emptied before it commits).
kpi_touched_members = Table(
    "kpi_touched_members",
    metadata,
    Column("member_id", Id, primary_key=True),
)

# Per UTC day: members active (any event), purchasers (= transactions: purchase days),
# revenue and content counts.
kpi_activity_days = Table(
    "kpi_activity_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("active", Integer, nullable=False),
    Column("purchasers", Integer, nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("logins", BigInteger, nullable=False),
    Column("posts", BigInteger, nullable=False),
    Column("comments", BigInteger, nullable=False),
    Column("shares", BigInteger, nullable=False),
    Column("check_ins", BigInteger, nullable=False),
)

# Per member with any activity: first/last active and purchase day, counts and revenue.
kpi_member_summary = Table(
    "kpi_member_summary",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("first_active", Date, nullable=False),
    Column("last_active", Date, nullable=False),
    Column("active_days", Integer, nullable=False),
    Column("first_purchase", Date),
    Column("last_purchase", Date),
    Column("purchase_days", Integer, nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
    Column("first_purchase_revenue_minor", BigInteger, nullable=False),
    # The member's UTC join day (members.joined_at), NULL once merged into another: the
    # conversion counts read it here instead of joining members (kept by the refresh).
    Column("joined_on", Date),
)
# Buyers only, covering every column the conversion counts and the model histories read
# (grouped by (first_purchase, last_purchase, purchase_days) in index order).
Index("ix_kpi_member_summary_buyers", kpi_member_summary.c.first_purchase,
      kpi_member_summary.c.last_purchase, kpi_member_summary.c.purchase_days,
      kpi_member_summary.c.revenue_minor, kpi_member_summary.c.first_purchase_revenue_minor,
      kpi_member_summary.c.joined_on,
      sqlite_where=kpi_member_summary.c.first_purchase.is_not(None),
      postgresql_where=kpi_member_summary.c.first_purchase.is_not(None))
# Summary rows whose join day is still to fill (rows the refresh just added).
Index("ix_kpi_member_summary_joined_on_unset", kpi_member_summary.c.joined_on,
      sqlite_where=kpi_member_summary.c.joined_on.is_(None),
      postgresql_where=kpi_member_summary.c.joined_on.is_(None))

# Per member and calendar month with any activity (month = its first day). Keyed month
# first and, on SQLite, stored in that key (WITHOUT ROWID): a refresh's rows of the
# current month sit together, one b-tree instead of a table plus its key index.
kpi_member_months = Table(
    "kpi_member_months",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("month", Date, nullable=False),
    Column("active_days", Integer, nullable=False),
    Column("purchase_days", Integer, nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
    PrimaryKeyConstraint("month", "member_id"),
    sqlite_with_rowid=False,
)

# Cohort x calendar month: members of the cohort active (basis 'activity', cohort = month
# of first activity) or purchasing (basis 'purchase', cohort = month of first purchase)
# in the month, and their revenue in it.
kpi_cohort_months = Table(
    "kpi_cohort_months",
    metadata,
    Column("basis", String(16), primary_key=True),
    Column("cohort", Date, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("members", Integer, nullable=False),
    Column("revenue_minor", BigInteger, nullable=False),
)

kpi_targets = Table(
    "kpi_targets",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("metric", String(64), nullable=False),
    Column("baseline", Float, nullable=False),
    Column("goal", Float, nullable=False),
    Column("starts_on", Date, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("deadline > starts_on", name="deadline_after_start"),
)

# Acquisition spend per channel and calendar month (month = its first day), for CAC.
acquisition_spend = Table(
    "acquisition_spend",
    metadata,
    Column("channel", String(32), primary_key=True),
    Column("month", Date, primary_key=True),
    Column("amount_minor", BigInteger, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("amount_minor >= 0", name="amount_non_negative"),
)

# Purchase days by day: the repeat-purchase and conversion windows read only these rows.
Index("ix_member_days_purchase_day", member_days.c.day, member_days.c.member_id,
      sqlite_where=member_days.c.purchases > 0, postgresql_where=member_days.c.purchases > 0)

# --- kpi trailing ---
# Per member: active days in the trailing windows ending on kpi_state.latest_day (the
# anchor) — that day, its 7 and 30 days, and the 30 days before those (the default churn
# window's start). Kept by the KPI refresh; rows with every count 0 are dropped.
kpi_member_trailing = Table(
    "kpi_member_trailing",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("d1", Integer, nullable=False),
    Column("d7", Integer, nullable=False),
    Column("d30", Integer, nullable=False),
    Column("prior30", Integer, nullable=False),
    # The member's tier (members.tier_id) as counted in kpi_trailing_counts; no foreign key
    # (kept by the refresh).
    Column("tier_id", BigInteger),
)

# --- kpi report cache ---
# Member-side rollups of the funding report and its model fits, kept by the KPI refresh
# (`KpiRepository.refresh`) so a report never scans members. `kpi_member_state` holds one
# row: the largest member id and tier-assignment id the rollups have seen; merges and
# their undo mark the members dirty (kpi_dirty_members).
kpi_member_state = Table(
    "kpi_member_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("members_watermark", BigInteger, nullable=False),
    Column("assignments_watermark", BigInteger, nullable=False),
    Column("refreshed_at", UtcDateTime, nullable=False),
)

# Members not merged away, per UTC join day, acquisition channel and current tier
# (tier_id 0: no tier).
kpi_joined_days = Table(
    "kpi_joined_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("tier_id", BigInteger, primary_key=True),
    Column("members", Integer, nullable=False),
)

# kpi_member_trailing counted per tier (0: no tier), active days in the 30-day window (d30)
# and whether the member was active in the 7 days (in_week), on the latest day (on_day)
# and in the 30 days before the window (prior), each 0 or 1.
kpi_trailing_counts = Table(
    "kpi_trailing_counts",
    metadata,
    Column("tier_id", BigInteger, primary_key=True),
    Column("d30", Integer, primary_key=True),
    Column("in_week", Integer, primary_key=True),
    Column("on_day", Integer, primary_key=True),
    Column("prior", Integer, primary_key=True),
    Column("members", Integer, nullable=False),
)

# BG/NBD and Gamma-Gamma fits keyed by a fingerprint of the data they were fitted on (the
# buyers' (x, t_x, T) triples and repeat spend): a report over the same data reuses them,
# one over changed data starts its optimiser from the latest fit.
kpi_model_fits = Table(
    "kpi_model_fits",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("as_of", Date, nullable=False),
    Column("buyers", BigInteger, nullable=False),
    Column("bgnbd", JSON, nullable=False),
    Column("gamma_gamma", JSON),
    Column("created_at", UtcDateTime, nullable=False, index=True),
)

# --- simulation_runs ---
# Simulation jobs (domain.simulation_runs): the scenario document, where the run stands,
# and its result document (JSON, bounded by the size cap) once it succeeded.
simulation_runs = Table(
    "simulation_runs",
    metadata,
    Column("id", Id, primary_key=True),
    Column("status", String(16), nullable=False),
    Column("scenario", JSON, nullable=False),
    Column("progress", Float, nullable=False),
    Column("result", JSON),
    Column("error", Text),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("cancel_requested_at", UtcDateTime),
    Column("worker", String(200)),
    Column("heartbeat_at", UtcDateTime),
    CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
                    name="status_known"),
    CheckConstraint("progress >= 0 AND progress <= 1", name="progress_fraction"),
    Index("ix_simulation_runs_status", "status"),
)
