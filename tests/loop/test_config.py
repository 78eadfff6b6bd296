from pathlib import Path

import pytest
from typer.testing import CliRunner

from amala.flows.cli import app
from amala.loop.config import ConfigError, load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
FORMULATIONS = Path(__file__).resolve().parents[1] / "data" / "formulations_small.csv"


@pytest.mark.parametrize("name", sorted(path.name for path in CONFIGS.glob("*.y*ml")))
def test_shipped_configs_validate(name, data_env, synthetic_data_dir, monkeypatch):
    """Every config the project ships, campaign or screen, passes `amala validate` on a machine that has
    its datasets: here the synthetic HTP-MD table, a small ChemArr-shaped table, and a stand-in at the
    screening library's file name (validate checks that the library is there; it reads the tables a
    campaign would load)."""
    from amala.core.datasets import spec
    from amala.loop.screening import is_screen_config

    data = data_env / "data"
    for dataset in ("htpmd", "chemarr", "chemarr_screen"):
        file = data / spec(dataset).filename
        file.parent.mkdir(parents=True, exist_ok=True)
        source = synthetic_data_dir / "htpmd.csv" if dataset == "htpmd" else FORMULATIONS
        file.write_text(source.read_text() if dataset != "chemarr_screen" else "smiles\n")
    glasses = data / "sciglass" / "sciglass_li_oxide_glasses.csv"  # two glasses in SciGlass's columns
    glasses.parent.mkdir(parents=True, exist_ok=True)
    glasses.write_text("composition_mol_percent,log10_sigma_S_cm_293K,log10_sigma_S_cm_373K,log10_sigma_S_cm_423K,"
                       "log10_sigma_S_cm_573K,ea_eV_fit,tg_C,author,year\n"
                       "Li2O:33.3;SiO2:66.7,-9,-6,,,0.7,450,A,1990\nLi2O:40;P2O5:60,-8,-5.5,,,0.6,300,B,1991\n")
    monkeypatch.setenv("AMALA_DATA_DIR", str(data))
    result = CliRunner().invoke(app, ["validate", str(CONFIGS / name)])
    assert result.exit_code == 0 and f"{CONFIGS / name}: ok (" in result.output, result.output
    if not is_screen_config(CONFIGS / name):
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
    ("name: x\nrepresentation: composition\ndata: null\n",
     "takes agents of kind ['composition', 'glass_prior', 'llm', 'pool']"),
    ("name: x\nrepresentation: composition\ndata: null\nagents: [{kind: composition}]\noracle: {kind: md}\n",
     "agents[].bounds"),
    ("name: x\ndata: null\n", "data: agent kind 'pool' needs a dataset"),
    ("name: x\nagents: [{kind: pool, url: 'http://h'}]\n", "agents.0.url: not a setting of agent kind 'pool'"),
    ("name: x\nagents: [{url: 'http://h'}]\n", "agents.0.url: not a setting of agent kind 'pool'"),
    ("name: x\noracle: {kind: lookup, profile: quick}\n", "oracle.profile: not a setting of oracle kind 'lookup'"),
    ("name: x\nsurrogate: {epochs: 3}\n", "surrogate.epochs: not a setting of surrogate kind 'gp'"),
    ("name: x\nsurrogate: {high_fidelity: [standard]}\n",  # a polymer campaign's gp: one fidelity
     "surrogate.high_fidelity: the gp surrogate has no fidelity heads (the gp has two fidelities in composition"),
    ("name: x\nsurrogate: {kind: random_forest, high_fidelity: [standard]}\n",
     "surrogate.high_fidelity: not a setting of surrogate"),
    ("name: x\nagents: [{kind: magic}]\n", "agents.0.kind: unknown agent kind 'magic' (known: composition, "
     "formulation, glass_prior, gpt, library, llm, mutation, pool)"),
    ("name: x\noracle: {kind: dft}\n", "oracle.kind: unknown oracle kind 'dft' (known: emulator, "
     "formulation_lookup, glass_lookup, lookup, md"),
    ("name: x\nrepresentation: composition\ndata: null\noracle: {kind: md}\n"
     "agents: [{kind: composition, bounds: {Li2O: [0, 1], SiO2: [0, 1]}}]\nsurrogate: {kind: gnn_ensemble}\n",
     "representation composition takes surrogate.kind ['gp', 'random_forest']"),
    ("name: x\nrepresentation: composition\ndata: null\noracle: {kind: md}\n"
     "agents: [{kind: composition, bounds: {Li2O: [0, 1], SiO2: [0, 1]}}]\n"
     "execution: {task_runner: threads, workers: 2}\n",
     "execution.task_runner: threads would run several md evaluations in one process"),  # md: thread_safe False
    ("name: x\nsurrogate: {featurizer: {radius: 2, foo: 1}}\n", "surrogate.featurizer.foo: unknown key"),
])
def test_bad_config_fails_in_one_line_naming_the_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message
    assert expected in message
    assert str(tmp_path / "c.yaml") in message


