"""GraphQL enums mirror the domain's, so the schema and the rules can evolve apart."""

from __future__ import annotations

from enum import Enum

import strawberry

from domain import access, campaigns, events, members, tier_models, tiers


def mirror(domain_enum: type[Enum], name: str, description: str) -> type[Enum]:
    api_enum = Enum(name, {m.name: m.value for m in domain_enum})
    return strawberry.enum(api_enum, description=description)


Channel = mirror(members.Channel, "Channel", "Acquisition channel, or where an identity lives.")
MemberStatus = mirror(members.MemberStatus, "MemberStatus",
                      "ACTIVE, or MERGED into another member (see mergedInto).")
MemberOrder = mirror(members.MemberOrder, "MemberOrder",
                     "Stable member orders; ties on the join time are broken by id.")
AssignmentSource = mirror(tiers.AssignmentSource, "AssignmentSource",
                          "MANUAL (an operator) or MODEL (a tier model run).")
CampaignKind = mirror(campaigns.CampaignKind, "CampaignKind", "What a campaign does.")
CampaignStatus = mirror(campaigns.CampaignStatus, "CampaignStatus",
                        "DRAFT -> SCHEDULED -> RUNNING -> ENDED, or CANCELLED.")
EventType = mirror(events.EventType, "EventType", "Behaviour event types.")
Role = mirror(access.Role, "Role", "What a token may do.")
TierModelKind = mirror(tier_models.TierModelKind, "TierModelKind",
                       "THRESHOLDS, QUOTAS (value x engagement percentiles), RFM or KMEANS.")
