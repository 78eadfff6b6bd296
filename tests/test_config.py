from pathlib import Path

import pytest
from typer.testing import CliRunner

from amala.flows.cli import app
from amala.loop.config import ConfigError, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["htpmd_retro.yaml", "htpmd_demo.yaml", "htpmd_overnight.yaml", "demo.yaml",
                                  "oxide_glass.yaml"])
def test_shipped_configs_validate(name):
    cfg = load_config(CONFIGS / name)
    assert cfg.budget.max_evaluations >= cfg.budget.initial


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, expected", [
    ("name: x\nacquisition:\n  batchsize: 3\n", "acquisition.batchsize: unknown key"),
    ("name: x\nacquisition:\n  batch_size: ten\n", "acquisition.batch_size: Input should be a valid integer"),
    ("name: x\nacquisition:\n  strategy: magic\n", "acquisition.strategy: Input should be"),
    ("seed: 1\n", "name: Field required"),
    ("name: x\nsurrogate:\n  kind: random_forest\n", "needs a Bayesian surrogate"),
    ("name: x\nbudget: {initial: 9, max_evaluations: 5}\n", "budget.initial must not exceed"),
    ("name: [unclosed\n", "not valid YAML"),
    ("name: x\nrepresentation: composition\ndata: null\n", "takes agents of kind ['composition', 'llm']"),
    ("name: x\nrepresentation: composition\ndata: null\nagents: [{kind: composition}]\noracle: {kind: md}\n",
     "agents[].bounds"),
    ("name: x\ndata: null\n", "a smiles campaign needs a dataset"),
])
def test_bad_config_fails_in_one_line_naming_the_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    assert expected in message
    assert str(tmp_path / "c.yaml") in message


def test_validate_command(tmp_path):
    runner = CliRunner()
    good = runner.invoke(app, ["validate", str(CONFIGS / "htpmd_retro.yaml")])
    assert good.exit_code == 0 and "ok" in good.output
    bad = runner.invoke(app, ["validate", str(_write(tmp_path, "name: x\noracle: {kind: oracle9}\n"))])
    assert bad.exit_code == 2
    assert "oracle.kind" in bad.output


def test_database_url_defaults_to_workdir_and_env_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    cfg = load_config(_write(tmp_path, "name: exp1\n"))
    assert cfg.database_url == "sqlite:///runs/exp1/amala.db"
    monkeypatch.setenv("AMALA_DB_URL", "sqlite:////tmp/other.db")
    assert cfg.database_url == "sqlite:////tmp/other.db"


def test_approval_shorthand_and_its_errors():
    from amala.loop.config import ConfigError, parse_config

    assert parse_config({"name": "x", "approval": "batch"}).approval.mode == "batch"
    assert parse_config({"name": "x", "approval": {"mode": "batch", "on_timeout": "reject"}}).approval.on_timeout == "reject"
    with pytest.raises(ConfigError, match="approval.mode"):
        parse_config({"name": "x", "approval": "always"})
