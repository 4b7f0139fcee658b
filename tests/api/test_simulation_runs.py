"""Simulation runs as jobs: start (returns at once), progress, result, cancel, worker
failure, start-up recovery, the Dask path, bad scenarios and the size cap."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time

import httpx
import pytest

from api.app import create_app
from domain import simulation_runs
from domain.access import Role
from domain.clock import utcnow
from domain.simulation_runs import RunStatus
from tests.api.conftest import Api, issue_role_tokens

START = """mutation($input: StartSimulationInput!) { startSimulation(input: $input) {
    run { id status progress finished createdBy }
    userErrors { field code message } } }"""
CANCEL = """mutation($id: ID!) { cancelSimulation(input: {id: $id}) {
    run { id status cancelRequested } userErrors { field code message } } }"""
RUN = """query($id: ID!) { simulationRun(id: $id) {
    id status progress finished result error createdBy startedAt finishedAt heartbeatAt } }"""

# About a second of simulation: 1,000 members, 60 days, 2 replicates.
SMALL = {"horizonDays": 60, "replicates": 2, "campaigns": [], "targets": [],
         "initial": {"members": 1000, "payingShare": 0.025, "warmUpDays": 0},
         "market": {"size": 2000, "externalJoinRate": 0.0001, "wordOfMouth": 0.003}}
# About a second of simulated days: long enough to watch its progress. The worker writes
# progress every 0.25 s, so a run needs more than two write periods of days for one
# intermediate value to stay a whole period, which polling every 0.1 s cannot miss.
MEDIUM = {**SMALL, "horizonDays": 240, "replicates": 8}
# A minute or so: long enough to cancel or kill while it runs.
LONG = {"horizonDays": 365, "replicates": 40, "campaigns": [], "targets": []}


@contextlib.asynccontextmanager
async def _serving(database):
    """The app with its lifespan (job runner started, recovery done), a client per role."""
    tokens = await issue_role_tokens(database)
    app = create_app(db=database)
    async with app.router.lifespan_context(app):
        await app.state.jobs.ready()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://tierwise.test") as client:
            yield Api(client=client, tokens=tokens), app.state.jobs


@pytest.fixture
async def served(database):
    async with _serving(database) as pair:
        yield pair


async def _start(api: Api, scenario: dict | None = None, preset: str | None = "three-tier",
                 role: Role = Role.OPERATOR) -> dict:
    data = await api.data(START, {"input": {"scenario": scenario, "preset": preset}}, role=role)
    return data["startSimulation"]


async def _wait(api: Api, run_id: str, until, within: float = 90) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        run = (await api.data(RUN, {"id": run_id}))["simulationRun"]
        if until(run):
            return run
        await asyncio.sleep(0.1)
    pytest.fail(f"run {run_id} never reached the state wanted: {run}")


async def test_a_run_starts_at_once_reports_progress_and_succeeds(served):
    api, jobs = served
    began = time.monotonic()
    started = await _start(api, MEDIUM)
    assert time.monotonic() - began < 2, "startSimulation must not wait for the run"
    assert started["userErrors"] == []
    run = started["run"]
    assert run["status"] == "QUEUED" and run["progress"] == 0 and not run["finished"]
    seen = []
    done = await _wait(api, run["id"], lambda r: seen.append(r["progress"]) or r["finished"])
    assert done["status"] == "SUCCEEDED", done["error"]
    assert done["progress"] == 1.0 and done["error"] is None
    assert done["startedAt"] and done["finishedAt"] >= done["startedAt"] and done["heartbeatAt"]
    assert seen == sorted(seen), "progress never goes back"
    assert any(0 < p < 1 for p in seen), "progress was reported while the run was going"
    result = done["result"]
    assert len(result["kpis"]["members"]["mean"]) == 240
    # Investors read results (aggregates) but not who started the run.
    as_investor = (await api.data(RUN, {"id": run["id"]}, role=Role.INVESTOR))["simulationRun"]
    assert as_investor["result"] == result and as_investor["createdBy"] is None
    as_analyst = (await api.data(RUN, {"id": run["id"]}, role=Role.ANALYST))["simulationRun"]
    assert as_analyst["createdBy"] == run["createdBy"] is not None


async def test_only_operators_and_admins_start_and_cancel(served):
    api, _ = served
    for role in (Role.INVESTOR, Role.ANALYST):
        refused = await _start(api, SMALL, role=role)
        assert refused["run"] is None
        assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    run = (await _start(api, SMALL, role=Role.ADMIN))["run"]
    refused = (await api.data(CANCEL, {"id": run["id"]}, role=Role.ANALYST))["cancelSimulation"]
    assert [e["code"] for e in refused["userErrors"]] == ["FORBIDDEN"]
    await _wait(api, run["id"], lambda r: r["finished"])


async def test_cancel_stops_a_running_run_within_seconds(served):
    api, _ = served
    run = (await _start(api, LONG))["run"]
    await _wait(api, run["id"], lambda r: r["status"] == "RUNNING" and r["progress"] > 0)
    cancel = (await api.data(CANCEL, {"id": run["id"]}))["cancelSimulation"]
    assert cancel["userErrors"] == [] and cancel["run"]["cancelRequested"]
    asked = time.monotonic()
    done = await _wait(api, run["id"], lambda r: r["finished"], within=15)
    assert done["status"] == "CANCELLED" and done["result"] is None
    assert time.monotonic() - asked < 5
    again = (await api.data(CANCEL, {"id": run["id"]}))["cancelSimulation"]
    assert [e["code"] for e in again["userErrors"]] == ["RUN_FINISHED"]
    missing = (await api.data(CANCEL, {"id": "U2ltdWxhdGlvblJ1bjo5OTk"}))["cancelSimulation"]
    assert [e["code"] for e in missing["userErrors"]] == ["NOT_FOUND"]


async def test_a_run_whose_worker_process_dies_is_failed_with_the_reason(served):
    api, jobs = served
    run = (await _start(api, LONG))["run"]
    await _wait(api, run["id"], lambda r: r["status"] == "RUNNING" and r["progress"] > 0)
    [pid] = jobs.worker_pids()
    os.kill(pid, signal.SIGKILL)
    done = await _wait(api, run["id"], lambda r: r["finished"], within=30)
    assert done["status"] == "FAILED"
    assert "worker process died" in done["error"]
    # The pool is replaced: the next run succeeds.
    after = (await _start(api, SMALL))["run"]
    assert (await _wait(api, after["id"], lambda r: r["finished"]))["status"] == "SUCCEEDED"


async def test_runs_left_active_by_a_stopped_server_are_failed_at_start_up(database):
    async with database.unit_of_work() as uow:
        queued = await uow.simulation_runs.add(scenario=SMALL, actor="test", now=utcnow())
        running = await uow.simulation_runs.add(scenario=SMALL, actor="test", now=utcnow())
        await uow.simulation_runs.claim(running, worker="gone:1", now=utcnow())
        await uow.commit()
    app = create_app(db=database)
    async with app.router.lifespan_context(app):
        async with database.unit_of_work(write=False) as uow:
            for run_id in (queued, running):
                run = await uow.simulation_runs.get(run_id)
                assert run.status == "failed" and run.error == "server stopped"
                assert run.finished_at is not None


async def test_the_progress_feed_reads_status_progress_and_error(database):
    async with database.unit_of_work() as uow:
        run_id = await uow.simulation_runs.add(scenario=SMALL, actor="test", now=utcnow())
        await uow.simulation_runs.claim(run_id, worker="w:1", now=utcnow())
        await uow.simulation_runs.progress(run_id, 0.4, now=utcnow())
        await uow.commit()
    async with database.unit_of_work(write=False) as uow:
        seen = await simulation_runs.get_progress(uow=uow, run_id=run_id)
    assert (seen.status, seen.progress, seen.error, seen.finished) == (
        "running", 0.4, None, False)
    async with database.unit_of_work() as uow:
        await simulation_runs.settle_run(uow=uow, run_id=run_id, status=RunStatus.FAILED,
                                         now=utcnow(), error="RuntimeError: boom")
    async with database.unit_of_work(write=False) as uow:
        seen = await simulation_runs.get_progress(uow=uow, run_id=run_id)
        assert (seen.status, seen.error, seen.finished) == (
            "failed", "RuntimeError: boom", True)
        with pytest.raises(simulation_runs.RunNotFound):
            await simulation_runs.get_progress(uow=uow, run_id=run_id + 1)


async def test_bad_scenarios_get_field_level_user_errors(served):
    api, _ = served
    bad = await _start(api, {"horizonDays": 30, "replicates": "many"})
    assert bad["run"] is None
    errors = {(e["field"], e["code"]) for e in bad["userErrors"]}
    assert ("scenario.replicates", "WRONG_TYPE") in errors
    # The preset's campaigns and targets fall after a 30-day horizon.
    assert ("scenario.targets.0.deadlineDay", "OUT_OF_RANGE") in errors
    assert ("scenario.campaigns.1.startDay", "OUT_OF_RANGE") in errors
    channel = {"key": "douyin", "joinRate": 0.0001, "dailySpendMinor": 1,
               "referenceSpendMinor": 1}
    twice = await _start(api, {"market": {"size": 1_000, "channels": [channel, channel]}})
    assert ("scenario.market.channels.1.key", "DUPLICATE_CHANNEL") in {
        (e["field"], e["code"]) for e in twice["userErrors"]}
    empty = await _start(api, {}, preset=None)
    assert ("scenario.tiers", "REQUIRED") in {(e["field"], e["code"])
                                              for e in empty["userErrors"]}
    nothing = await _start(api, None, preset=None)
    assert [e["code"] for e in nothing["userErrors"]] == ["MISSING_SCENARIO"]
    unknown = await _start(api, None, preset="four-tier")
    assert [(e["field"], e["code"]) for e in unknown["userErrors"]] == [
        ("preset", "UNKNOWN_PRESET")]
    calibrate = await _start(api, {"initial": {"fromDatabase": True}})
    assert [e["code"] for e in calibrate["userErrors"]] == ["NEEDS_CALIBRATION"]


async def test_runs_over_the_size_cap_are_refused_with_too_large(served, monkeypatch):
    api, _ = served
    huge = await _start(api, {"replicates": 5000, "horizonDays": 3650})
    assert huge["run"] is None
    [error] = huge["userErrors"]
    assert error["code"] == "TOO_LARGE" and "member-days" in error["message"]
    monkeypatch.setenv("TIERWISE_SIMULATION_MAX_MEMBER_DAYS", "1000000")
    capped = await _start(api, SMALL)  # 3,000 members x 60 days x 2 = 360,000: fits
    assert capped["userErrors"] == []
    over = await _start(api, {**SMALL, "replicates": 3})  # 540,000 fits, 6 do not
    assert over["userErrors"] == []
    refused = await _start(api, {**SMALL, "replicates": 6})
    assert [e["code"] for e in refused["userErrors"]] == ["TOO_LARGE"]
    for run in (capped["run"], over["run"]):
        await _wait(api, run["id"], lambda r: r["finished"])


async def test_simulation_run_query_errors(served):
    api, _ = served
    body = await api(RUN, {"id": "U2ltdWxhdGlvblJ1bjo5OTk"})
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await api(RUN, {"id": "nope"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ID"


@pytest.fixture(scope="module")
def dask_cluster():
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           dashboard_address=None)
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
async def dask_served(database, dask_cluster, monkeypatch):
    monkeypatch.setenv("TIERWISE_DASK_ADDRESS", dask_cluster.scheduler_address)
    async with _serving(database) as pair:
        yield pair


async def test_runs_execute_on_a_dask_cluster_when_an_address_is_set(dask_served,
                                                                      monkeypatch):
    api, jobs = dask_served
    assert jobs.backend == "dask"
    run = (await _start(api, SMALL))["run"]
    done = await _wait(api, run["id"], lambda r: r["finished"])
    assert done["status"] == "SUCCEEDED", done["error"]
    assert len(done["result"]["kpis"]["members"]["p50"]) == 60
    # A failure inside the (in-process) Dask worker fails the run with the reason.
    import simulation

    def broken(*_args, **_kwargs):
        raise RuntimeError("the model blew up")

    monkeypatch.setattr(simulation, "run", broken)
    failing = (await _start(api, SMALL))["run"]
    failed = await _wait(api, failing["id"], lambda r: r["finished"])
    assert failed["status"] == "FAILED"
    assert failed["error"] == "RuntimeError: the model blew up"
