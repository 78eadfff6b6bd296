"""The Prefect task runner a campaign's evaluations run on (config `execution`).

Threads suit cheap oracles (a table lookup); processes keep each simulation engine in its own
interpreter, one core each; Dask (prefect-dask) spreads them over a cluster, either an existing one
(`execution.address`) or a local one of `execution.workers` processes.
"""

from __future__ import annotations

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner


def build_task_runner(spec) -> TaskRunner:
    if spec.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=spec.workers)
    if spec.task_runner == "processes":
        return ProcessPoolTaskRunner(max_workers=spec.workers)
    try:
        from prefect_dask import DaskTaskRunner
    except ImportError:  # pragma: no cover - a declared dependency; only a broken install lacks it
        raise ValueError("execution.task_runner=dask needs the prefect-dask package (pip install prefect-dask)") from None
    if spec.address:
        return DaskTaskRunner(address=spec.address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": spec.workers, "threads_per_worker": 1, "processes": True})
