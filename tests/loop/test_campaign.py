"""The loop's plain functions without Prefect: failures are recorded and the campaign goes on;
minimisation is handled in one place. On a 200-polymer subset of the synthetic HTP-MD-shaped table
(conftest), so they run in any clone."""

import math

import numpy as np
import pytest

from amala.core import datasets
from amala.loop.campaign import Campaign
from amala.loop.config import parse_config
from amala.loop.store import Store


@pytest.fixture(scope="module")
def small_table(synthetic_data_dir):
    return datasets.load("htpmd", synthetic_data_dir / "htpmd.csv", subset=200, seed=5)


def _campaign(table, **overrides):
    config = {"name": "t", "budget": {"initial": 10, "max_evaluations": 30},
              "acquisition": {"batch_size": 5, "prescreen": 50, "mc_samples": 32}, **overrides}
    return Campaign(parse_config(config), store=Store("sqlite://"), table=table)


def test_failed_evaluations_are_recorded_and_the_campaign_goes_on(small_table):
    frame = small_table.frame.copy()
    frame.loc[frame.index[::4], "conductivity"] = np.nan  # a quarter of the pool has no result
    table = datasets.Table("holes", frame, small_table.units, "memory")
    campaign = _campaign(table)
    while campaign.stop_reason() is None:
        campaign.step()
    rows = campaign.store.evaluations(campaign.id)
    failed = [e for _, e in rows if e.status == "failed"]
    assert len(rows) == 30 and failed
    assert all("no value of ['conductivity']" in e.reason and e.objective is None for e in failed)
    assert len(campaign.observations().y) == 30 - len(failed)


def test_minimisation_keeps_natural_units_in_the_store(small_table):
    campaign = _campaign(small_table, objective={"property": "conductivity", "direction": "minimize",
                                                 "transform": "log10"})
    while campaign.stop_reason() is None:
        campaign.step()
    values = [e.objective for _, e in campaign.store.evaluations(campaign.id)]
    assert campaign.best() == pytest.approx(min(values))
    selections = [s for _, s, _ in campaign.store.selections(campaign.id) if s.predicted_mean is not None]
    assert selections and all(-7 < s.predicted_mean < -2 for s in selections)  # log10 S/cm, not negated
    # a minimising campaign should find lower conductivities than the pool's median
    assert campaign.best() < math.log10(small_table.frame.conductivity.median())


def test_patience_stops_a_stale_campaign(small_table):
    campaign = _campaign(small_table, budget={"initial": 10, "max_evaluations": 200, "patience": 1})
    stop = None
    for _ in range(40):
        stop = campaign.stop_reason()
        if stop:
            break
        campaign.step()
    assert stop is not None and stop.final and "patience" in stop.reason


def test_a_gnn_ensemble_surrogate_runs_the_loop_with_botorch_acquisition(small_table):
    """The GNN ensemble plugs into the same campaign and acquisition path as the GP."""
    campaign = _campaign(small_table, surrogate={"kind": "gnn_ensemble", "members": 2, "epochs": 5},
                         budget={"initial": 10, "max_evaluations": 20})
    while campaign.stop_reason() is None:
        campaign.step()
    iterations = campaign.store.iterations(campaign.id)
    assert len(campaign.store.evaluations(campaign.id)) == 20 and iterations[-1].strategy == "qlognei"
    picked = [s for _, s, _ in campaign.store.selections(campaign.id) if s.predicted_mean is not None]
    assert len(picked) == 10 and all(s.predicted_std > 0 and s.acquisition_value is not None for s in picked)
