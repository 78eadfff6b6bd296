"""Running a distillation's jobs (`amala.oracles.mlip.distill`): wave after wave, each wave's jobs side by
side in worker processes, finished jobs skipped, so the same command resumes a killed run.

One job is one process with one torch thread: on 2 cores two jobs run at once; on a bigger machine
`workers` jobs. Jobs are independent within a wave (one per glass and generator), so the wall time
scales with workers up to the number of glasses (13 by default), then with the longest job.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from amala.oracles.mlip.distill import DistillSpec, Job, jobs, run_job

__all__ = ["distil"]


def _die_with_parent() -> None:
    """A worker ends when the run that started it ends (Linux's parent-death signal): a killed `distill`
    must not leave workers appending to the stores that the next run resumes."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _done(spec: DistillSpec, job: Job, workdir: Path) -> bool:
    return (job.folder(workdir, spec) / "done.json").exists()


def distil(spec: DistillSpec, workdir: str | Path, workers: int = 1,
           on_done: Callable[[Job, dict], None] | None = None) -> list[dict]:
    """Run every job not yet done; returns the counts of the jobs run now. A job that raises stops the
    run after the jobs already running have finished (their frames are kept; the next run retries it)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "spec.json").write_text(spec.model_dump_json(indent=1))
    results = []
    for wave in jobs(spec):
        todo = [job for job in wave if not _done(spec, job, workdir)]
        if workers <= 1:
            for job in todo:
                results.append(run_job(spec, job, workdir))
                if on_done:
                    on_done(job, results[-1])
            continue
        # spawn: a fresh interpreter per worker, no forked torch or LAMMPS state
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=_die_with_parent) as pool:
            futures = {pool.submit(run_job, spec, job, workdir): job for job in todo}
            for future in as_completed(futures):
                results.append(future.result())
                if on_done:
                    on_done(futures[future], results[-1])
    return results
