"""The glass-composition prior (agents/glass_prior.py): k-NN precision and recall on cases with a known
answer, a VAE trained for a few seconds on synthetic binary glasses, and the agent over a small table in
SciGlass's columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from amala.agents.generation_metrics import composition_metrics, knn_precision_recall
from amala.agents.glass_prior import GlassPrior, GlassPriorAgent, PriorSettings
from amala.agents.protocol import ProposalContext
from amala.core.composition import canonical_composition, parse_composition


def test_knn_precision_and_recall_on_known_cases():
    grid = np.array([[x, y] for x in np.linspace(0, 1, 11) for y in np.linspace(0, 1, 11)])
    assert knn_precision_recall(grid, grid, k=3) == (1.0, 1.0)
    assert knn_precision_recall(grid, grid + 10.0, k=3) == (0.0, 0.0)
    left = grid[grid[:, 0] <= 0.45]  # samples that cover only the left half: all realistic, half the support
    precision, recall = knn_precision_recall(grid, left, k=3)
    assert precision == 1.0 and 0.4 < recall < 0.65


def binaries(rng: np.random.Generator, n: int) -> list[str]:
    """Li2O-SiO2 glasses at 15-45% Li2O and Li2O-B2O3 at 20-50%: two families, never ternary."""
    out = []
    for k in range(n):
        former = "SiO2" if k % 2 else "B2O3"
        x = rng.uniform(0.15, 0.45) if former == "SiO2" else rng.uniform(0.2, 0.5)
        out.append(canonical_composition({"Li2O": round(x, 3), former: round(1 - x, 3)}))
    return out


SETTINGS = PriorSettings(compounds=("B2O3", "Li2O", "P2O5", "SiO2"), epochs=60, hidden=32, latent=4)


@pytest.fixture(scope="module")
def prior():
    return GlassPrior.train(binaries(np.random.default_rng(0), 300), SETTINGS, seed=0)


def test_the_prior_samples_valid_sparse_glasses_deterministically_by_seed(prior):
    samples = prior.sample(200, seed=1)
    assert samples == prior.sample(200, seed=1) and samples != prior.sample(200, seed=2)
    compounds = [set(parse_composition(s)) for s in samples]
    assert all(c <= set(SETTINGS.compounds) for c in compounds)
    assert np.mean([c in ({"Li2O", "SiO2"}, {"Li2O", "B2O3"}) for c in compounds]) > 0.8  # it learned the families
    real = binaries(np.random.default_rng(5), 200)
    metrics = composition_metrics(samples, binaries(np.random.default_rng(0), 300), real, SETTINGS.compounds, k=5)
    assert metrics["validity"] == 1.0 and metrics["precision"] > 0.7 and metrics["recall"] > 0.5
    dense = canonical_composition({"Li2O": 0.25, "SiO2": 0.25, "B2O3": 0.25, "P2O5": 0.25})
    seen, unseen, outside = prior.log_likelihood([real[0], dense, "Li2O:0.5;Na2O:0.5"])
    assert seen > unseen and outside == -np.inf  # the glass-forming likelihood ranks a known family first


def test_a_prior_is_saved_and_loaded_with_its_version(prior, tmp_path):
    prior.save(tmp_path / "p")
    again = GlassPrior.load(tmp_path / "p")
    assert again.version == prior.version and again.sample(20, seed=3) == prior.sample(20, seed=3)
    with pytest.raises(ValueError, match="compound 'Xx2O'|Xx2O"):
        PriorSettings(compounds=("Li2O", "Xx2O"))


def test_fine_tuning_on_a_campaigns_best_moves_the_samples_there_and_keeps_the_prior(prior):
    """As the GPT agent is fine-tuned on its campaign's best: a copy trained on a few Li-rich silicates
    samples more silicates, richer in Li; the prior itself is unchanged, and the copy is deterministic."""
    best = [canonical_composition({"Li2O": x, "SiO2": 1 - x}) for x in (0.40, 0.42, 0.44, 0.45)]
    before = prior.version
    tuned = prior.fine_tuned(best, steps=150, seed=3)
    assert prior.version == before and tuned.version != before
    assert tuned.version == prior.fine_tuned(best, steps=150, seed=3).version
    assert tuned.record["fine_tuned_on"] == 4 and tuned.record["base_version"] == before

    def silicate_li(samples):
        rows = [parse_composition(s) for s in samples]
        silicates = [r for r in rows if set(r) == {"Li2O", "SiO2"}]
        return len(silicates) / len(rows), np.mean([r["Li2O"] for r in silicates])

    share, li = silicate_li(prior.sample(400, seed=4))
    share_tuned, li_tuned = silicate_li(tuned.sample(400, seed=4))
    assert share_tuned > share + 0.1 and li_tuned > li + 0.03, (share, share_tuned, li, li_tuned)
    untouched = prior.fine_tuned(["Li2O:0.5;Na2O:0.5"], steps=150)  # nothing of its compounds: no training
    assert untouched.version == before and untouched.record["fine_tune_steps"] == 0


@pytest.fixture
def table(tmp_path) -> str:
    texts = [";".join(f"{k}:{v * 100:g}" for k, v in parse_composition(c).items())
             for c in binaries(np.random.default_rng(0), 120)]
    frame = pd.DataFrame({"composition_mol_percent": texts + ["Li2O:30;Na2O:70"],
                          "sciglass_kod": list(range(len(texts) + 1)), "author": "A", "year": 2000, "tg_C": 450.0,
                          "log10_sigma_S_cm_293K": -9.0, "log10_sigma_S_cm_373K": -6.0,
                          "log10_sigma_S_cm_423K": np.nan, "log10_sigma_S_cm_573K": np.nan, "ea_eV_fit": 0.7})
    path = tmp_path / "sciglass.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_the_agent_proposes_new_glasses_within_its_bounds_with_their_provenance(table, tmp_path):
    bounds = {"Li2O": (0.1, 0.5), "SiO2": (0.0, 0.9), "B2O3": (0.0, 0.9)}
    agent = GlassPriorAgent(bounds, n=10, data=table, folder=tmp_path / "priors")
    context = ProposalContext(iteration=1, seed=0)
    proposal = agent.propose(context)
    assert len(proposal.candidates) == 10 and proposal.model_version["kind"] == "glass_prior"
    assert proposal.model_version["training_compositions"] == 120  # the Na2O glass is outside the compounds
    for candidate in proposal.candidates:
        fractions = parse_composition(candidate.representation)
        assert set(fractions) <= set(bounds) and 0.1 - 1e-9 <= fractions["Li2O"] <= 0.5 + 1e-9
        assert candidate.metadata["prior_version"] == proposal.model_version["version"]
        assert np.isfinite(candidate.metadata["glass_elbo_nats"]) and candidate.metadata["sample_seed"] >= 0
    # another agent (a resumed campaign) loads the trained prior and proposes the same; known ones are skipped
    other = GlassPriorAgent(bounds, n=10, data=table, folder=tmp_path / "priors")
    again = other.propose(context)
    assert again.model_version is None and [c.key for c in again.candidates] == [c.key for c in proposal.candidates]
    known = ProposalContext(iteration=1, seed=0, known_keys={c.key for c in proposal.candidates})
    assert not {c.key for c in other.propose(known).candidates} & known.known_keys
    # with results, it samples from a copy fine-tuned on the best of them, and says so
    evaluated = [(c, float(parse_composition(c.representation)["Li2O"])) for c in proposal.candidates]
    later = ProposalContext(iteration=2, seed=0, evaluated=evaluated, known_keys={c.key for c, _ in evaluated})
    tuned = other.propose(later)
    assert tuned.model_version["fine_tuned_on"] == 10 and tuned.model_version["kind"] == "glass_prior"
    assert all(c.metadata["fine_tuned_on"] == 10 and c.metadata["sampler_version"] == tuned.model_version["version"]
               and c.metadata["prior_version"] == proposal.model_version["version"] for c in tuned.candidates)


def test_a_composition_campaign_takes_the_glass_prior_agent():
    from amala.loop.config import ConfigError, parse_config

    config = {"name": "prior", "representation": "composition", "data": None,
              "objective": {"property": "log10_conductivity_300K", "transform": "none"},
              "agents": [{"kind": "glass_prior", "bounds": {"Li2O": [0.1, 0.5], "SiO2": [0.5, 0.9]}}],
              "oracle": {"kind": "md"}}
    assert parse_config(config).agents[0].kind == "glass_prior"
    config["agents"][0]["bounds"] = {"Li2O": [0.1, 0.5], "Sx2O": [0.5, 0.9]}
    with pytest.raises(ConfigError, match="Sx2O"):
        parse_config(config)


def test_the_composition_sampler_keeps_only_glass_like_compositions(table, tmp_path):
    """Trained on binary glasses only, the prior turns the box sampler away from ternaries it never saw."""
    from amala.agents.composition_sampler import CompositionSampler, GlassLikeness

    bounds = {"Li2O": (0.1, 0.5), "SiO2": (0.0, 0.9), "B2O3": (0.0, 0.9)}
    context = ProposalContext(iteration=0, seed=0)
    plain = CompositionSampler(bounds, n=40, step=0.02).propose(context).candidates
    liked = CompositionSampler(bounds, n=40, step=0.02, glass_like=GlassLikeness(quantile=0.05, data=table),
                               workdir=tmp_path).propose(context).candidates

    def ternary(candidates):
        return np.mean([len(parse_composition(c.representation)) == 3 for c in candidates])

    assert ternary(plain) > 0.9 and ternary(liked) < ternary(plain) - 0.3
    assert all(np.isfinite(c.metadata["glass_elbo_nats"]) for c in liked) and len(liked) > 0


def test_the_gan_it_is_measured_against_trains_deterministically_and_samples_valid_glasses():
    """Shang et al.'s kind of generator (agents/glass_gan.py), a few seconds of training: the mechanics
    (determinism by seed, compositions of the prior's compounds, the shared rounding), not its quality,
    which benchmarks/glass_prior.py --gan measures."""
    from amala.agents.glass_gan import GANSettings, GlassGAN

    data = binaries(np.random.default_rng(0), 100)
    settings = GANSettings(steps=40, critic_steps=2, batch_size=32, hidden=16)
    a = GlassGAN.train(data, SETTINGS, settings, seed=0)
    b = GlassGAN.train(data, SETTINGS, settings, seed=0)
    samples = a.sample(50, seed=1)
    assert samples == b.sample(50, seed=1) and samples != a.sample(50, seed=2)
    for text in samples:
        fractions = parse_composition(text)
        assert set(fractions) <= set(SETTINGS.compounds) and abs(sum(fractions.values()) - 1) < 1e-5  # 6 decimals
        assert min(fractions.values()) >= SETTINGS.min_fraction - SETTINGS.step
    assert a.record["model"] == "wgan-gp" and a.record["training_compositions"] == 100
    with pytest.raises(ValueError, match="training compositions"):
        GlassGAN.train(["Li2O:0.5;Na2O:0.5"] * 20, SETTINGS, settings)


def test_the_agent_can_sample_shangs_kind_of_generator(table, tmp_path):
    """`model: gan`: the WGAN-GP trained once and kept, its version in each candidate's provenance, no
    likelihood (a GAN has none) and no fine-tuning."""
    bounds = {"Li2O": (0.0, 1.0), "SiO2": (0.0, 1.0), "B2O3": (0.0, 1.0)}
    agent = GlassPriorAgent(bounds, n=5, data=table, folder=tmp_path / "priors", model="gan", gan_steps=20)
    proposal = agent.propose(ProposalContext(iteration=1, seed=0))
    assert proposal.model_version["model"] == "gan" and proposal.model_version["training_compositions"] == 120
    assert proposal.candidates and all(c.metadata["prior_model"] == "gan" and "glass_elbo_nats" not in c.metadata
                                       for c in proposal.candidates)
    again = GlassPriorAgent(bounds, n=5, data=table, folder=tmp_path / "priors", model="gan", gan_steps=20)
    assert [c.key for c in again.propose(ProposalContext(iteration=1, seed=0)).candidates] == \
        [c.key for c in proposal.candidates]  # loaded, not retrained: the same samples
    evaluated = [(c, 1.0) for c in proposal.candidates]
    later = again.propose(ProposalContext(iteration=2, seed=0, evaluated=evaluated))
    assert later.model_version is None  # nothing fine-tuned
