from pathlib import Path

from typer.testing import CliRunner

from amala.flows.cli import app

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_run_without_data_says_how_to_get_it_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("AMALA_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", str(CONFIGS / "htpmd_demo.yaml")])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "amala data fetch htpmd" in lines[0]
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_status_and_report_of_an_unknown_campaign_fail_clearly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    for command in (["status", "nope"], ["report", "nope"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2 and "no database for campaign 'nope'" in result.output


def test_the_run_estimate_of_an_mlip_campaign_waits_for_its_own_measurements():
    from amala.flows.cli import _estimate_minutes
    from amala.loop.config import load_config

    mlip = load_config(CONFIGS / "sulfide_demo.yaml")  # 6 evaluations, 2 workers
    assert _estimate_minutes(mlip, done=0) is None  # no typical cost: it depends on what is left to learn
    said = _estimate_minutes(mlip, done=2, measured=[1200.0, 1800.0])
    assert said.startswith("estimate: about 50 min for 4 simulation(s), 2 at a time") and "median" in said
    md = load_config(CONFIGS / "demo.yaml")
    assert "typical" in _estimate_minutes(md, done=0)
