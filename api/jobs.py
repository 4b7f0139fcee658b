"""The simulation job runner: where runs execute, off the request path.

Two halves:
- `execute_run(database_url, run_id)` is the worker side. It runs in a worker process
  (or a Dask worker), claims the queued run, runs `simulation.run` on it, and writes
  progress and a heartbeat to the run's row at most every 0.25 s
  (`simulation_runs.PROGRESS_WRITE_SECONDS`; the simulation reports each simulated day,
  so in practice four times a second). Each write answers whether
  a cancel was asked for; the simulation polls that flag and stops with `Cancelled`.
  It returns the result document; it never writes the final status.
- `SimulationJobs`, started with the app (api.app's lifespan), owns the executor: a
  local `ProcessPoolExecutor` by default (`TIERWISE_SIMULATION_WORKERS`, default 1, so
  web requests keep a core), or a Dask cluster when `TIERWISE_DASK_ADDRESS` is set. It
  submits runs and settles each when its future ends: succeeded with the result,
  cancelled, or failed with the reason (an exception inside the worker, a worker process
  that died, a Dask worker lost). At start-up it fails the runs a stopped server left
  queued or running ("server stopped").

The result document is stored in the run's row (JSON column): its size is bounded by the
horizon cap (KPI bands per day, a few MB at most), it is then transactional with the
status and readable from any server or worker, with no files under var/ to clean up.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import logging
import os
import socket
import time
from concurrent.futures.process import BrokenProcessPool

from domain import simulation_runs
from domain.clock import utcnow
from domain.simulation_runs import RunStatus
from domain.store.database import Database

log = logging.getLogger("tierwise.jobs")


def max_member_days() -> int:
    """TIERWISE_SIMULATION_MAX_MEMBER_DAYS (default 2e9): the size cap of one run."""
    raw = os.environ.get("TIERWISE_SIMULATION_MAX_MEMBER_DAYS", "").strip()
    return int(float(raw)) if raw else simulation_runs.DEFAULT_MAX_MEMBER_DAYS


# --- worker side -----------------------------------------------------------------------


class _Reporter:
    """The simulation's progress and cancelled callbacks, writing to the run's row."""

    def __init__(self, loop: asyncio.AbstractEventLoop, db: Database, run_id: int) -> None:
        self.loop, self.db, self.run_id = loop, db, run_id
        self.written = 0.0
        self.stop = False

    def progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.written < simulation_runs.PROGRESS_WRITE_SECONDS and done < total:
            return
        self.written = now
        self.stop = self.loop.run_until_complete(self._write(done / max(total, 1)))

    async def _write(self, fraction: float) -> bool:
        async with self.db.unit_of_work() as uow:
            return await simulation_runs.record_progress(uow=uow, run_id=self.run_id,
                                                         progress=fraction, now=utcnow())

    def cancelled(self) -> bool:
        return self.stop


def execute_run(database_url: str, run_id: int) -> dict:
    """Run one simulation run in this (worker) process; its result document.

    Raises `simulation.Cancelled` when the run was cancelled (before or during)."""
    import simulation

    loop = asyncio.new_event_loop()
    db = Database(database_url, pool_size=1)
    try:
        async def claim() -> dict | None:
            async with db.unit_of_work() as uow:
                return await simulation_runs.claim_run(
                    uow=uow, run_id=run_id, worker=f"{socket.gethostname()}:{os.getpid()}",
                    now=utcnow())

        document = loop.run_until_complete(claim())
        if document is None:
            raise simulation.Cancelled(f"simulation run {run_id} is no longer queued")
        reporter = _Reporter(loop, db, run_id)
        # One process per run: the executor's workers are the parallelism.
        return simulation.run(simulation.parse(document), progress=reporter.progress,
                              cancelled=reporter.cancelled, workers=1)
    finally:
        loop.run_until_complete(db.dispose())
        loop.close()


# --- server side -----------------------------------------------------------------------


def _reason(error: BaseException) -> str:
    name = type(error).__name__
    if isinstance(error, BrokenProcessPool):
        return f"worker process died: {error}"
    if name == "KilledWorker":
        return f"Dask worker died: {error}"
    return f"{name}: {error}" if str(error) else name


class SimulationJobs:
    """Submits runs to the executor and records how each one ended."""

    def __init__(self, db: Database, *, dask_address: str | None = None,
                 workers: int | None = None) -> None:
        self.db = db
        self.dask_address = (dask_address if dask_address is not None
                             else os.environ.get("TIERWISE_DASK_ADDRESS", "").strip() or None)
        self.workers = workers or int(os.environ.get("TIERWISE_SIMULATION_WORKERS", "1"))
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._client = None
        self._tasks: set[asyncio.Task] = set()
        self._futures: dict[int, object] = {}
        self._warm: asyncio.Task | None = None

    async def ready(self) -> None:
        """Wait (without blocking the loop) until the simulation package is imported."""
        if self._warm is None:
            self._warm = asyncio.get_running_loop().create_task(
                asyncio.to_thread(importlib.import_module, "simulation"))
        await asyncio.shield(self._warm)

    @property
    def backend(self) -> str:
        return "dask" if self.dask_address else "process-pool"

    async def start(self) -> list[int]:
        """Fail the runs a stopped server left active (returns their ids), and import the
        simulation package in the background (Mesa takes seconds to import; requests that
        need it wait for `ready()` instead of blocking the event loop)."""
        self._warm = asyncio.get_running_loop().create_task(
            asyncio.to_thread(importlib.import_module, "simulation"))
        async with self.db.unit_of_work() as uow:
            failed = await simulation_runs.fail_interrupted(uow=uow, now=utcnow())
        if failed:
            log.warning("failed %d simulation run(s) left by a stopped server: %s",
                        len(failed), failed)
        return failed

    async def _executor(self):
        if self.dask_address:
            if self._client is None:
                from distributed import Client

                # A synchronous client on its own thread: futures complete by callback.
                self._client = await asyncio.to_thread(Client, self.dask_address)
            return self._client
        if self._pool is None:
            await self.ready()
            from simulation.results import pool_context

            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self.workers, mp_context=pool_context())
        return self._pool

    def submit(self, run_id: int) -> None:
        """Hand a committed queued run to the executor (returns at once)."""
        task = asyncio.get_running_loop().create_task(self._run(run_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, run_id: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            executor = await self._executor()
            # Submitting may start worker processes: off the event loop.
            if self.dask_address:
                future = await asyncio.to_thread(executor.submit, execute_run, self.db.url,
                                                 run_id, pure=False, retries=0)
            else:
                future = await asyncio.to_thread(executor.submit, execute_run, self.db.url,
                                                 run_id)
            self._futures[run_id] = future
            done = loop.create_future()

            def finished(f) -> None:
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(f))

            future.add_done_callback(finished)
            await done
            result = await asyncio.to_thread(future.result)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # noqa: BLE001 - every way a run can end
            if type(error).__name__ == "Cancelled":
                await self._settle(run_id, RunStatus.CANCELLED)
            else:
                log.warning("simulation run %s failed: %s", run_id, _reason(error))
                if isinstance(error, BrokenProcessPool):
                    self._replace_pool()
                await self._settle(run_id, RunStatus.FAILED, error=_reason(error))
        else:
            await self._settle(run_id, RunStatus.SUCCEEDED, result=result)
        finally:
            self._futures.pop(run_id, None)

    def _replace_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def _settle(self, run_id: int, status: RunStatus, *, result: dict | None = None,
                      error: str | None = None) -> None:
        async with self.db.unit_of_work() as uow:
            await simulation_runs.settle_run(uow=uow, run_id=run_id, status=status,
                                             now=utcnow(), result=result, error=error)

    def worker_pids(self) -> list[int]:
        """The local pool's worker process ids (for operators and tests)."""
        if self._pool is None:
            return []
        return [p.pid for p in self._pool._processes.values()]

    async def idle(self) -> None:
        """Wait until every submitted run has been settled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the executor: runs still going are failed ("server stopped") and the
        local worker processes are ended; nothing is left running or stuck."""
        active = list(self._futures)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._pool is not None:
            pool, self._pool = self._pool, None
            for process in list(pool._processes.values()):
                process.terminate()
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.close)
        for run_id in active:
            await self._settle(run_id, RunStatus.FAILED, error=simulation_runs.SERVER_STOPPED)
