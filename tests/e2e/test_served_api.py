"""The real thing: the `tierwise` command, uvicorn, HTTP on loopback, on each backend."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

TIERWISE = [sys.executable, "-m", "scripts.cli"]


def _tierwise(database_url: str, *args: str, timeout: float = 120) -> str:
    done = subprocess.run([*TIERWISE, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TIERWISE_DATABASE_URL=database_url))
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(database_url):
    """`tierwise serve` on a free port over a seeded database; yields (base url, token)."""
    _tierwise(database_url, "seed-demo", "--members", "300", "--days", "30", "--seed", "3")
    token = _tierwise(database_url, "create-token", "--role", "operator").strip().splitlines()[-1]
    port = _free_port()
    process = subprocess.Popen([*TIERWISE, "serve", "--port", str(port)],
                               env=dict(os.environ, TIERWISE_DATABASE_URL=database_url),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("tierwise serve did not answer /healthz within 30 s")
        yield base, token
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_served_api_pages_the_demo_community_over_http(server):
    base, token = server
    headers = {"Authorization": f"Bearer {token}"}
    query = """query($after: String) { members(first: 100, after: $after) {
        totalCount edges { node { id displayName tier { name } } }
        pageInfo { hasNextPage endCursor } } }"""
    seen, after = 0, None
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        while True:
            body = client.post("/graphql", json={"query": query,
                                                 "variables": {"after": after}}).json()
            page = body["data"]["members"]
            seen += len(page["edges"])
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        assert seen == page["totalCount"] == 300
        tiers = client.post("/graphql", json={"query": "{ tiers { key memberCount } }"}).json()
        assert sum(t["memberCount"] for t in tiers["data"]["tiers"]) == 300
        assert client.post("/graphql", json={"query": "{ tiers { key } }"},
                           headers={"Authorization": "Bearer nope"}).status_code == 401
