"""Where an oracle's work runs (config `execution`): in this process, in worker processes, or on Dask.

The workflow engine schedules one task per candidate in threads of the run's own process; the
expensive call itself (`oracle.evaluate([candidate])`) is handed to one of these executors. Worker
processes and Dask workers therefore never talk to the workflow engine: they cannot start a
temporary API server of their own, race for its port or time out waiting for it, and a worker that
dies takes only its own candidate with it (the pool is rebuilt and the candidate retried).

Nothing here imports Prefect, so `Campaign.step` (tests, benchmarks) and the potential's distillation
(`loop.distillation`: teacher-labelling jobs instead of candidates) use the same executors: `run(fn,
*args)` runs any picklable function where the oracle's evaluations would run, and blocks for its result.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Sequence

from amala.core.evaluation import Evaluation
from amala.oracles.registry import TransientOracleError


class WorkerLost(TransientOracleError):
    """A worker process died (killed, out of memory, a crashing engine); a retry runs on a new one."""


class RunStopping(RuntimeError):
    """The run is being stopped (Ctrl-C, SIGTERM): the candidate is left unevaluated, not failed,
    so the next run evaluates it."""


def _die_with_parent() -> None:
    """Worker initializer: on Linux, the kernel kills the worker when the run's process dies, even
    by SIGKILL, so no orphaned simulation goes on burning a core (elsewhere: nothing to do)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def evaluate_one(oracle, candidate) -> list[Evaluation]:
    """The unit of work shipped to a worker: one candidate through the oracle."""
    return oracle.evaluate([candidate])


class InlineExecutor:
    """Runs the oracle in the calling thread: cheap oracles (table lookups, the file queue)."""

    kind = "threads"

    def run(self, fn, *args, what: str = "a job"):
        return fn(*args)

    def evaluate(self, oracle, candidate) -> Sequence[Evaluation]:
        return self.run(evaluate_one, oracle, candidate)

    def close(self, cancel: bool = False) -> None:
        pass


class ProcessExecutor:
    """One process per simulation, `workers` at a time (one core each). Processes are spawned, not
    forked: the parent has threads (the heartbeat, the workflow engine's client) that a fork would
    copy in an arbitrary state."""

    kind = "processes"

    def __init__(self, workers: int):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RunStopping("the run is stopping; no new evaluation is started")
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_die_with_parent)
            return self._pool

    def run(self, fn, *args, what: str = "a job"):
        pool = self._current()
        try:
            return pool.submit(fn, *args).result()
        except CancelledError:  # cancelled before it started: the run is stopping
            raise RunStopping(f"the run stopped before {what} started") from None
        except BrokenProcessPool as exc:
            if self._closed:
                raise RunStopping(f"the run stopped while {what} was running") from None
            with self._lock:  # the next attempt gets a fresh pool
                if self._pool is pool:
                    self._pool = None
            raise WorkerLost(f"worker process died while running {what} ({exc})") from None

    def evaluate(self, oracle, candidate) -> Sequence[Evaluation]:
        return self.run(evaluate_one, oracle, candidate, what=f"the evaluation of {candidate.key}")

    def close(self, cancel: bool = False) -> None:
        """Shut the workers down; `cancel` (Ctrl-C, SIGTERM) kills running simulations at once
        instead of waiting for them: their candidates stay unevaluated and a resume runs them."""
        with self._lock:
            self._closed, pool, self._pool = True, self._pool, None
        if pool is None:
            return
        if cancel:
            for process in list(getattr(pool, "_processes", {}).values()):
                process.kill()
        pool.shutdown(wait=not cancel, cancel_futures=cancel)


class DaskExecutor:
    """Candidates on a Dask cluster: an existing scheduler (`address`) or a local cluster."""

    kind = "dask"

    def __init__(self, workers: int, address: str | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - a declared dependency; only a broken install lacks it
            raise ValueError("execution.task_runner=dask needs the distributed package (pip install distributed)") \
                from None
        self.cluster = None
        if address is None:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None)
        self.client = Client(address or self.cluster)

    def run(self, fn, *args, what: str = "a job"):
        from distributed.client import FutureCancelledError

        try:
            return self.client.submit(fn, *args, pure=False).result()
        except FutureCancelledError as exc:
            raise WorkerLost(f"Dask lost {what} ({exc})") from None

    def evaluate(self, oracle, candidate) -> Sequence[Evaluation]:
        return self.run(evaluate_one, oracle, candidate, what=f"the evaluation of {candidate.key}")

    def close(self, cancel: bool = False) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def build_executor(spec):
    """The executor the config's `execution` section names."""
    if spec.task_runner == "processes":
        return ProcessExecutor(spec.workers)
    if spec.task_runner == "dask":
        return DaskExecutor(spec.workers, spec.address)
    return InlineExecutor()