def test_validate_command(data_env, monkeypatch):
    """`validate` checks the config and what it names on this machine: with the dataset where the
    data setting points it passes; without it, it says so in one line instead of `run` failing later."""
    runner = CliRunner()
    good = runner.invoke(app, ["validate", str(CONFIGS / "htpmd_retro.yaml")])
    assert good.exit_code == 0 and "ok" in good.output, good.output
    bad = runner.invoke(app, ["validate", str(_write(data_env, "name: x\noracle: {kind: oracle9}\n"))])
    assert bad.exit_code == 2
    assert "oracle.kind" in bad.output
    monkeypatch.setenv("AMALA_DATA_DIR", str(data_env / "nowhere"))
    missing = runner.invoke(app, ["validate", str(CONFIGS / "htpmd_retro.yaml")])
    lines = [line for line in missing.output.splitlines() if line.strip()]
    assert missing.exit_code == 2 and len(lines) == 1 and "data.dataset" in lines[0] and "not found" in lines[0]


def test_database_url_defaults_to_workdir_and_env_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    cfg = load_config(_write(tmp_path, "name: exp1\n"))
    assert cfg.database_url == "sqlite:///runs/exp1/amala.db"
    monkeypatch.setenv("AMALA_DB_URL", "sqlite:////tmp/other.db")
    assert cfg.database_url == "sqlite:////tmp/other.db"


def test_approval_shorthand_and_its_errors():
    from amala.loop.config import ConfigError, parse_config

    assert parse_config({"name": "x", "approval": "batch"}).approval.mode == "batch"
    config = parse_config({"name": "x", "approval": {"mode": "batch", "on_timeout": "reject"}})
    assert config.approval.on_timeout == "reject"
    with pytest.raises(ConfigError, match="approval.mode"):
        parse_config({"name": "x", "approval": "always"})


