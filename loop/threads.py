"""How many threads the loop's own numerical work (surrogate fits, scoring, acquisition) may use.

torch (and the BLAS under numpy) start one thread per core. That is right on an idle machine and
wrong beside other work: with more runnable threads than cores, torch's OpenMP threads wait for
each other at every parallel region, and each wait costs a scheduler time slice. Beside two busy
processes on 2 cores, the HTP-MD retrospective took 8.2x its idle time with 2 threads and 1.5x with
one (docs/benchmarks/reliability.md, "Contention"). The loop therefore uses the cores that are free: those not taken
by the campaign's own simulation workers (`execution.workers` processes, one core each) nor by other
processes running on the machine when a batch is chosen. Chosen anew for each batch: the load of
a shared machine comes and goes. (The same batches come out whatever the count: checked on the
HTP-MD retrospective with 1 and 2 threads.)
"""

from __future__ import annotations

import os


def cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. a cgroup's or taskset's), else all."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def campaign_threads(workers: int = 0, others: float | None = None) -> int:
    """Threads for the loop's numerical work: the cores left by `workers` simulation processes of the
    campaign and by the other processes running now (`others`, default `running_elsewhere()`), at
    least one. `AMALA_THREADS` sets it instead."""
    from amala.core.settings import settings

    if settings().threads:
        return settings().threads
    total = cores()
    others = running_elsewhere() if others is None else others
    busy = max(float(workers), others)  # the workers are among the running processes once they run
    return max(1, min(total - workers, int(total - busy + 0.5)))


def running_elsewhere(samples: int = 3, interval: float = 0.005, source: str = "/proc/loadavg") -> float:
    """Threads running or ready to run on this machine now, besides the calling one (Linux: the
    kernel's count in /proc/loadavg, median of a few samples; elsewhere the one-minute load
    average, which also counts this process's own recent work)."""
    import statistics
    import time

    counts = []
    for _ in range(samples):
        try:
            with open(source) as handle:
                counts.append(int(handle.read().split()[3].split("/")[0]) - 1)
        except (OSError, ValueError, IndexError):
            try:
                return os.getloadavg()[0]
            except (AttributeError, OSError):
                return 0.0
        time.sleep(interval)
    return float(statistics.median(counts))


def use_threads(n: int) -> int:
    """Set torch's intra-op threads to `n` (numpy's BLAS follows through threadpoolctl); returns n."""
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n, user_api="blas")
    except Exception:  # threadpoolctl not able to see this BLAS: torch's setting still holds
        pass
    return n
