from datetime import UTC, datetime

import pytest

from domain.campaigns import (
    TRANSITIONS,
    Campaign,
    CampaignKind,
    CampaignSpec,
    CampaignStatus,
    CampaignWithoutTargets,
    InvalidTransition,
    check_transition,
    validate_spec,
)
from domain.errors import InvalidValue
from domain.members import Channel

T = datetime(2026, 12, 1, tzinfo=UTC)


def make_campaign(status: CampaignStatus, **spec) -> Campaign:
    fields = dict(name="c", kind=CampaignKind.COUPON, target_tier_ids=(1,), target_channels=(),
                  starts_at=T, ends_at=T.replace(day=8), budget_minor=100)
    fields.update(spec)
    return Campaign(id=1, spec=CampaignSpec(**fields), status=status, created_at=T,
                    updated_at=T)


ALLOWED = {("draft", "scheduled"), ("draft", "cancelled"), ("scheduled", "draft"),
           ("scheduled", "running"), ("scheduled", "cancelled"), ("running", "ended"),
           ("running", "cancelled")}


@pytest.mark.parametrize("source", list(CampaignStatus))
@pytest.mark.parametrize("target", list(CampaignStatus))
def test_only_the_documented_status_moves_are_allowed(source, target):
    campaign = make_campaign(source)
    if (source.value, target.value) in ALLOWED:
        check_transition(campaign, target)
    else:
        with pytest.raises(InvalidTransition):
            check_transition(campaign, target)


def test_ended_and_cancelled_are_final():
    assert TRANSITIONS[CampaignStatus.ENDED] == TRANSITIONS[CampaignStatus.CANCELLED] == set()


def test_scheduling_needs_both_ends_of_the_schedule():
    with pytest.raises(InvalidTransition, match="needs startsAt and endsAt"):
        check_transition(make_campaign(CampaignStatus.DRAFT, ends_at=None),
                         CampaignStatus.SCHEDULED)


def test_spec_without_targets_is_refused():
    with pytest.raises(CampaignWithoutTargets):
        validate_spec(make_campaign(CampaignStatus.DRAFT, target_tier_ids=()).spec)


def test_spec_normalises_currency_and_duplicate_targets():
    spec = validate_spec(make_campaign(CampaignStatus.DRAFT, currency="cny",
                                       target_tier_ids=(2, 2, 1),
                                       target_channels=(Channel.APP, Channel.APP)).spec)
    assert (spec.currency, spec.target_tier_ids, spec.target_channels) == (
        "CNY", (2, 1), (Channel.APP,))


def test_naive_schedule_times_are_refused():
    with pytest.raises(InvalidValue, match="no time zone"):
        validate_spec(make_campaign(CampaignStatus.DRAFT, starts_at=datetime(2026, 12, 1)).spec)
