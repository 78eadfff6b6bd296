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
