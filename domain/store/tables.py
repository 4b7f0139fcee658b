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
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
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
    Index("ix_members_joined_at_id", "joined_at", "id"),
    Index("ix_members_tier_id_joined_at", "tier_id", "joined_at"),
    Index("ix_members_channel_joined_at", "channel", "joined_at"),
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
    Index("ix_events_member_id_occurred_at", "member_id", "occurred_at"),
    Index("ix_events_occurred_at", "occurred_at"),
)

# One row per member and UTC day with any event: the rollup every per-member feature, tier
# model, lifecycle stage and KPI reads instead of raw events. Maintained in the same
# transaction as the events (EventRepository.insert_new), rebuilt for members whose events
# move (merges) and after bulk writes (ActivityRepository.rebuild).
member_days = Table(
    "member_days",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("day", Date, primary_key=True),
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
    Index("ix_member_days_day", "day"),
)

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
