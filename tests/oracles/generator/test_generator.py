"""A trained generator: deterministic by seed, the requested composition and density, one-line failures,
files that round-trip, and a training that resumes without repeating a step."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from amala.flows.cli import app
from amala.oracles.generator.generator import GenerationFailed, SamplingSettings, StructureGenerator, find
from amala.oracles.generator.spec import GeneratorSpec
from amala.oracles.generator.training import train

QUICK = SamplingSettings(steps=10, final_steps=2, min_distance_A=0.1)  # an untrained denoiser may crowd atoms


def test_generation_is_deterministic_by_seed_with_the_requested_composition(tiny_generator):
    generator, _ = tiny_generator
    a = generator.sample("Li2O:0.3;SiO2:0.7", 50, seed=3, settings=QUICK)
    b = generator.sample("Li2O:0.3;SiO2:0.7", 50, seed=3, settings=QUICK)
    c = generator.sample("Li2O:0.3;SiO2:0.7", 50, seed=4, settings=QUICK)
    assert np.array_equal(a.get_positions(), b.get_positions())
    assert not np.allclose(a.get_positions(), c.get_positions())
    counts = Counter(a.get_chemical_symbols())
    assert counts["O"] == 2 * counts["Si"] + counts["Li"] / 2  # whole Li2O and SiO2 units
    assert counts["Si"] / (counts["Si"] + counts["Li"] / 2) == pytest.approx(0.7, abs=0.05)
    assert a.pbc.all() and np.allclose(a.cell.angles(), 90)
    assert (a.get_scaled_positions() >= 0).all() and (a.get_scaled_positions() < 1).all()
    density = a.get_masses().sum() * 1.66053906660 / a.get_volume()
    assert density == pytest.approx(generator.density(a.get_chemical_symbols()), rel=1e-6)
    assert density == pytest.approx(2.3, abs=0.15)  # the synthetic training cells' density
    assert a.info["generator"] == "tiny" and a.info["generator_version"] == generator.version
    assert a.info["quench_K_per_ps"] == 50.0


def test_failures_are_one_line_and_name_the_problem(tiny_generator):
    generator, _ = tiny_generator
    with pytest.raises(GenerationFailed, match="knows Li, O, Si; the composition .* has B"):
        generator.sample("Li2O:0.3;B2O3:0.7", 50, settings=QUICK)
    with pytest.raises(GenerationFailed, match="two atoms .* apart after denoising"):
        generator.sample("Li2O:0.3;SiO2:0.7", 50, settings=SamplingSettings(steps=2, final_steps=0,
                                                                             min_distance_A=3.0))
    with pytest.raises(GenerationFailed, match="no structure generator 'nope'"):
        find("nope")


def test_saved_generator_round_trips_and_refuses_altered_weights(tiny_generator, tmp_path):
    generator, folder = tiny_generator
    again = StructureGenerator.load(folder)
    assert again.card == generator.card and again.elements == ["Li", "O", "Si"]
    x = generator.sample("Li2O:0.4;SiO2:0.6", 40, seed=1, settings=QUICK)
    y = again.sample("Li2O:0.4;SiO2:0.6", 40, seed=1, settings=QUICK)
    assert np.allclose(x.get_positions(), y.get_positions())
    card = generator.card
    assert card["training_glasses"] == 4 and card["heldout_glasses"] == 1 and card["steps_done"] == 20
    assert set(card["heldout_loss_A2"]) == {"0.1", "0.3", "0.6"}
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "card.json").write_text((folder / "card.json").read_text())
    state = torch.load(folder / "denoiser.pt", weights_only=True)
    state["state"]["head.weight"] += 1
    torch.save(state, broken / "denoiser.pt")
    with pytest.raises(ValueError, match="is not the card's"):
        StructureGenerator.load(broken)


class Killed(Exception):
    pass


def test_a_killed_training_resumes_where_it_stopped_and_ends_where_one_run_ends(tmp_path, synthetic_glasses,
                                                                              tiny_spec):
    glasses = synthetic_glasses(["Li2O:0.33;SiO2:0.67"], [0, 1])
    heldout = synthetic_glasses(["Li2O:0.4;SiO2:0.6"], [7])
    spec = GeneratorSpec.model_validate(tiny_spec)
    torch.set_num_threads(1)  # bitwise repeatable
    straight = train(spec, glasses, heldout, tmp_path / "straight")

    def kill_at_10(step, steps, row):
        if step == 10:
            raise Killed  # right after the checkpoint of step 10, as a SIGKILL before step 11 would
    with pytest.raises(Killed):
        train(spec, glasses, heldout, tmp_path / "resumed", on_progress=kill_at_10)
    resumed = train(spec, glasses, heldout, tmp_path / "resumed")
    rows = (tmp_path / "resumed" / "training.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in rows[1:]] == [5, 10, 15, 20]  # no step repeated
    for a, b in zip(straight.denoiser.state_dict().values(), resumed.denoiser.state_dict().values()):
        assert torch.equal(a, b)  # the same model as one uninterrupted run
    assert resumed.card["steps_done"] == 20


def test_cli_card_and_sample(tiny_generator, tmp_path):
    _, folder = tiny_generator
    runner = CliRunner()
    shown = runner.invoke(app, ["generator", "card", str(folder)])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["name"] == "tiny"
    made = runner.invoke(app, ["generator", "sample", str(folder), "Li2O:0.3;SiO2:0.7", "2", "--atoms", "40",
                               "--steps", "5", "--min-distance", "0.1", "--out", str(tmp_path / "out")])
    assert made.exit_code == 0, made.output
    files = sorted(Path(tmp_path / "out").glob("*.extxyz"))
    assert [f.name for f in files] == ["tiny-seed0.extxyz", "tiny-seed1.extxyz"]
    crowded = runner.invoke(app, ["generator", "sample", str(folder), "Li2O:0.3;SiO2:0.7", "1", "--atoms", "40",
                                  "--steps", "2", "--min-distance", "3", "--out", str(tmp_path / "none")])
    assert crowded.exit_code == 2 and "apart after denoising" in crowded.output
    missing = runner.invoke(app, ["generator", "card", "no-such-generator"])
    assert missing.exit_code == 2 and "no structure generator" in missing.output


def test_shipped_generator_configs_validate():
    import yaml

    folder = Path(__file__).resolve().parents[3] / "configs" / "generators"
    configs = sorted(folder.glob("*.yaml"))
    assert configs
    for path in configs:
        spec = GeneratorSpec.model_validate(yaml.safe_load(path.read_text()))
        assert not set(spec.heldout.compositions) & set(spec.compositions)  # held out means never trained on


def test_a_campaigns_own_glasses_become_training_glasses(tmp_path, synthetic_glasses):
    from amala.oracles.generator.training_set import campaign_glasses
    from amala.oracles.md import lammps_glass

    glass = synthetic_glasses(["Li2O:0.33;SiO2:0.67"], [0])[0]
    glass.info = {"composition": "Li2O:0.333333;SiO2:0.666667", "profile": "quick", "lammps_version": "20250722"}
    folder = tmp_path / "campaign" / "md" / "quick" / "abc"
    folder.mkdir(parents=True)
    glass.write(folder / "glass.extxyz", format="extxyz")
    [found] = campaign_glasses([tmp_path / "campaign"])
    assert found.info["quench_K_per_ps"] == lammps_glass.PROFILES["quick"].quench_K_per_ps
    assert found.info["source_file"] == str(folder / "glass.extxyz")
    glass.info = {"profile": "quick"}
    glass.write(folder / "glass.extxyz", format="extxyz")
    with pytest.raises(ValueError, match="not an MD oracle's glass"):
        campaign_glasses([tmp_path / "campaign"])


def test_the_shipped_generator_loads_by_name_and_makes_a_glass(tmp_path, monkeypatch):
    """The generator that ships with amala (package data): found by name with nothing installed, its card
    says what it learned from, and it makes a sound lithium silicate glass (checked loosely: its quality is
    the benchmark's)."""
    from amala.oracles.generator.generator import SHIPPED_FOLDER, installed
    from amala.oracles.md.glass_metrics import measure

    monkeypatch.setenv("AMALA_DATA_DIR", str(tmp_path / "empty"))
    assert [p.name for p in installed()] == ["li-silicate-150"] and installed()[0].parent == SHIPPED_FOLDER
    generator = find("li-silicate-150")
    card = generator.card
    assert card["elements"] == ["Al", "Li", "O", "P", "Si"] and card["steps_done"] == card["training"]["steps"]
    assert card["heldout_loss_A2"]["0.3"] < 0.5 * card["heldout_zero_loss_A2"]["0.3"]  # it removes most noise
    assert card["default_quench_K_per_ps"] in card["quench_K_per_ps"] and card["made_with"]["commands"]
    glass = generator.sample("Li2O:0.3;SiO2:0.7", 100, seed=0, settings=SamplingSettings(steps=100))
    metrics = measure(glass, rings=False)
    assert 3.8 <= metrics.coordination["Si-O"] <= 4.2  # tetrahedra from random positions


def test_the_default_sampling_cools_the_glass_further_than_400_steps(tmp_path):
    """The annealed steps are the generator's cooling: at the default (1500) the shipped generator's glasses
    sit lower in the oracle's own potential after relaxation than at 400 steps. Measured in the benchmark on
    30Li2O·70SiO2 over 8 seeds: 0.016 eV/atom lower on average, not at every seed
    (docs/benchmarks/glass-generator.md); here the mean of seeds 0-2 (0.029 lower on this machine), with a
    third of that as the margin."""
    from amala.oracles.generator.generator import DEFAULT_STEPS
    from amala.oracles.md.lammps_glass import relax

    generator = find("li-silicate-150")
    energies = {}
    for steps in (400, DEFAULT_STEPS):
        energies[steps] = np.mean([relax(generator.sample("Li2O:0.3;SiO2:0.7", 150, seed=seed,
                                                          settings=SamplingSettings(steps=steps)),
                                         tmp_path / f"{steps}-{seed}")[1] for seed in range(3)])
    assert DEFAULT_STEPS == 1500 and energies[DEFAULT_STEPS] < energies[400] - 0.01, energies
