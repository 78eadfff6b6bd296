"""The Prefect task runner of a campaign's evaluation tasks.

Every evaluation task runs in a thread of the run's own process, `execution.workers` at a time;
the oracle's work inside it goes to the executor that `execution.task_runner` names (this thread,
worker processes, or a Dask cluster: `amala.loop.executors`). So the Prefect UI shows one task per
candidate with its retries, while worker processes never need a Prefect API of their own.
"""

from __future__ import annotations

from prefect.task_runners import ThreadPoolTaskRunner


def build_task_runner(spec) -> ThreadPoolTaskRunner:
    return ThreadPoolTaskRunner(max_workers=spec.workers)
