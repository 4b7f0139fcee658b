"""Running the real `tierwise` command in end-to-end tests: one-shot subcommands, and
`tierwise serve` (uvicorn) on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

TIERWISE = [sys.executable, "-m", "scripts.cli"]


def tierwise(database_url: str, *args: str, timeout: float = 120) -> str:
    """Run a subcommand against the database; its standard output (it must succeed)."""
    done = subprocess.run([*TIERWISE, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, TIERWISE_DATABASE_URL=database_url))
    assert done.returncode == 0, done.stderr + done.stdout
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def operator_token(database_url: str) -> str:
    return tierwise(database_url, "create-token", "--role", "operator").strip().splitlines()[-1]


@contextlib.contextmanager
def serving(database_url: str, *, wait: float = 60) -> Iterator[str]:
    """`tierwise serve` on a free port until the block ends; yields "127.0.0.1:PORT" once
    /healthz answers (fails the test after `wait` seconds)."""
    port = free_port()
    process = subprocess.Popen([*TIERWISE, "serve", "--port", str(port)],
                               env=dict(os.environ, TIERWISE_DATABASE_URL=database_url),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://{address}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(f"tierwise serve did not answer /healthz within {wait:.0f} s")
        yield address
    finally:
        process.terminate()
        process.wait(timeout=30)
