"""Running a distillation's jobs (`amala.oracles.mlip.distill`): wave after wave, each wave's jobs side by
side on the campaign's executors (`loop.executors`: worker processes here, a Dask cluster elsewhere),
finished jobs skipped, so the same command resumes a killed run.

One job is one process with one torch thread: on 2 cores two jobs run at once; on a bigger machine or a
cluster `workers` jobs. Jobs are independent within a wave (one per glass and generator), so the wall time
scales with workers up to the number of glasses (13 by default), then with the longest job (measured on
2 cores: two workers halve it, docs/benchmarks/distilled-student.md). On Dask, every worker must see the
work folder (a shared file system): a job writes its frames there, and `done.json` when it has finished.
Worker processes die with the run that started them (`executors._die_with_parent`): a killed `distill`
leaves no worker appending to the stores that its resume will use.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from amala.loop.config import ExecutionSpec
from amala.loop.executors import build_executor
from amala.oracles.mlip.distill import DistillSpec, Job, jobs, run_job

__all__ = ["distil"]


def _done(spec: DistillSpec, job: Job, workdir: Path) -> bool:
    return (job.folder(workdir, spec) / "done.json").exists()


def distil(spec: DistillSpec, workdir: str | Path, workers: int = 1, execution: ExecutionSpec | None = None,
           on_done: Callable[[Job, dict], None] | None = None) -> list[dict]:
    """Run every job not yet done; returns the counts of the jobs run now. `execution`: where the jobs run
    (the campaign config's section); default `workers` spawned processes, or this process for one. A job
    that raises stops the run after the jobs already running have finished (their frames are kept; the
    next run retries it)."""
    workdir = Path(workdir).resolve()  # Dask workers and spawned processes may start elsewhere
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "spec.json").write_text(spec.model_dump_json(indent=1))
    if execution is None:
        execution = ExecutionSpec(task_runner="processes" if workers > 1 else "threads", workers=workers)
    if execution.task_runner == "threads":  # here, in order: Ctrl-C stops it at once
        results = []
        for wave in jobs(spec):
            for job in (job for job in wave if not _done(spec, job, workdir)):
                results.append(run_job(spec, job, workdir))
                if on_done:
                    on_done(job, results[-1])
        return results
    executor = build_executor(execution)
    threads = ThreadPoolExecutor(execution.workers)  # each thread waits on one job of the executor
    results, stopped = [], False
    try:
        for wave in jobs(spec):
            futures = {threads.submit(executor.run, run_job, spec, job, workdir,
                                      what=f"the {job.generator} job of glass {job.index}"): job
                       for job in wave if not _done(spec, job, workdir)}
            for future in as_completed(futures):
                results.append(future.result())
                if on_done:
                    on_done(futures[future], results[-1])
    except KeyboardInterrupt:
        stopped = True
        raise
    finally:  # a failed job: the running ones finish (their frames count); Ctrl-C: they are killed
        executor.close(cancel=stopped)
        threads.shutdown(wait=not stopped, cancel_futures=True)
    return results
