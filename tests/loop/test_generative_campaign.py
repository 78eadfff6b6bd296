"""A generative campaign through the real Prefect flow: pool, mutation and GPT agents at once, each
with its quota, scored by the GP and chosen by qLogNEI, evaluated by the emulator oracle (a model,
labelled as such everywhere, because novel polymers cannot be looked up). The pool is 300 polymers of the
synthetic HTP-MD-shaped table (conftest's `data_env`), which the GPT pre-trains on and the emulator learns."""

import pytest
import yaml
from typer.testing import CliRunner

from amala.flows.campaign_flow import campaign_flow
from amala.flows.cli import app
from amala.loop.campaign import Campaign
from amala.loop.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.flow]


def test_two_generative_iterations_with_every_agent_and_the_emulator(data_env, prefect_server):
    config = {
        "name": "gen", "seed": 1,
        "data": {"dataset": "htpmd", "subset": 300},
        "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
        "agents": [{"kind": "pool"},
                   {"kind": "mutation", "n": 30},
                   {"kind": "gpt", "n": 20, "epochs": 2, "finetune_steps": 2,
                    "checkpoint": str(data_env / "gpt")}],
        "oracle": {"kind": "emulator", "properties": ["conductivity"]},
        "acquisition": {"strategy": "qlognei", "batch_size": 8, "prescreen": 100, "mc_samples": 32},
        "budget": {"initial": 10, "max_evaluations": 26},
    }
    path = data_env / "gen.yaml"
    path.write_text(yaml.safe_dump(config))
    result = campaign_flow(str(path), max_iterations=3)
    assert result["evaluations"] == 26
    assert (data_env / "gpt" / "config.json").is_file()  # the pre-trained GPT is kept as a checkpoint

    campaign = Campaign(load_config(path))
    rows = campaign.store.evaluations(campaign.id)
    assert len({c.key for c, _ in rows}) == 26  # no candidate twice
    assert all(e.fidelity == "emulated" and e.provenance["emulated"] for _, e in rows)
    assert all(e.values["conductivity"]["std"] > 0 for _, e in rows)
    pool = set(campaign.table.frame.smiles)
    proposed_by = {c.agent for c, _ in rows}
    assert proposed_by <= {"pool", "mutation", "gpt"} and len(proposed_by) >= 2
    assert any(c.representation not in pool for c, _ in rows)  # the loop evaluated invented polymers
    gpt_versions = [m for m in campaign.store.model_versions(campaign.id) if m.kind == "gpt"]
    assert gpt_versions and all(m.details["n_train"] > 0 for m in gpt_versions)
    for version in gpt_versions:  # each fine-tuned state is a checkpoint on disk, traceable from its candidates
        assert (data_env / version.details["checkpoint"] / "config.json").is_file()
    gpt_rows = [c for c, _ in rows if c.agent == "gpt"]
    assert all(c.provenance["checkpoint"] in {m.details["checkpoint"] for m in gpt_versions} for c in gpt_rows)
    assert any(e.kind == "agent" and e.message.startswith("gpt: ") for e in campaign.store.events(campaign.id))

    out = CliRunner().invoke(app, ["report", "gen"])
    assert out.exit_code == 0, out.output
    page = (data_env / "runs" / "gen" / "report" / "report.html").read_text()
    assert "Emulated values" in page and "Winners by agent" in page
