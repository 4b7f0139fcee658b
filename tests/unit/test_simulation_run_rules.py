"""Pure rules of simulation runs: the size of a run, its cap, the preset merge, the
progress feed's cadence."""

from __future__ import annotations

import pytest

from domain import simulation_runs as rules


def test_size_counts_every_member_the_run_can_hold_over_every_simulated_day():
    # (1,000 initial + 2,000 prospects) x (10 warm-up + 60 days) x 2 replicates
    assert rules.member_days(members=1000, market_size=2000, horizon_days=60,
                             warm_up_days=10, replicates=2) == 3000 * 70 * 2 == 420_000


def test_the_cap_refuses_only_runs_above_it():
    rules.check_size(1_000, 1_000)
    with pytest.raises(rules.TooLarge) as refused:
        rules.check_size(1_001, 1_000)
    assert refused.value.code == "TOO_LARGE" and refused.value.field == "scenario"
    assert "1,001" in refused.value.message and "1,000" in refused.value.message


def test_given_fields_replace_the_presets_top_level_fields():
    preset = {"replicates": 100, "market": {"size": 10, "wordOfMouth": 0.1}, "seed": 1}
    merged = rules.merged_document({"replicates": 5, "market": {"size": 20}}, preset)
    assert merged == {"replicates": 5, "market": {"size": 20}, "seed": 1}
    assert preset["replicates"] == 100  # the preset is not changed
    assert rules.merged_document(None, preset) == preset
    assert rules.merged_document({"seed": 2}, None) == {"seed": 2}


def test_only_queued_and_running_runs_are_active():
    assert set(rules.ACTIVE) == {rules.RunStatus.QUEUED, rules.RunStatus.RUNNING}


def test_the_feed_sends_changes_at_once_and_never_leaves_more_than_a_second_silent():
    # A change is sent at the poll that sees it.
    assert rules.feed_sends(changed=True, since_last_message=0.05)
    # No change: silent while the next poll (0.1 s later, and its read) stays within the
    # second ...
    assert not rules.feed_sends(changed=False, since_last_message=0.5)
    assert not rules.feed_sends(changed=False, since_last_message=0.84)
    # ... and the current state is sent when waiting one more poll could pass it.
    assert rules.feed_sends(changed=False, since_last_message=0.85)
    assert rules.feed_sends(changed=False, since_last_message=3.0)


def test_the_feed_samples_faster_than_the_worker_writes_progress():
    # Every progress value the worker writes (but the last) stays at least
    # PROGRESS_WRITE_SECONDS; the feed reads at least twice in that time.
    assert 2 * rules.FEED_POLL_SECONDS <= rules.PROGRESS_WRITE_SECONDS
    assert rules.FEED_POLL_SECONDS < rules.FEED_HEARTBEAT_SECONDS <= 1.0


def test_a_runs_progress_is_finished_only_once_it_ended():
    for status in rules.RunStatus:
        progress = rules.RunProgress(status=status, progress=0.5, error=None)
        assert progress.finished == (status not in rules.ACTIVE)
