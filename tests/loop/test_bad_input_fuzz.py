"""Seeded fuzzing of everything a person or a program hands amala: campaign configs, candidate
strings (repeat units and compositions) and inbox result rows.

For every generated input the contract is the same: either it is accepted and then satisfies the
invariants the rest of the system relies on (checked here independently of the implementation), or
it is refused with a ConfigError/ValueError whose message is one line naming the field, file or
candidate. Inputs built from the known bad cases of issue 16 must always be refused. Bounded
(random.Random(0), a few hundred of each) so it runs in seconds.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
from pathlib import Path

import pytest
import yaml
from rdkit import Chem

from amala.core.candidate import Candidate
from amala.core.validity import candidate_from_text
from amala.loop.config import CampaignConfig, ConfigError, load_config
from amala.oracles.tables.queue import QueueOracle

RNG_SEED = 0
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")

# --- configs ------------------------------------------------------------------------------------

BASE = {"name": "fuzz", "data": {"dataset": "htpmd", "subset": 100},
        "acquisition": {"strategy": "qlognei", "batch_size": 5, "prescreen": 50, "mc_samples": 32},
        "budget": {"initial": 5, "max_evaluations": 50}}
# (key path, largest sane value): every size-like setting must be an int within its bound
COUNTS = {("acquisition", "batch_size"): 1000, ("acquisition", "prescreen"): 100_000,
          ("acquisition", "mc_samples"): 4096, ("surrogate", "featurizer", "n_bits"): 16_384,
          ("surrogate", "members"): 64, ("surrogate", "epochs"): 1000, ("surrogate", "n_estimators"): 10_000,
          ("data", "subset"): 1_000_000, ("budget", "max_evaluations"): 1_000_000, ("budget", "initial"): 100_000,
          ("oracle", "retries"): 100, ("execution", "workers"): 1024, ("seed",): 2**32 - 1}
FLOATS = [("oracle", "retry_delay_seconds"), ("oracle", "wait_seconds"), ("oracle", "poll_seconds"),
          ("approval", "timeout_seconds"), ("notify", "timeout_seconds"), ("acquisition", "ucb_beta"),
          ("oracle", "density_g_cm3")]
BAD_NAMES = ["..", ".", "", "a" * 65, "a" * 300, "a/b", "../x", "/abs", "x y", "x\x00", "-rf", ".hidden", "ünï",
             "x\n", "~", "a\\b"]
BAD_WEBHOOKS = ["notaurl", "ftp://h/x", "http://", "javascript:alert(1)", "https//x", "", "http://h:99999/x"]
GARBAGE = [True, False, None, -1, 0, 1e9, 10**12, float("inf"), float("nan"), "ten", "1_0", [], {}, [1], "\x00",
           1.5, "", "1e9"]


# settings only some kinds have: the config names that kind (and what it needs) so the value is checked
KIND_OF = {("surrogate", "members"): {"surrogate": {"kind": "gnn_ensemble"}},
           ("surrogate", "epochs"): {"surrogate": {"kind": "gnn_ensemble"}},
           ("surrogate", "n_estimators"): {"surrogate": {"kind": "random_forest"},
                                           "acquisition": {**BASE["acquisition"], "strategy": "greedy"}},
           ("oracle", "wait_seconds"): {"oracle": {"kind": "queue"}},
           ("oracle", "poll_seconds"): {"oracle": {"kind": "queue"}},
           ("oracle", "density_g_cm3"): {"oracle": {"kind": "md"}, "representation": "composition", "data": None,
                                         "agents": [{"kind": "composition", "bounds": {"Li2O": [0.1, 0.5],
                                                                                       "SiO2": [0.5, 0.9]}}]}}


def _base_for(path: tuple) -> dict:
    return {**BASE, **KIND_OF.get(path, {})}


def _set(data: dict, path: tuple, value) -> dict:
    data = json.loads(json.dumps(data))
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return data


def _config_cases(rng: random.Random):
    """(description, yaml text, must_fail, key path expected in the message) for a few hundred configs."""
    for _ in range(120):
        path = rng.choice(list(COUNTS) + FLOATS)
        value = rng.choice(GARBAGE)
        yield f"{path}={value!r}", _set(_base_for(path), path, value), None, ".".join(path)
    for path, top in COUNTS.items():
        yield f"{path} true", _set(_base_for(path), path, True), True, ".".join(path)
        yield f"{path} too big", _set(_base_for(path), path, top * 10 + 1), True, ".".join(path)
        yield f"{path} ok", _set(_base_for(path), path, rng.randint(2, 8)), None, ".".join(path)
    for path in FLOATS:
        yield f"{path} inf", _set(_base_for(path), path, float("inf")), True, ".".join(path)
        yield f"{path} nan", _set(_base_for(path), path, float("nan")), True, ".".join(path)
        yield f"{path} bool", _set(_base_for(path), path, True), True, ".".join(path)
    for name in BAD_NAMES:
        yield f"name {name!r}", _set(BASE, ("name",), name), True, "name"
    for hook in BAD_WEBHOOKS:
        yield f"webhook {hook!r}", _set(BASE, ("notify", "webhook"), hook), True, "notify.webhook"
    for key in ("workdir", "database"):
        yield f"{key} NUL", _set(BASE, (key,), "runs/a\x00b"), True, key


def _raw_cases(rng: random.Random):
    """Config files broken below the level of values: bytes, duplicate keys, noise."""
    yield "latin-1", "name: x\n# Grüße\n".encode("latin-1")
    yield "duplicate", b"name: x\nname: y\n"
    yield "nested duplicate", b"name: x\nacquisition:\n  batch_size: 3\n  batch_size: 4\n"
    yield "utf-16", "name: x\n".encode("utf-16")
    yield "deep", b"name: " + b"[" * 5000
    for _ in range(40):
        text = bytearray(yaml.safe_dump(BASE).encode())
        for _ in range(rng.randint(1, 4)):
            text[rng.randrange(len(text))] = rng.randrange(256)
        yield "noise", bytes(text)


def _check_accepted(cfg: CampaignConfig) -> None:
    """What the rest of amala assumes of a config that passed."""
    assert NAME.fullmatch(cfg.name) and cfg.name not in (".", "..")
    missing = object()  # a setting the config's kind does not have
    for path, top in COUNTS.items():
        node = cfg
        for key in path:
            node = getattr(node, key, missing)
        assert node is missing or node is None or (type(node) is int and node <= top), (path, node)
    for path in FLOATS:
        node = cfg
        for key in path:
            node = getattr(node, key, missing)
        assert node is missing or (type(node) is float and math.isfinite(node)), (path, node)
    if cfg.notify.webhook is not None:
        assert re.match(r"^https?://[^/\s]+", cfg.notify.webhook)


def test_configs(tmp_path):
    rng = random.Random(RNG_SEED)
    path = tmp_path / "c.yaml"
    seen = 0
    for what, data, must_fail, key in _config_cases(rng):
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        seen += 1
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            message = str(exc)
            assert "\n" not in message and message.startswith(f"{path}:"), (what, message)
            assert key in message or "line" in message, (what, message)
            continue
        assert not must_fail, f"accepted {what}"
        _check_accepted(cfg)
    for what, raw in _raw_cases(rng):
        path.write_bytes(raw)
        seen += 1
        try:
            _check_accepted(load_config(path))
        except ConfigError as exc:
            assert "\n" not in str(exc) and str(exc).startswith(f"{path}:"), (what, str(exc))
            continue
        assert what == "noise", f"accepted {what}"
    assert seen >= 250


def test_preflight_never_raises(tmp_path, monkeypatch):
    from amala.loop.config import parse_config
    from amala.loop.preflight import check

    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    (tmp_path / "file").write_text("x")
    rng = random.Random(RNG_SEED)
    places = [str(tmp_path / "new"), str(tmp_path / "file" / "below"), "/dev/null/x", "/proc/1/nope", str(tmp_path)]
    urls = ["notaurl", "sqlite://", "sqlite:///" + str(tmp_path / "a.db"), "postgresql://u:pw@h/db", "x://",
            "mysql+nosuchdriver://h/db", "sqlite:////dev/null/a.db", "://", "postgresql+psycopg2://h/db"]
    for _ in range(40):
        cfg = parse_config({**BASE, "data": {"path": str(tmp_path / "missing.csv")},
                            "workdir": rng.choice(places), "database": rng.choice(urls)})
        problems = check(cfg)
        assert problems and all("\n" not in p and re.match(r"^(data\.\w+|database|workdir): ", p) for p in problems)
        assert "pw" not in " ".join(problems)
        assert not (tmp_path / "new").exists()
    assert any("is not a SQLAlchemy URL" in p for p in check(parse_config({**BASE, "database": "notaurl"})))


# Configs `amala validate` passed and `amala run` refused only inside the Prefect flow, after creating
# the campaign's database (review finding F5): (what, config change, key the one-line refusal names)
RUN_REFUSED = [
    ("a program as the data file", {"data": {"dataset": "htpmd", "path": "/bin/ls"}}, "data.path"),
    ("a CSV with other columns", {"data": {"dataset": "htpmd", "path": "{wrong}"}}, "data.path"),
    ("an objective the dataset lacks", {"objective": {"property": "viscosity"}}, "objective.property"),
    ("a non-ASCII objective", {"objective": {"property": "vïscosité"}}, "objective.property"),
    ("an oracle property the dataset lacks", {"oracle": {"kind": "lookup", "properties": ["conductivity", "ρ"]}},
     "oracle.properties"),
    ("infeasible composition bounds", {"representation": "composition", "data": None, "oracle": {"kind": "md"},
                                       "objective": {"property": "log10_conductivity_300K", "transform": "none"},
                                       "agents": [{"kind": "composition", "bounds": {"Li2O": [0.7, 0.9],
                                                                                      "SiO2": [0.7, 0.9]}}]},
     "agents.0.bounds"),
]


def test_validate_refuses_what_run_refuses_and_run_creates_nothing(tmp_path, synthetic_htpmd, monkeypatch):
    from typer.testing import CliRunner

    from amala.flows.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AMALA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    (tmp_path / "wrong.csv").write_text("x,y\n1,2\n")
    for what, change, key in RUN_REFUSED:
        data = {**BASE, "data": {"dataset": "htpmd", "path": str(synthetic_htpmd)}, **change}
        text = yaml.safe_dump(data, allow_unicode=True).replace("{wrong}", str(tmp_path / "wrong.csv"))
        config = tmp_path / "case.yaml"
        config.write_text(text, encoding="utf-8")
        for command in (["validate", str(config)], ["run", str(config), "--no-progress"]):
            result = CliRunner().invoke(app, command)
            lines = [line for line in result.output.splitlines() if line.strip() and "UnverifiedCopy" not in line
                     and not line.startswith("  table =")]
            assert result.exit_code == 2, (what, command[0], result.output)
            assert len(lines) == 1 and f"{key}:" in lines[0] and "Traceback" not in result.output, \
                (what, command[0], result.output)
        assert not (tmp_path / "runs").exists(), what  # nothing created: no work folder, no database


MLIP_BASE = {"name": "mlip_fuzz", "representation": "composition", "data": None,
             "objective": {"property": "log10_conductivity_300K", "direction": "maximize", "transform": "none"},
             "agents": [{"kind": "composition", "bounds": {"Li2S": [0.6, 0.8], "P2S5": [0.2, 0.35],
                                                           "LiI": [0.0, 0.2]}}],
             "oracle": {"kind": "mlip", "profile": "quick", "teacher": {"kind": "sevennet"}},
             "execution": {"task_runner": "processes", "workers": 2},
             "acquisition": {"batch_size": 2}, "budget": {"initial": 2, "max_evaluations": 6}}
QUEUE_GLASS = {"oracle": {"kind": "queue"}, "execution": {"task_runner": "threads", "workers": 1}}
# MLIP campaign settings that cannot work (review finding F6): (what, override, key the one-line refusal names)
MLIP_REFUSED = [
    ("explore at -5 K", {("oracle", "on_the_fly", "explore_temperatures_K"): [-5]},
     "oracle.on_the_fly.explore_temperatures_K"),
    ("explore at 0 K", {("oracle", "on_the_fly", "explore_temperatures_K"): [600, 0]},
     "oracle.on_the_fly.explore_temperatures_K"),
    ("explore at nan K", {("oracle", "on_the_fly", "explore_temperatures_K"): [float("nan")]},
     "oracle.on_the_fly.explore_temperatures_K"),
    ("explore at 1e6 K", {("oracle", "on_the_fly", "explore_temperatures_K"): [1e6]},
     "oracle.on_the_fly.explore_temperatures_K"),
    ("unknown profile", {("oracle", "profile"): "ultra"}, "oracle.profile"),
    ("cuda without a GPU", {("oracle", "device"): "cuda"}, "oracle.device"),
    ("potential folder under a file", {("oracle", "potential_folder"): "/dev/null/x"}, "oracle.potential_folder"),
    ("xenon coating", {("oracle", "interface"): {"coating": "XeO3:1"}}, "oracle.interface.coating"),
    ("coating not neutral", {("oracle", "interface"): {"coating": "Li2O:0.5;LiO2:0.5"}}, "oracle.interface.coating"),
    ("objective the oracle does not give", {("objective", "property"): "conductivity"}, "objective.property"),
    ("interface objective without an interface", {("objective", "property"): "interface_energy"},
     "objective.property"),
    ("unreal component", {("agents", "0", "bounds", "Unobtanium"): [0.0, 0.2]}, "agents.0.bounds"),
    ("component no glass cell holds", {("agents", "0", "bounds", "XeO3"): [0.0, 0.2]}, "agents.0.bounds"),
    ("unreal component sent to the lab", {**{(k,): v for k, v in QUEUE_GLASS.items()},
                                          ("agents", "0", "bounds", "Unobtanium"): [0.0, 0.2]}, "agents.0.bounds"),
]


def _override(base: dict, override: dict) -> dict:
    data = json.loads(json.dumps(base))
    for path, value in override.items():
        node = data
        for key in path[:-1]:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[path[-1]] = value
    return data


def test_mlip_settings_refused(tmp_path, monkeypatch):
    """Each setting an MLIP campaign cannot run with is refused by `amala validate` (load_config, then the
    machine checks of preflight) in one line naming its key; the same config without it passes both."""
    import torch

    from amala.loop.preflight import check

    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a GPU machine
    path = tmp_path / "c.yaml"

    def problems(data: dict) -> list[str]:
        path.write_text(yaml.safe_dump({**data, "workdir": str(tmp_path / "work")}))
        try:
            return check(load_config(path))
        except ConfigError as exc:
            return [str(exc)]

    good = [MLIP_BASE, _override(MLIP_BASE, {(k,): v for k, v in QUEUE_GLASS.items()}),
            _override(MLIP_BASE, {("oracle", "on_the_fly", "explore_temperatures_K"): [300, 1500],
                                  ("oracle", "potential_folder"): str(tmp_path / "shared" / "potential"),
                                  ("oracle", "interface"): {"coating": "Li2O:0.75;B2O3:0.25"},
                                  ("objective", "property"): "interface_energy", ("objective", "transform"): "log10",
                                  ("objective", "direction"): "minimize"})]
    for data in good:
        assert problems(data) == [], data
    for what, override, key in MLIP_REFUSED:
        found = problems(_override(MLIP_BASE, override))
        assert len(found) == 1 and "\n" not in found[0] and key in found[0], (what, found)
    assert not (tmp_path / "work").exists()
    listed = {"unknown profile": "quick, standard, test", "objective the oracle does not give": "log10_conductivity"}
    for what, override, _ in MLIP_REFUSED:
        if what in listed:  # the refusal says what would work
            assert listed[what] in problems(_override(MLIP_BASE, override))[0], what
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine check, not a shape check
    assert problems(_override(MLIP_BASE, {("oracle", "device"): "cuda"})) == []


def test_shipped_mlip_configs_validate(tmp_path, monkeypatch):
    from pathlib import Path

    from amala.loop.preflight import check

    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    configs = Path(__file__).resolve().parents[2] / "configs"
    monkeypatch.chdir(tmp_path)  # runs/<name> is judged here, and nothing is created
    for name in ("sulfide_demo.yaml", "sulfide_glass.yaml"):
        assert check(load_config(configs / name)) == [], name
    assert not (tmp_path / "runs").exists()


# --- candidates ---------------------------------------------------------------------------------

GOOD_UNITS = ["[Cu]CCO[Au]", "[Cu]CC(C#N)[Au]", "[Cu]OCCOC(=O)[Au]", "[Cu]c1ccc([nH]1)[Au]", "[Cu]CC(F)(F)[Au]",
              "[Cu]C[Si](C)(C)O[Au]", "[Cu]CCS(=O)(=O)N[Au]", "[Cu]c1ccc(s1)[Au]", "[Cu]CC([N+](=O)[O-])[Au]"]
BAD_EDITS = [  # (name, function of a good unit -> a unit that must be refused)
    ("radical", lambda s: s.replace("[Au]", "[CH][Au]")),
    ("carbene", lambda s: s.replace("[Au]", "[C][Au]")),
    ("two fragments", lambda s: s.replace("[Au]", "") + ".C[Au]"),
    ("salt", lambda s: s + ".[Li+]"),
    ("charged marker", lambda s: s.replace("[Cu]", "[Cu+2]")),
    ("absurd charge", lambda s: s.replace("[Au]", "[C+15][Au]")),
    ("anion", lambda s: s.replace("[Au]", "C[O-].[Na+].[Au]C")),
    ("noble gas", lambda s: s.replace("[Au]", "[Xe][Au]")),
    ("uranium", lambda s: s.replace("[Au]", "[U][Au]")),
    ("metal", lambda s: s.replace("[Au]", "[Fe][Au]")),
    ("space", lambda s: s + " CCCC"),
    ("inner space", lambda s: s[:3] + " " + s[3:]),
    ("zero width", lambda s: s[:5] + "\u200b" + s[5:]),
    ("NUL", lambda s: s + "\x00[Xe]"),
    ("non-ASCII", lambda s: s.replace("C", "С", 1)),  # Cyrillic Es
    ("tab", lambda s: s + "\tC"),
    ("no Au", lambda s: s.replace("[Au]", "")),
    ("two Cu", lambda s: s.replace("[Au]", "[Cu]")),
    ("nothing between", lambda s: "[Cu][Au]"),
    ("atom map", lambda s: s.replace("[Cu]", "[Cu]C[CH2:1]", 1)),
    ("H on marker", lambda s: s.replace("[Cu]", "[CuH]")),
]
ALLOWED = {"H", "B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Br", "I"}


def _check_polymer(text: str, canonical: str) -> None:
    """Independent check of an accepted repeat unit."""
    assert re.fullmatch(r"[\x21-\x7e]+", text.strip(" \t\r\n")), text
    mol = Chem.MolFromSmiles(canonical)
    assert mol is not None and len(Chem.GetMolFrags(mol)) == 1
    symbols = [a.GetSymbol() for a in mol.GetAtoms()]
    assert symbols.count("Cu") == 1 and symbols.count("Au") == 1 and set(symbols) - {"Cu", "Au"} <= ALLOWED
    for atom in mol.GetAtoms():
        assert atom.GetNumRadicalElectrons() == 0
        assert abs(atom.GetFormalCharge()) <= 1 and (atom.GetSymbol() not in ("Cu", "Au") or not atom.GetFormalCharge())
        if atom.GetSymbol() in ("Cu", "Au"):
            assert atom.GetDegree() == 1 and atom.GetNeighbors()[0].GetSymbol() not in ("Cu", "Au")
    assert Chem.GetFormalCharge(mol) == 0
    original = Chem.MolFromSmiles(text.strip())
    assert Chem.MolToInchi(original) == Chem.MolToInchi(mol)  # what is stored is what was written


def _candidate_cases(rng: random.Random):
    alphabet = "CNOSFcnos()[]=#123@+-.\\/HBrlSiPAuCu \x00\u200b:"
    for unit in GOOD_UNITS:
        yield unit, False
        for _name, edit in BAD_EDITS:
            yield edit(unit), True
    for _ in range(150):
        unit = list(rng.choice(GOOD_UNITS))
        for _ in range(rng.randint(1, 3)):
            unit.insert(rng.randrange(len(unit) + 1), rng.choice(alphabet))
        yield "".join(unit), None


def test_candidate_strings():
    rng = random.Random(RNG_SEED)
    n = 0
    for text, must_fail in _candidate_cases(rng):
        n += 1
        try:
            candidate = candidate_from_text(text, "smiles", "fuzz")
        except ValueError as exc:
            message = str(exc)
            assert "\n" not in message and repr(text.strip(" \t\r\n"))[:30] in message, (text, message)
            assert must_fail is not False, f"refused a good unit {text!r}: {message}"
            continue
        assert must_fail is not True, f"accepted {text!r}"
        _check_polymer(text, candidate.representation)
    assert n >= 300


BOUNDS = {"Li2O": (0.1, 0.6), "SiO2": (0.3, 0.9), "P2O5": (0.0, 0.3)}
BAD_COMPOSITIONS = ["Li2O:0.3;SiO2:0.6", "Li2O:1_0;SiO2:0.5", "nan", "Li2O:nan;SiO2:1", "Li2O:inf;SiO2:0.5",
                    "Li2O:-0.2;SiO2:1.2", "Li2O:0.4;Li2O:0.6", "Li2O:０.４;SiO2:0.6", "Li2O:0.4;SiO2:0.6\x00",
                    "Li2O 0.4;SiO2 0.6", "Li2O:0.4,SiO2:0.6", "Li2O:0x1;SiO2:1", "Li2O:0.4;SiO2:0.6;Na2O:0",
                    "Li2O:0.4;SiO2:0.6:1", ":0.4;SiO2:0.6", "Li2O:1e999;SiO2:1", "Li2O:True;SiO2:0.6", ";;"]


def test_composition_strings():
    rng = random.Random(RNG_SEED)
    cases = [(text, True) for text in BAD_COMPOSITIONS]
    cases += [("Li2O:1;SiO2:2", False), ("Li2O:0.3;SiO2:0.7", False), ("Li2O:0.25;P2O5:0.05;SiO2:0.7", False)]
    for _ in range(150):
        a, b = rng.choice([0.2, 0.3, 0.33, "1_0", "nan", 2, 0.5, ".4", "4e-1", -0.1, "0.6 "]), rng.random()
        cases.append((f"Li2O:{a};SiO2:{b:.{rng.randint(1, 7)}f}", None))
    for text, must_fail in cases:
        try:
            candidate = candidate_from_text(text, "composition", "fuzz", BOUNDS)
        except ValueError as exc:
            assert "\n" not in str(exc) and repr(text)[:20] in str(exc), (text, str(exc))
            assert must_fail is not False, f"refused {text!r}: {exc}"
            continue
        assert must_fail is not True, f"accepted {text!r}"
        numbers = re.findall(r":([^;]*)", text)
        assert all(re.fullmatch(r" *(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)? *", x) for x in numbers), text
        values = [float(x) for x in numbers]
        assert all(re.fullmatch(r" *[0-9]+ *", x) for x in numbers) or abs(sum(values) - 1) <= 2e-6, text
        fractions = dict((k, float(v)) for k, v in (p.split(":") for p in candidate.representation.split(";")))
        assert abs(sum(fractions.values()) - 1) < 1e-5
        assert all(BOUNDS[k][0] - 1e-6 <= v <= BOUNDS[k][1] + 1e-6 for k, v in fractions.items())


# --- inbox rows ---------------------------------------------------------------------------------

VALUES = [True, False, None, "", "1_0", "nan", "NaN", "inf", "-inf", "1e400", 10**400, -1, 0, "0", "abc", [1],
          {"v": 1}, "０.５", " 2e-4 ", "2e-4", 3e-4, 5, "0x10", "1,5", "+1e-3", "١"]


def _valid_value(value) -> bool:
    """The independent rule: a positive finite number, a JSON number or a plain ASCII decimal string."""
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        if not re.fullmatch(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?", value.strip()):
            return False
        value = float(value)
    elif not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value)) and float(value) > 0
    except OverflowError:
        return False


def test_inbox_rows(tmp_path):
    rng = random.Random(RNG_SEED)
    oracle = QueueOracle(tmp_path, {"conductivity": "S/cm"})
    candidates = [Candidate(f"[Cu]{'C' * (i % 40 + 1)}O{i}[Au]", agent="fuzz") for i in range(300)]
    oracle.request(candidates)
    keys = [c.key for c in candidates]
    expected_ok, rows_json, rows_csv = set(), [], []
    for i, key in enumerate(keys):
        value, unit = rng.choice(VALUES), rng.choice(["S/cm", "S/cm", "mS/cm", "", None, True])
        ident = key if rng.random() > 0.1 else rng.choice(["", "\ufeff" + key, key.upper(), 7, None])
        as_json = i % 2 == 0 or not isinstance(value, (str, int, float)) or isinstance(value, bool)
        if not as_json and value is not None:
            value = str(value)
        good = ident == key and unit == "S/cm" and _valid_value(value)
        if good:
            expected_ok.add(key)
        row = {"id": ident, "conductivity": value, "conductivity_unit": unit}
        (rows_json if as_json else rows_csv).append(row)
    (tmp_path / "queue" / "inbox" / "fuzz.json").write_text(json.dumps(rows_json + [1, "x", None]))
    with (tmp_path / "queue" / "inbox" / "fuzz.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["id", "conductivity", "conductivity_unit"])
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows_csv)
    results = oracle.collect()
    accepted = {e.candidate_key for e in results}
    assert accepted == expected_ok
    assert all(e.ok and math.isfinite(e.values["conductivity"].value) and e.values["conductivity"].value > 0
               for e in results)
    with (tmp_path / "queue" / "rejected.csv").open(newline="") as f:
        rejected = list(csv.DictReader(f))
    blank = sum(r["conductivity"] in (None, "") and r.get("status") is None for r in rows_json + rows_csv)
    assert len(rejected) + len(accepted) >= len(rows_json) + len(rows_csv) + 3 - blank  # nothing silently dropped
    assert all(r["reason"] and "\n" not in r["reason"] for r in rejected)
    assert len([m for _, m in oracle.drain_notes() if "rejected" in m]) == 2  # one summary per file


# --- formulation numbers and screen names (review findings F7, F9) --------------------------------

SALT = "[Li+].O=S(=O)([N-]S(=O)(=O)C(F)(F)F)C(F)(F)F"


def test_formulation_molalities():
    """Seeded molality texts: an accepted one is a plain ASCII number within the gate, and its own
    canonical form is accepted again with the same value (never turned into one the gate refuses);
    a refused one gets one line naming the molality."""
    from amala.core.formulation import MAX_MOLALITY, MIN_MOLALITY, Formulation, InvalidFormulation

    rng = random.Random(RNG_SEED)
    fixed = ["19.99999", "1_0", "١٥", "１", "1e-300", "0", "-1", "nan", "inf", "1e309", "0x10", " 1.5", "1.5e0",
             "19.9994", "2e-7", "1e-6", "½", "1,5", "+.5", "5.", "٫5"]
    alphabet = "0123456789._e-+٣４"
    texts = fixed + [rng.choice(["", "-", "+"]) + "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7)))
                     for _ in range(300)]
    for text in texts:
        try:
            formulation = Formulation.parse(f"[Cu]CCO[Au]|{SALT}|{text}")
        except InvalidFormulation as exc:
            assert "\n" not in str(exc) and "molality" in str(exc), (text, str(exc))
            continue
        assert text.strip().isascii() and math.isfinite(float(text)), text
        assert MIN_MOLALITY <= formulation.molality < MAX_MOLALITY, text
        again = Formulation.parse(str(formulation))
        assert again.molality == formulation.molality and str(again) == str(formulation), text
    for text in ("19.99999", "1_0", "١٥", "１", "1e-300"):
        with pytest.raises(InvalidFormulation):
            Formulation.parse(f"[Cu]CCO[Au]|{SALT}|{text}")


def test_radical_salts_are_refused():
    from amala.core.formulation import InvalidFormulation, canonical_salt

    for salt in ("[Li+].[O-][O]", "[Li+].[O][O-]", "[Li+].[CH2-][CH2]"):
        with pytest.raises(InvalidFormulation, match="radical"):
            canonical_salt(salt)


def test_screen_names_stay_in_their_folder(tmp_path):
    from amala.loop.screening import load_screen_config

    base = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "chemarr_screen.yaml").read_text())
    for name in BAD_NAMES:
        path = tmp_path / "screen.yaml"
        path.write_text(yaml.safe_dump({**base, "name": name}))
        with pytest.raises(ConfigError) as refused:
            load_screen_config(path)
        assert "\n" not in str(refused.value) and "name" in str(refused.value), name


def test_preflight_knows_what_a_formulation_lookup_gives(tmp_path, monkeypatch):
    """The formulation lookup gives properties of its own (log10_conductivity, measurement_temperature)
    that are no column of the table: preflight asks the oracle, not the table."""
    from amala.loop.config import parse_config
    from amala.loop.preflight import check

    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    table = Path(__file__).resolve().parents[1] / "data" / "formulations_small.csv"
    base = {"name": "formulations", "representation": "formulation", "workdir": str(tmp_path / "w"),
            "data": {"dataset": "chemarr", "path": str(table)}, "agents": [{"kind": "pool"}],
            "oracle": {"kind": "formulation_lookup", "properties": ["log10_conductivity", "measurement_temperature"]},
            "objective": {"property": "log10_conductivity", "transform": "none"},
            "budget": {"initial": 2, "max_evaluations": 4}}
    assert check(parse_config(base)) == []
    wrong = {**base, "objective": {"property": "log10_sigma_S_cm", "transform": "none"}}
    [problem] = check(parse_config({**wrong, "oracle": {"kind": "formulation_lookup"}}))
    assert problem.startswith("objective.property: 'log10_sigma_S_cm' is not given by oracle kind formulation_lookup")
    hot = tmp_path / "hot.csv"  # every formulation measured at 80 degC or more: none within 10 K of 25 degC
    hot.write_text("\n".join(line if i == 0 else f"{line.rsplit(',', 1)[0]},{float(line.rsplit(',', 1)[1]) + 80:g}"
                             for i, line in enumerate(table.read_text().splitlines())) + "\n")
    [problem] = check(parse_config({**base, "data": {**base["data"], "path": str(hot), "temperature_gap_K": 10}}))
    assert problem.startswith("data.temperature_gap_K=10.0: no formulation of"), problem


def test_every_agents_bounds_name_real_components():
    """The shared `Bounds` type checks the components, so no agent kind (the LLM agent too) can hand a
    glass of 'Unobtanium' to a simulation or a lab."""
    from amala.loop.config import parse_config

    for agent in ({"kind": "composition"}, {"kind": "llm", "url": "https://llm.example/v1", "model": "m"}):
        data = {"name": "glass", "representation": "composition", "data": None, "oracle": {"kind": "queue"},
                "execution": {"task_runner": "threads", "workers": 1},
                "agents": [{**agent, "bounds": {"Li2O": [0.2, 0.6], "Unobtanium": [0.4, 0.8]}}]}
        with pytest.raises(ConfigError, match=r"agents\.0\.bounds.*'Unobtanium': not a chemical formula"):
            parse_config(data)
