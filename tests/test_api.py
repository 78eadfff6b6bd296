"""`amala` itself (api/): the few names a script or a notebook uses, and what `import amala` costs."""

import subprocess
import sys
from importlib.metadata import version

import pytest
import yaml

import amala
from amala.loop.campaign import Campaign
from amala.loop.config import CampaignConfig, ConfigError

CONFIG = {
    "name": "api",
    "seed": 1,
    "data": {"dataset": "htpmd", "subset": 200},
    "objective": {"property": "conductivity", "direction": "maximize", "transform": "log10"},
    "oracle": {"kind": "lookup"},
    "acquisition": {"strategy": "random", "batch_size": 5},
    "budget": {"initial": 10, "max_evaluations": 15},
}


def test_version_and_names():
    assert amala.__version__ == version("amala")
    assert amala.Campaign is Campaign
    assert set(amala.__all__) == {"Campaign", "__version__", "load_config", "run"}
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        amala.nothing  # noqa: B018


def test_import_amala_loads_no_heavy_package():
    code = "import sys, amala; print(sorted({'torch', 'prefect', 'pandas', 'rdkit'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_load_config_validates(tmp_path):
    path = tmp_path / "api.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    assert isinstance(amala.load_config(path), CampaignConfig)
    path.write_text(yaml.safe_dump({**CONFIG, "budget": {"initial": 10, "max_evaluations": "many"}}))
    with pytest.raises(ConfigError, match="budget.max_evaluations"):
        amala.load_config(path)


@pytest.mark.flow
def test_run_takes_a_parsed_config_through_the_flow(data_env, prefect_server):
    config = amala.load_config(_written(data_env))
    result = amala.run(config, max_iterations=1)
    assert result["campaign"] == "api" and result["evaluations"] == 10 and not result["final"]
    assert amala.run(config)["evaluations"] == 15  # resumed to the budget


def _written(folder):
    path = folder / "api.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def test_the_flow_records_a_config_without_its_secrets():
    from amala.flows.campaign_flow import campaign_flow

    cfg = CampaignConfig.model_validate({**CONFIG, "database": "postgresql://amala:hunter2@db.example/amala",
                                         "notify": {"webhook": "https://hooks.slack.com/services/T0/B0/XXSECRET"}})
    for given in (cfg, cfg.model_dump(mode="json")):
        shown = str(campaign_flow.serialize_parameters({"config": given}))
        assert "hunter2" not in shown and "XXSECRET" not in shown and "db.example" in shown