@pytest.mark.parametrize("text, expected", [
    ("name: ..\n", "name: '..' is not a campaign name"),
    ("name: .\n", "is not a campaign name"),
    ("name: " + "a" * 300 + "\n", "1-64 characters"),
    ("name: a/b\n", "is not a campaign name"),
    ("name: x\nacquisition: {batch_size: true}\n", "acquisition.batch_size: Input should be a valid integer"),
    ("name: x\nacquisition: {batch_size: 2.0}\n", "acquisition.batch_size: Input should be a valid integer"),
    ("name: x\nsurrogate: {featurizer: {n_bits: 1000000000}}\n", "surrogate.featurizer.n_bits: Input should be less"),
    ("name: x\nacquisition: {mc_samples: 1.0e9}\n", "acquisition.mc_samples"),
    ("name: x\nacquisition: {prescreen: 100000000}\n", "acquisition.prescreen: Input should be less"),
    ("name: x\nsurrogate: {kind: gnn_ensemble, members: 100000}\n", "surrogate.members: Input should be less"),
    ("name: x\nbudget: {max_evaluations: 1000000000}\n", "budget.max_evaluations: Input should be less"),
    ("name: x\ndata: {subset: 1000000000}\n", "data.subset: Input should be less"),
    ("name: x\nagents: [{kind: mutation, n: 100000000}]\n", "agents.0.n: Input should be less"),
    ("name: x\noracle: {retry_delay_seconds: .inf}\n", "oracle.retry_delay_seconds: Input should be a finite number"),
    ("name: x\noracle: {retry_delay_seconds: .nan}\n", "oracle.retry_delay_seconds: Input should be a finite number"),
    ("name: x\noracle: {retries: yes}\n", "oracle.retries: Input should be a valid integer"),
    ("name: x\nseed: true\n", "seed: Input should be a valid integer"),
    ("name: x\nnotify: {webhook: notaurl}\n", "notify.webhook: 'notaurl' is not an http(s) URL"),
    ("name: x\nnotify: {webhook: 'ftp://host/x'}\n", "notify.webhook"),
    ("name: x\nagents: [{kind: llm, url: 'localhost:8000', model: m}]\n", "agents.0.url"),
    ("name: x\nworkdir: \"a\\0b\"\n", "workdir: control character"),
    ("name: x\nname: y\n", "line 2: duplicate key 'name' (first given on line 1)"),
    ("name: x\nacquisition:\n  batch_size: 3\n  batch_size: 4\n", "line 4: duplicate key 'batch_size'"),
    ("name: x\nrepresentation: composition\ndata: null\noracle: {kind: md}\n"
     "agents: [{kind: composition, bounds: {Li2O: [0.6, 0.2]}}]\n", "agents.0.bounds: Li2O: range [0.6, 0.2]"),
])
def test_wrong_values_that_used_to_pass_now_fail_in_one_line(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    assert "\n" not in str(info.value) and expected in str(info.value)
    assert len(str(info.value)) < 400  # a 300-character name is quoted short, not in full


def test_yaml_merge_keys_may_still_be_overridden(tmp_path):
    cfg = load_config(_write(tmp_path, "name: x\nacquisition:\n  <<: {batch_size: 3, strategy: qucb}\n"
                                       "  batch_size: 4\n"))
    assert cfg.acquisition.batch_size == 4 and cfg.acquisition.strategy == "qucb"


def test_counts_take_yaml_integers_and_floats_take_integers(tmp_path):
    cfg = load_config(_write(tmp_path, "name: x\nacquisition: {batch_size: 7}\noracle: {retry_delay_seconds: 3}\n"))
    assert cfg.acquisition.batch_size == 7 and cfg.oracle.retry_delay_seconds == 3.0


def test_a_config_that_is_not_utf8_is_one_line_naming_the_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: x\n# Grüße\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: line 2: not UTF-8 text (byte 0xfc); save it as UTF-8"
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path)  # a folder


def test_preflight_finds_what_run_would_find_late_without_creating_anything(tmp_path, monkeypatch):
    from amala.loop.config import parse_config
    from amala.loop.preflight import check

    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    monkeypatch.setenv("AMALA_DATA_DIR", str(tmp_path / "nodata"))
    glass = {"name": "g", "representation": "composition", "data": None, "oracle": {"kind": "md"},
             "agents": [{"kind": "composition", "bounds": {"Li2O": [0.2, 0.5], "SiO2": [0.5, 0.8]}}]}
    assert check(parse_config({**glass, "workdir": str(tmp_path / "new" / "deeper")})) == []
    assert not (tmp_path / "new").exists()  # judged by its nearest existing parent, not created
    problems = {
        "workdir": {**glass, "workdir": "/dev/null/x"},
        "database": {**glass, "database": "notaurl", "workdir": str(tmp_path)},
        "driver": {**glass, "database": "mysql+mysqldb://user:hunter22@db.example/x", "workdir": str(tmp_path)},
        "dialect": {**glass, "database": "nosuchdb://h/x", "workdir": str(tmp_path)},
        "sqlite": {**glass, "database": "sqlite:////dev/null/a.db", "workdir": str(tmp_path)},
        "data": {"name": "p", "workdir": str(tmp_path)},
        "model": {**glass, "workdir": str(tmp_path), "agents": [{"kind": "llm", "backend": "local", "bounds":
                  {"Li2O": [0.2, 0.5], "SiO2": [0.5, 0.8]}, "path": str(tmp_path / "no-model")}]},
        "generator": {**glass, "workdir": str(tmp_path),
                      "oracle": {"kind": "md", "structure": {"source": "generator", "generator": "not-trained"}}},
    }
    found = {name: check(parse_config(cfg)) for name, cfg in problems.items()}
    assert found["workdir"] == ["workdir: cannot create /dev/null/x: /dev/null is not a directory"]
    assert found["database"] == ["database: 'notaurl' is not a SQLAlchemy URL (e.g. sqlite:///runs/x/amala.db or "
                                 "postgresql+psycopg://user@host/db)"]
    assert found["driver"][0].startswith("database: the driver for 'mysql+mysqldb://user:***@db.example/x' is not "
                                         "installed (cannot import MySQLdb)")
    assert found["dialect"] == ["database: no SQLAlchemy dialect 'nosuchdb' (e.g. sqlite, postgresql+psycopg)"]
    assert found["sqlite"] == ["database: cannot create /dev/null: /dev/null is not a directory"]
    assert found["data"][0].startswith("data.dataset: dataset 'htpmd' not found at ")
    assert found["model"] == [f"agents.0.path: no model folder at {tmp_path / 'no-model'}"]
    assert found["generator"][0].startswith("oracle.structure.generator: no structure generator 'not-trained' "
                                            f"(looked in {tmp_path / 'generators'}, ")
    assert all(len(p) == 1 and "\n" not in p[0] and "hunter22" not in p[0] for p in found.values())


