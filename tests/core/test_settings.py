"""amala's environment variables go through one pydantic-settings class (amala.core.settings),
read when used (a variable set after import counts), and a bad value is one line naming it."""

import re
from pathlib import Path

import pytest

from amala.core import datasets
from amala.core.settings import SettingsError, settings
from amala.loop import known_campaigns, lease, preflight
from amala.loop.config import parse_config

ROOT = Path(__file__).parents[2]


def test_variables_are_read_when_used(monkeypatch, tmp_path):
    cfg = parse_config({"name": "s"})
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    assert cfg.database_url == "sqlite:///runs/s/amala.db"
    monkeypatch.setenv("AMALA_DB_URL", "sqlite:////tmp/elsewhere.db")
    monkeypatch.setenv("AMALA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AMALA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("AMALA_LEASE_TTL", "2.5")
    assert cfg.database_url == "sqlite:////tmp/elsewhere.db"
    assert datasets.data_dir() == tmp_path / "data" and known_campaigns.home() == tmp_path / "home"
    assert lease.ttl_seconds() == 2.5 and lease.Holder("me", 100.0).alive(now=102.0)
    assert not lease.Holder("me", 100.0).alive(now=103.0)
    monkeypatch.setenv("AMALA_DB_URL", "")  # empty counts as unset, as before
    assert cfg.database_url == "sqlite:///runs/s/amala.db"


@pytest.mark.parametrize("value, debug", [("1", True), ("true", True), ("2", True), ("yes please", True),
                                          ("0", False), ("false", False), ("off", False), ("", False)])
def test_debug_is_on_for_any_value_but_off_words(monkeypatch, value, debug):
    """As before the settings class: any non-empty AMALA_DEBUG is on, except 0/false/no/off; and a
    debug value never makes other variables' lookups fail."""
    monkeypatch.setenv("AMALA_DEBUG", value)
    assert settings().debug is debug


@pytest.mark.parametrize("name, value", [("AMALA_LEASE_TTL", "abc"), ("AMALA_LEASE_TTL", "-5"),
                                         ("AMALA_PREFECT_STARTUP_SECONDS", "soon")])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=rf"^{name}: '{value}' is not valid \(") as error:
        settings()
    assert "\n" not in str(error.value)
    assert preflight.check(parse_config({"name": "s"})) == [str(error.value)]  # `amala validate` says it too


def test_no_module_reads_an_amala_variable_itself():
    """Only the settings class reads AMALA_* (so names, defaults and errors stay in one place)."""
    direct = re.compile(r"environ[^\n]*AMALA_|getenv\([^\n]*AMALA_")
    offenders = [f"{path.relative_to(ROOT)}:{n}" for folder in ("agents", "models", "oracles", "loop", "flows")
                 for path in sorted((ROOT / folder).rglob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), 1) if direct.search(line)]
    assert offenders == []
