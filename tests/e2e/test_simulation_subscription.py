"""simulationProgress over a real websocket (graphql-transport-ws) against `tierwise serve`."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest
import websockets

from tests.e2e.serving import operator_token, serving

PROTOCOL = "graphql-transport-ws"
# About a second of simulated days (1,920 replicate-days): the worker writes progress every
# 0.25 s, so at least one intermediate value stays a whole write period, which the feed
# (reading every 0.1 s) cannot miss; a run shorter than two write periods may have no such
# value on a fast machine.
SMALL = {"horizonDays": 240, "replicates": 8, "campaigns": [], "targets": [],
         "initial": {"members": 1000, "payingShare": 0.025, "warmUpDays": 0},
         "market": {"size": 2000, "externalJoinRate": 0.0001, "wordOfMouth": 0.003}}
SUBSCRIBE = """subscription($runId: ID!) { simulationProgress(runId: $runId) {
    runId status progress finished error } }"""


@pytest.fixture
def served(database_url):
    """`tierwise serve` (uvicorn) on a free port; yields (base url, operator token)."""
    token = operator_token(database_url)
    with serving(database_url) as address:
        yield address, token


async def _connect(base: str, payload: dict):
    socket = await websockets.connect(f"ws://{base}/graphql", subprotocols=[PROTOCOL])
    await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
    return socket


async def test_progress_streams_over_a_real_websocket_until_the_run_ends(served):
    """One server for both checks (starting one costs seconds): strangers are closed out,
    the token holder gets the progress feed."""
    base, token = served
    for payload in ({}, {"Authorization": "Bearer nope"}):
        stranger = await _connect(base, payload)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(stranger.recv(), 10)
        assert closed.value.rcvd.code == 4403

    async with httpx.AsyncClient(base_url=f"http://{base}", timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        body = (await client.post("/graphql", json={
            "query": """mutation($input: StartSimulationInput!) {
                startSimulation(input: $input) { run { id } userErrors { code } } }""",
            "variables": {"input": {"preset": "three-tier", "scenario": SMALL}}})).json()
    run_id = body["data"]["startSimulation"]["run"]["id"]

    socket = await _connect(base, {"Authorization": f"Bearer {token}"})
    try:
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIBE, "variables": {"runId": run_id}}}))
        ticks, arrivals = [], []
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 60))
            if message["type"] == "complete":
                break
            assert message["type"] == "next", message
            ticks.append(message["payload"]["data"]["simulationProgress"])
            arrivals.append(time.monotonic())
    finally:
        await socket.close()
    assert ticks[-1]["finished"] and ticks[-1]["status"] == "SUCCEEDED"
    assert ticks[-1]["progress"] == 1.0 and all(t["runId"] == run_id for t in ticks)
    progress = [t["progress"] for t in ticks]
    assert progress == sorted(progress)
    assert any(0 < p < 1 for p in progress), "intermediate progress was streamed"
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert max(gaps) < 1.5, f"a message at least once a second, gaps {gaps}"