def test_preflight_refuses_a_log10_objective_over_non_positive_table_values(tmp_path, monkeypatch):
    from amala.loop.config import parse_config
    from amala.loop.preflight import check

    table = tmp_path / "t.csv"
    table.write_text("mol_smiles,conductivity,li_diffusivity,tfsi_diffusivity,poly_diffusivity,"
                     "transference_number,molarity\n[Cu]CCO[Au],1e-4,1e-8,1e-8,1e-8,-0.25,1.0\n"
                     "[Cu]CCCO[Au],2e-4,1e-8,1e-8,1e-8,0.3,1.0\n")
    base = {"name": "t", "workdir": str(tmp_path), "database": "sqlite://", "data": {"path": str(table)}}
    assert check(parse_config(base)) == []
    bad = check(parse_config({**base, "objective": {"property": "transference_number"}}))
    assert bad == ["objective.transform: log10 of transference_number, but 1 of the dataset's 2 values are <= 0 "
                   "(e.g. -0.25) and cannot be log10-transformed; use transform: none"]
    assert check(parse_config({**base, "objective": {"property": "transference_number", "transform": "none"}})) == []


def test_objective_screen_records_untransformable_values_as_failures():
    from amala.core.evaluation import Evaluation, Measurement
    from amala.loop.config import ObjectiveSpec
    from amala.loop.objective import Objective

    objective = Objective(ObjectiveSpec(property="conductivity"), "S/cm")
    bad = Evaluation("k", "lab", "external", "ok", values={"conductivity": Measurement(-1.0, "S/cm")})
    screened = objective.screen(bad)
    assert not screened.ok and screened.reason == "conductivity = -1 cannot be log10-transformed (must be > 0)"
    assert screened.values == bad.values and bad.ok  # the measurement is kept; the input is not modified
    good = Evaluation("k", "lab", "external", "ok", values={"conductivity": Measurement(1e-4, "S/cm")})
    assert objective.screen(good) is good and objective.of(good) == pytest.approx(-4)


def test_each_kind_has_only_its_own_settings_and_a_missing_kind_keeps_the_default():
    from amala.loop.config import parse_config

    cfg = parse_config({"name": "x", "agents": [{}], "oracle": {"properties": ["conductivity"]}, "surrogate": {}})
    assert (cfg.agents[0].kind, cfg.oracle.kind, cfg.surrogate.kind) == ("pool", "lookup", "gp")
    assert "url" not in cfg.model_dump()["agents"][0] and "profile" not in cfg.model_dump()["oracle"]
    gpt = parse_config({"name": "x", "agents": [{"kind": "gpt"}]}).agents[0]
    assert (gpt.epochs, gpt.finetune_steps, gpt.n) == (35, 20, 64)  # the defaults of the flat spec, unchanged


def test_a_config_stored_with_every_kinds_keys_still_loads():
    """Databases written before kinds had their own settings stored every key of every kind."""
    from amala.loop.config import ConfigError, parse_config, stored_config

    flat = {"name": "old", "agents": [{"kind": "pool", "name": None, "bounds": None, "n": 64, "url": None}],
            "oracle": {"kind": "lookup", "properties": None, "profile": "quick", "retries": 2},
            "surrogate": {"kind": "gp", "featurizer": {"kind": "morgan"}, "members": 5, "high_fidelity": []}}
    with pytest.raises(ConfigError, match="agents.0.bounds: not a setting of agent kind 'pool'"):
        parse_config(flat)  # a config file must not carry them
    cfg = stored_config(flat)
    assert cfg.agents[0].kind == "pool" and cfg.oracle.retries == 2 and cfg.surrogate.featurizer.kind == "morgan"
