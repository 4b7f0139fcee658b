"""Run a command beside a throwaway PostgreSQL server.

`python -m scripts.pg_temp -- CMD...` creates a cluster in a temporary directory
(as the `postgres` user when run as root, since PostgreSQL refuses to run as
root), starts it on a free loopback port, exports its URL as
`TIERWISE_TEST_POSTGRES_URL`, runs CMD, and stops and removes the server
afterwards, whether CMD passed, failed or was interrupted.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

SERVER_BINARIES = ("initdb", "pg_ctl")


def find_bin_dir() -> Path:
    """The directory holding initdb and pg_ctl, preferring PostgreSQL 15."""
    candidates = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.insert(0, Path(on_path).resolve().parent)
    preferred = [c for c in candidates if "/15/" in str(c)] + candidates
    for directory in preferred:
        if all((directory / name).exists() for name in SERVER_BINARIES):
            return directory
    raise SystemExit("no PostgreSQL server binaries (initdb, pg_ctl) found")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class TemporaryPostgres:
    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="tierwise-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.started = False

    def start(self) -> str:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
        subprocess.run(
            as_server_user([
                str(self.bin_dir / "initdb"), "-D", str(self.data), "-A", "trust",
                "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C",
            ]),
            check=True, stdout=subprocess.DEVNULL,
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        subprocess.run(
            as_server_user([
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options,
                "-l", str(self.root / "server.log"), "-w", "start",
            ]),
            check=True, stdout=subprocess.DEVNULL,
        )
        self.started = True
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.started:
            subprocess.run(
                as_server_user([str(self.bin_dir / "pg_ctl"), "-D", str(self.data),
                                "-m", "immediate", "-w", "stop"]),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
            )
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        print("usage: python -m scripts.pg_temp -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    server = TemporaryPostgres()
    # SIGTERM (CI timeouts) must still remove the server: turn it into an exception.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        url = server.start()
        print(f"temporary PostgreSQL server at {url}", flush=True)
        env = dict(os.environ, TIERWISE_TEST_POSTGRES_URL=url)
        return subprocess.call(argv, env=env)
    except KeyboardInterrupt:
        return 130
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
