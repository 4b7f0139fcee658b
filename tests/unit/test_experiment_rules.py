"""Experiment rules on hand-computed fixtures: design validation, assignment, the response
window, statistics, ROI and reward allocation."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from domain import experiments as rules
from domain.events import EventType
from domain.experiments import CONTROL, ArmCounts, Granted, Response, StopReason, VariantSpec

A = VariantSpec(key="a", name="A", weight=1, reward=300)
B = VariantSpec(key="b", name="B", weight=3, reward=500)


def spec(*variants, control_share=0.2, **overrides) -> rules.ExperimentSpec:
    return rules.ExperimentSpec(variants=variants or (A, B), control_share=control_share,
                                conversion_event=EventType.PURCHASE, **overrides)


# --- design ---

@pytest.mark.parametrize(("design", "error", "field"), [
    (rules.ExperimentSpec(variants=(), control_share=0.2, conversion_event=None),
     rules.NoVariants, "variants"),
    (spec(VariantSpec("a", "", 0, 1)), rules.InvalidWeight, "variants.0.weight"),
    (spec(VariantSpec("a", "", -2, 1)), rules.InvalidWeight, "variants.0.weight"),
    (spec(control_share=0.51), rules.InvalidControlShare, "controlShare"),
    (spec(control_share=float("nan")), rules.InvalidControlShare, "controlShare"),
    (spec(A, VariantSpec(" A ", "", 1, 1)), rules.DuplicateVariant, "variants.1.key"),
    (spec(VariantSpec("control", "", 1, 1)), rules.DuplicateVariant, "variants.0.key"),
    (spec(VariantSpec("a b", "", 1, 1)), rules.InvalidExperiment, "variants.0.key"),
    (spec(per_member_limit=0), rules.InvalidExperiment, "perMemberLimit"),
    (spec(global_limit=-1), rules.InvalidExperiment, "globalLimit"),
])
def test_invalid_designs_name_the_field_at_fault(design, error, field):
    with pytest.raises(error) as raised:
        rules.validate_spec(design)
    assert raised.value.field == field


def test_a_valid_design_is_normalised():
    checked = rules.validate_spec(spec(VariantSpec(" Coupon-10 ", "  ", 2, 100),
                                       control_share=0.5))
    assert checked.variants == (VariantSpec("coupon-10", "coupon-10", 2, 100),)


def test_points_cost_their_point_value_against_the_budget():
    points = spec(reward_unit=rules.RewardUnit.POINTS, point_value_minor=2)
    assert rules.reward_cost_minor(points, B) == 1000  # 500 points x 2 fen
    assert rules.reward_cost_minor(spec(), B) == 500


# --- assignment ---

def test_the_draw_is_blake2b_of_seed_campaign_and_member():
    digest = hashlib.blake2b(b"1:2:3", digest_size=8).digest()
    assert rules.unit_draw(seed=1, campaign_id=2, member_id=3) == \
        int.from_bytes(digest, "big") / 2**64 == pytest.approx(0.1655936615)


@pytest.mark.parametrize(("draw", "arm"), [
    (0.0, CONTROL), (0.1999, CONTROL),
    # Above the control, (draw - 0.2) / 0.8 * 4 against cumulative weights 1 (a), 4 (b).
    (0.2, "a"),  # position 0
    (0.39, "a"),  # 0.19 / 0.8 * 4 = 0.95 < 1
    (0.4, "b"),  # 0.2 / 0.8 * 4 = 1.0: b starts here
    (0.9999, "b"),
])
def test_draws_map_to_arms_against_cumulative_weights(draw, arm):
    assert rules.arm_for(draw, control_share=0.2, variants=(A, B)) == arm


def test_bulk_assignment_is_the_draw_mapped_to_its_arm():
    for member_id, arm in rules.assign_arms(range(1, 200), seed=4, campaign_id=9, spec=spec()):
        draw = rules.unit_draw(seed=4, campaign_id=9, member_id=member_id)
        assert arm == rules.arm_for(draw, control_share=0.2, variants=(A, B))


def test_assignment_is_reproducible_and_follows_the_shares():
    members = range(1, 10_001)
    first = rules.assign_arms(members, seed=11, campaign_id=5, spec=spec())
    assert first == rules.assign_arms(members, seed=11, campaign_id=5, spec=spec())
    assert first != rules.assign_arms(members, seed=12, campaign_id=5, spec=spec())
    shares = Counter(arm for _, arm in first)
    # Expected 20% control, 0.8 x 1/4 = 20% a, 60% b. The standard error of a share p over
    # 10,000 draws is sqrt(p (1 - p) / 10,000) <= 0.005; allow 4 of them.
    for arm, expected in ((CONTROL, 0.2), ("a", 0.2), ("b", 0.6)):
        assert shares[arm] / 10_000 == pytest.approx(expected, abs=0.02)


# --- window ---

def test_whole_day_windows_read_the_rollup_and_as_of_cuts_the_window():
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    assert rules.response_window(starts_at=start, ends_at=end).days == (date(2026, 3, 1),
                                                                        date(2026, 3, 8))
    cut = rules.response_window(starts_at=start, ends_at=end,
                                as_of=datetime(2026, 3, 4, 15, tzinfo=UTC))
    assert cut.end == datetime(2026, 3, 4, 15, tzinfo=UTC) and cut.days is None
    early = rules.response_window(starts_at=start, ends_at=end,
                                  as_of=datetime(2026, 2, 1, tzinfo=UTC))
    assert early.start == early.end == start  # empty


# --- statistics ---

def test_the_95_percent_quantile_is_scipys():
    from scipy import stats

    assert rules.Z_95 == stats.norm.ppf(1 - (1 - rules.CONFIDENCE) / 2)


def test_wilson_interval_of_ten_in_a_hundred():
    # z = 1.959964, z^2 = 3.841459; centre = (0.1 + 3.841459/200) / (1 + 0.0384146)
    # = 0.1192073 / 1.0384146 = 0.114797; half = 1.959964 / 1.0384146
    # * sqrt(0.1 * 0.9 / 100 + 3.841459 / 40000) = 1.887456 * 0.0315600 = 0.059568.
    low, high = rules.wilson_interval(10, 100)
    assert (low, high) == pytest.approx((0.114797 - 0.059568, 0.114797 + 0.059568), abs=1e-5)


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), Stat Med 17:873, table II, 56/70 vs 48/80: method 10 gives
    # 0.0524 to 0.3339. By hand: Wilson(56/70) = (0.69183, 0.87695), Wilson(48/80) =
    # (0.49045, 0.70038); d = 0.2; low = 0.2 - sqrt(0.10817^2 + 0.10038^2) = 0.05243,
    # high = 0.2 + sqrt(0.07695^2 + 0.10955^2) = 0.33387.
    assert rules.newcombe_interval(56, 70, 48, 80) == pytest.approx((0.05243, 0.33387),
                                                                    abs=1e-4)


def test_two_proportion_z_test_by_hand():
    # 56/70 vs 48/80: pooled p = 104/150 = 0.693333; variance = 0.693333 * 0.306667
    # * (1/70 + 1/80) = 0.0056953; z = 0.2 / 0.075467 = 2.6502; p = 2 * (1 - Phi(2.6502))
    # = 0.00805.
    assert rules.two_proportion_p_value(56, 70, 48, 80) == pytest.approx(0.00805, abs=1e-4)
    # 30/200 vs 20/200: pooled 0.125, variance 0.125 * 0.875 * 0.01 = 0.00109375,
    # z = 0.05 / 0.0330719 = 1.51186, p = 0.1306.
    assert rules.two_proportion_p_value(30, 200, 20, 200) == pytest.approx(0.1306, abs=1e-4)
    assert rules.two_proportion_p_value(0, 50, 0, 50) == 1.0


def test_roi_nets_out_what_the_control_rate_would_have_earned():
    arm = ArmCounts(arm="a", n=100, responders=30, revenue_minor=50_000, cost_minor=10_000)
    control = ArmCounts(arm=CONTROL, n=50, responders=5, revenue_minor=10_000, cost_minor=0)
    # Baseline 100 x 10000 / 50 = 20000; (50000 - 20000 - 10000) / 10000 = 2.
    assert rules.roi(arm=arm, control=control) == 2.0
    assert rules.roi(arm=arm, control=None) == 4.0  # (50000 - 10000) / 10000
    assert rules.roi(arm=control, control=control) is None  # nothing spent


def test_results_compare_each_variant_with_the_control():
    counts = [ArmCounts("a", 200, 30, 0, 0), ArmCounts(CONTROL, 200, 20, 0, 0)]
    found = {r.arm: r for r in rules.results(spec(A, B), counts)}
    a = found["a"]
    assert (a.conversion_rate, a.uplift) == pytest.approx((0.15, 0.05))
    assert a.relative_uplift == pytest.approx(0.5)  # 0.05 / 0.10
    assert a.p_value == pytest.approx(0.1306, abs=1e-4)
    assert a.ci_low < 0 < a.ci_high  # not significant: the interval spans 0
    assert found["b"].n == 0 and found["b"].conversion_rate is None
    assert found[CONTROL].uplift is None and found[CONTROL].roi is None


# --- rewards ---

D1, D2, D3, D4 = (date(2026, 3, d) for d in (1, 2, 3, 4))
RESPONSES = [
    Response(1, "a", D1, 1), Response(2, "b", D1, 1), Response(9, CONTROL, D1, 1),
    Response(1, "a", D2, 1), Response(1, "a", D3, 1), Response(3, "b", D3, 1),
    Response(4, "a", D4, 1),
]


def test_budget_exhaustion_stops_granting_in_response_order():
    # Per member 2, budget 1500: m1 D1 a 300 (300), m2 D1 b 500 (800), control skipped,
    # m1 D2 a 300 (1100, m1 at its limit), m1 D3 skipped (limit), m3 D3 b 500 would make
    # 1600 > 1500: stop. m4's 300 would fit but waits behind m3.
    done = rules.allocate_rewards(RESPONSES, spec=spec(per_member_limit=2), budget_minor=1500,
                                  granted=Granted())
    assert [(g.response.member_id, g.response.day, g.cost_minor) for g in done.grants] == [
        (1, D1, 300), (2, D1, 500), (1, D2, 300)]
    assert done.stopped_by is StopReason.BUDGET_EXHAUSTED


def test_global_limit_stops_before_the_budget():
    done = rules.allocate_rewards(RESPONSES, spec=spec(global_limit=2), budget_minor=10**6,
                                  granted=Granted())
    assert len(done.grants) == 2 and done.stopped_by is StopReason.GLOBAL_LIMIT_REACHED


def test_earlier_grants_count_against_every_limit_and_are_not_repeated():
    earlier = Granted(keys=frozenset({(1, D1, 1)}), per_member={1: 1}, count=1, cost_minor=300)
    done = rules.allocate_rewards(RESPONSES, spec=spec(per_member_limit=2), budget_minor=1500,
                                  granted=earlier)
    # m1 D1 already granted; m2 500 (800); m1 D2 300 (1100); m1 D3 limit; m3 500: stop.
    assert [(g.response.member_id, g.response.day) for g in done.grants] == [(2, D1), (1, D2)]
    assert done.stopped_by is StopReason.BUDGET_EXHAUSTED


def test_all_responses_rewarded_means_no_stop_reason():
    done = rules.allocate_rewards(RESPONSES, spec=spec(per_member_limit=5), budget_minor=2500,
                                  granted=Granted())
    # 300 + 500 + 300 + 300 + 500 + 300 = 2200 <= 2500: every variant response is paid.
    assert sum(g.cost_minor for g in done.grants) == 2200 and done.stopped_by is None


def test_responses_expand_up_to_the_per_member_limit_in_day_order():
    rows = [(2, "a", D2, 3), (1, "b", D2, 1), (2, "a", D1, 1)]
    assert [(r.member_id, r.day, r.seq) for r in
            rules.expand_responses(rows, per_member_limit=2)] == [
        (2, D1, 1), (1, D2, 1), (2, D2, 1), (2, D2, 2)]
