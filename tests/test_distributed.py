"""A batch evaluated as mapped Prefect tasks on a Dask LocalCluster of 2 worker processes
(prefect-dask), through the real flow: the lookup oracle is shipped to the workers, every
candidate is one task, and the results land in the store as with the local runner."""

import pytest
import yaml

from amala.flows.campaign_flow import campaign_flow
from amala.flows.task_runners import build_task_runner
from amala.loop.campaign import Campaign
from amala.loop.config import ExecutionSpec, load_config

pytestmark = pytest.mark.slow


def test_task_runners_from_config():
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(build_task_runner(ExecutionSpec()), ThreadPoolTaskRunner)
    assert isinstance(build_task_runner(ExecutionSpec(task_runner="processes", workers=2)), ProcessPoolTaskRunner)
    remote = build_task_runner(ExecutionSpec(task_runner="dask", address="tcp://127.0.0.1:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://127.0.0.1:8786"


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
