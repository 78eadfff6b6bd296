"""Where evaluations run. A batch evaluated on a Dask LocalCluster of 2 worker processes through
the real flow: every candidate is one Prefect task (in a thread of the run's process), the lookup
oracle is shipped to the Dask workers, and the results land in the store as with the local
executor. A worker process that dies is a retry on a fresh pool."""

import pytest
import yaml

from amala.flows.campaign_flow import campaign_flow
from amala.flows.task_runners import build_task_runner
from amala.loop.campaign import Campaign
from amala.loop.config import ExecutionSpec, load_config

pytestmark = pytest.mark.slow


def test_executors_from_config():
    from prefect.task_runners import ThreadPoolTaskRunner

    from amala.loop.executors import DaskExecutor, InlineExecutor, ProcessExecutor, build_executor

    assert isinstance(build_task_runner(ExecutionSpec(task_runner="processes", workers=3)), ThreadPoolTaskRunner)
    assert isinstance(build_executor(ExecutionSpec()), InlineExecutor)
    pool = build_executor(ExecutionSpec(task_runner="processes", workers=2))
    assert isinstance(pool, ProcessExecutor) and pool.workers == 2
    pool.close()
    assert DaskExecutor.kind == "dask"


def test_a_dead_worker_process_is_a_retry_on_a_fresh_pool_not_a_lost_run():
    """A worker killed mid-evaluation (out of memory, a crashing engine) raises WorkerLost, a
    transient error the flow retries; the next call gets a new pool and succeeds."""
    from amala.core.candidate import Candidate
    from amala.loop.executors import ProcessExecutor, WorkerLost

    executor = ProcessExecutor(1)
    candidate = Candidate("[Cu]CCO[Au]", kind="smiles", agent="test")
    try:
        with pytest.raises(WorkerLost, match="worker process died"):
            executor.evaluate(_SuicidalOracle(), candidate)
        [evaluation] = executor.evaluate(_FineOracle(), candidate)
        assert evaluation.status == "ok" and evaluation.candidate_key == candidate.key
    finally:
        executor.close()


class _SuicidalOracle:
    def evaluate(self, candidates):
        import os

        os._exit(9)


class _FineOracle:
    def evaluate(self, candidates):
        from amala.core.evaluation import Evaluation

        return [Evaluation(c.key, "fine", "test", "ok") for c in candidates]


@pytest.mark.flow
def test_batch_evaluated_on_a_dask_local_cluster(data_env, prefect_server):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

    path = data_env / "dask.yaml"
    path.write_text(yaml.safe_dump({
        "name": "dask", "data": {"dataset": "htpmd", "subset": 100}, "oracle": {"kind": "lookup"},
        "execution": {"task_runner": "dask", "workers": 2}, "budget": {"initial": 6, "max_evaluations": 6}}))
    result = campaign_flow(str(path))
    assert result["final"] and result["evaluations"] == 6
    campaign = Campaign(load_config(path))
    truth = campaign.table.frame.set_index("smiles").conductivity
    for candidate, evaluation in campaign.store.evaluations(campaign.id):
        assert evaluation.status == "ok"
        assert evaluation.values["conductivity"]["value"] == pytest.approx(truth[candidate.representation])
    [run] = [e.data["flow_run_id"] for e in campaign.store.events(campaign.id) if e.kind == "run"]
    with get_client(sync_client=True) as client:  # one completed task per candidate, in this flow run
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run])),
                                     task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="evaluate ")))
    keys = {c.key for c, _ in campaign.store.evaluations(campaign.id)}
    assert sorted(r.name.split()[-1] for r in runs) == sorted(keys) and all(r.state.is_completed() for r in runs)
