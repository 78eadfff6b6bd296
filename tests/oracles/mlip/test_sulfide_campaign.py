"""A sulfide-glass campaign on the `mlip` oracle through the real Prefect flow: SevenNet-0 labels, tiny
NequIP committees, ASE MD in the `test` profile, two glasses evaluated side by side in two processes.

As in test_mlip_oracle, students trained for two epochs are not a potential: the MD of the `test`
profile fails, and what is checked is what the campaign must keep whatever the MD gives — one
potential grown over the campaign (the second glass started from the first one's labels and
committee, one process waiting for the other's lock), its record per evaluation, the committees as
model versions, and the report's section on the potential.
"""

import pytest
import yaml

from amala.flows.campaign_flow import campaign_flow
from amala.loop.campaign import Campaign
from amala.loop.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.md, pytest.mark.mlip, pytest.mark.flow]

CONFIG = {
    "name": "sulfide",
    "seed": 0,
    "representation": "composition",
    "data": None,
    "objective": {"property": "log10_conductivity_300K", "direction": "maximize", "transform": "none"},
    "agents": [{"kind": "composition", "n": 16, "bounds": {"Li2S": [0.6, 0.8], "P2S5": [0.2, 0.4]}}],
    "oracle": {"kind": "mlip", "profile": "test", "compile": False, "retries": 0,
               "student": {"num_features": 8, "radial_mlp_width": 8, "epochs": 2, "patience": None, "r_max": 4.0},
               "on_the_fly": {"committee_size": 2, "trust_lo_eV_A": 1e-6, "trust_hi_eV_A": 1e3, "seed_frames": 2,
                              "segment_steps": 20, "observe_every": 5, "min_spacing": 5, "per_round": 2,
                              "budget": 2, "window": 4, "converged_fraction": 0.0, "max_rounds": 2}},
    "execution": {"task_runner": "processes", "workers": 2},
    "acquisition": {"strategy": "qlognei", "batch_size": 2, "mc_samples": 32},
    "budget": {"initial": 2, "max_evaluations": 2},
}


def test_one_sulfide_batch_grows_one_potential(tmp_path, monkeypatch, prefect_server):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    path = tmp_path / "sulfide.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    result = campaign_flow(str(path))
    assert result["evaluations"] == 2
    campaign = Campaign(load_config(path))
    rows = campaign.store.evaluations(campaign.id)
    records = sorted((e.provenance["potential"] for _, e in rows), key=lambda r: r["order"])
    assert [r["order"] for r in records] == [0, 1]
    first, second = records
    assert first["labels_before"] == 0 and first["teacher_calls"] == 2  # its seed frames
    assert second["labels_before"] == first["labels_after"] == 2  # the second glass started from the first's
    assert second["teacher_calls"] == 2 and second["labels_after"] == 4 and second["system"] == "Li-P-S"
    assert all(e.reason and e.fidelity == "mlip-test-sevennet:7net-0" for _, e in rows)

    from typer.testing import CliRunner

    from amala.flows.cli import app
    report = CliRunner().invoke(app, ["report", "sulfide"])
    assert report.exit_code == 0, report.output
    folder = tmp_path / "runs" / "sulfide" / "report"
    assert "Machine-learned potential" in (folder / "report.html").read_text()
    assert (folder / "teacher_calls.png").is_file()
