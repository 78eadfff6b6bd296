"""Crash test: a campaign process killed with SIGKILL at random moments, then resumed, ends with
exactly the evaluations and batches of an uninterrupted run with the same seed, none lost and none
evaluated twice. Each evaluation is stored the moment it finishes, so kills mid-batch keep what
was done.

The campaign runs the plain loop (`Campaign.step`, the same store writes as the Prefect flow) in a
child process over a 200-polymer synthetic table with the lookup oracle. The lookup answers in
microseconds, so the child sleeps 0.3 s per candidate to make kills land inside batches, as they
would during MD; that pause is the only thing added. A short lease TTL lets each resume take the
campaign over from the killed run within a second or two.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import yaml

from amala.loop.campaign import Campaign
from amala.loop.config import load_config

DRIVER = r"""
import sys, time
from amala.loop.campaign import Campaign
from amala.loop.config import load_config
from amala.loop.lease import CampaignBusy
from amala.oracles.tables.lookup import LookupOracle

real = LookupOracle.evaluate
def slow(self, candidates):
    time.sleep(0.3 * len(candidates))
    return real(self, candidates)
LookupOracle.evaluate = slow

campaign = Campaign(load_config(sys.argv[1]))
deadline = time.time() + 30
while True:
    try:
        lease = campaign.lease().acquire()
        break
    except CampaignBusy:  # the killed run's heartbeat has not gone stale yet
        if time.time() > deadline:
            raise
        time.sleep(0.2)
print("ready", flush=True)
while campaign.stop_reason() is None and campaign.step() is not None:
    pass
lease.release()
print("done", flush=True)
"""


def _config(folder, name, table):
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "seed": 11, "workdir": str(folder / name),
        "data": {"dataset": "htpmd", "path": str(table)},
        "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
        "oracle": {"kind": "lookup", "properties": ["conductivity"]},
        "acquisition": {"strategy": "qlognei", "batch_size": 5, "prescreen": 60, "mc_samples": 32},
        "budget": {"initial": 8, "max_evaluations": 33}}))
    return path


def _start(path):
    env = {**os.environ, "AMALA_LEASE_TTL": "1.5", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(path)], stdout=subprocess.PIPE, text=True, env=env)


def _history(path):
    campaign = Campaign(load_config(path))
    evaluated = [c.key for c, _ in campaign.store.evaluations(campaign.id)]
    batches = {}
    for iteration, _selection, candidate in campaign.store.selections(campaign.id):
        batches.setdefault(iteration.index, []).append(candidate.key)
    statuses = [i.status for i in campaign.store.iterations(campaign.id)]
    return evaluated, batches, statuses


def _half_done(path) -> bool:
    """Whether the store holds a batch with some, but not all, of its evaluations."""
    campaign = Campaign(load_config(path))
    batch = campaign.pending_batch()
    return batch is not None and 0 < len(campaign.unevaluated(batch)) < len(batch.candidates)


def test_kill_9_at_random_moments_then_resume_equals_an_uninterrupted_run(tmp_path, synthetic_htpmd):
    reference = _config(tmp_path, "straight", synthetic_htpmd)
    straight = Campaign(load_config(reference))  # in this process: the pause does not change any result
    while straight.stop_reason() is None and straight.step() is not None:
        pass

    crashed = _config(tmp_path, "crashed", synthetic_htpmd)
    rng, kills, mid_batch = random.Random(7), 0, 0
    for _ in range(4):
        child = _start(crashed)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.3, 2.5))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait(timeout=60)
        mid_batch += _half_done(crashed)
    child = _start(crashed)
    assert child.wait(timeout=240) == 0
    assert kills >= 3 and mid_batch >= 1  # runs were cut, and at least once inside a batch

    expected, crashed_history = _history(reference), _history(crashed)
    evaluated, batches, statuses = crashed_history
    assert len(evaluated) == len(set(evaluated)) == 33  # nothing lost, nothing evaluated twice
    assert set(evaluated) == set(expected[0])
    assert batches == expected[1]  # the same batches, in the same order, as without the kills
    assert statuses == expected[2] and set(statuses) == {"evaluated"}
