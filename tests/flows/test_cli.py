import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from amala.flows.cli import app, main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


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
    from amala.flows.cli.run import _estimate_minutes
    from amala.loop.config import load_config

    mlip = load_config(CONFIGS / "sulfide_demo.yaml")  # 4 evaluations, 2 workers
    assert _estimate_minutes(mlip, done=0) is None  # no typical cost: it depends on what is left to learn
    said = _estimate_minutes(mlip, done=1, measured=[1200.0, 1800.0])
    assert said.startswith("estimate: about 50 min for 3 simulation(s), 2 at a time") and "median" in said
    md = load_config(CONFIGS / "demo.yaml")
    assert "typical" in _estimate_minutes(md, done=0)


def _amala(monkeypatch, capsys, *args) -> tuple[int, list[str]]:
    """`amala ARGS` as the console script runs it (`main()`, not the bare typer app, which prints
    usage errors its own way): the exit code and the non-empty lines on stderr."""
    monkeypatch.setattr(sys, "argv", ["amala", *args])
    with pytest.raises(SystemExit) as stopped:
        main()
    return stopped.value.code, [line for line in capsys.readouterr().err.splitlines() if line.strip()]


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """A folder with no campaigns and no index of them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMALA_HOME", str(tmp_path / "home"))
    for name in ("AMALA_DB_URL", "AMALA_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_usage_errors_are_one_line_with_exit_code_2(nowhere, monkeypatch, capsys):
    for args, said in ((["approve", "lab", "--batch-size", "0"], "--batch-size"),
                       (["stats"], "No such command 'stats'"),
                       (["status", "--bogus"], "--bogus"),
                       (["report"], "Missing argument")):
        code, lines = _amala(monkeypatch, capsys, *args)
        assert code == 2 and len(lines) == 1 and said in lines[0], (args, code, lines)
        assert lines[0].startswith("error: ") and lines[0].endswith("--help`)"), lines  # where to look next


def test_a_5000_character_campaign_name_is_one_line_with_exit_code_2(nowhere, monkeypatch, capsys):
    name = "x" * 5000  # longer than a file name may be: looking for runs/<name>/amala.db is an OSError
    for args in (["status", name], ["report", name], ["pending", name], ["approve", name],
                 ["status", name + ".yaml"]):
        code, lines = _amala(monkeypatch, capsys, *args)
        assert code == 2 and len(lines) == 1, (args[0], code, lines)
        assert "no database for campaign" in lines[0] and len(lines[0]) < 400, lines
    config = nowhere / "long.yaml"
    config.write_text(yaml.safe_dump({"name": name, "data": {"dataset": "htpmd"}}))
    code, lines = _amala(monkeypatch, capsys, "run", str(config))
    assert code == 2 and len(lines) == 1 and "is not a campaign name" in lines[0], lines


def test_an_os_error_naming_a_file_is_one_line_with_exit_code_2(nowhere, monkeypatch, capsys):
    """A command that does not foresee an OS error (here the download's folder) still says it in
    one line naming the file, as the user's to fix (exit 2), not as a Python exception name."""
    from amala.core import datasets

    def refuse(name, url=None, dest_dir=None):
        raise NotADirectoryError(20, "Not a directory", "/dev/null/x/htpmd.csv")

    monkeypatch.setattr(datasets, "fetch", refuse)
    code, lines = _amala(monkeypatch, capsys, "data", "fetch", "htpmd", "--dest", "/dev/null/x")
    assert (code, lines) == (2, ["error: /dev/null/x/htpmd.csv: Not a directory"])
