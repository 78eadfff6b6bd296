"""A composition campaign with the real LAMMPS oracle through the real Prefect flow (tiny cells)."""

from dataclasses import replace

import pytest
import yaml

from amala.flows.campaign_flow import campaign_flow
from amala.loop.campaign import Campaign
from amala.loop.config import load_config
from amala.oracles.md import lammps_glass as glass_md

pytestmark = pytest.mark.slow

CONFIG = {
    "name": "glass",
    "seed": 2,
    "representation": "composition",
    "data": None,
    "objective": {"property": "log10_conductivity_300K", "direction": "maximize", "transform": "none"},
    "agents": [{"kind": "composition", "n": 32, "bounds": {"Li2O": [0.25, 0.45], "SiO2": [0.55, 0.75]}}],
    "oracle": {"kind": "md", "profile": "test"},
    "acquisition": {"strategy": "qlognei", "batch_size": 2, "mc_samples": 32},
    "budget": {"initial": 3, "max_evaluations": 5},
}


@pytest.mark.md
@pytest.mark.flow
def test_two_iterations_with_the_md_oracle(tmp_path, monkeypatch, prefect_server):
    quick = glass_md.PROFILES["quick"]
    monkeypatch.setitem(glass_md.PROFILES, "test", replace(quick, name="test", n_atoms=100, melt_ps=2.0,
                                                           equilibrate_ps=1.0, production_ps=10.0,
                                                           caveat="test profile: tiny cells"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AMALA_DB_URL", raising=False)
    path = tmp_path / "glass.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    result = campaign_flow(str(path))
    assert result["final"] and result["evaluations"] == 5
    campaign = Campaign(load_config(path))
    rows = campaign.store.evaluations(campaign.id)
    assert all(c.kind == "composition" and c.agent == "composition" for c, _ in rows)
    done = [e for _, e in rows if e.status == "ok"]
    failed = [e for _, e in rows if e.status != "ok"]
    assert all(e.reason for e in failed)  # a run that failed says why, and the campaign went on
    for e in done:
        assert e.values["ea"]["unit"] == "eV" and e.values["ea"]["std"] > 0
        assert e.provenance["profile"] == "test" and (tmp_path / e.artefacts["log"]).is_file()
    # tiny Li2O-SiO2 cells melt, quench and diffuse reliably: at least two glasses of the initial design
    # have a result, so the model (not the random design) picks the second batch
    iterations = campaign.store.iterations(campaign.id)
    ok_after_first = sum(e.status == "ok" and e.iteration_id == iterations[0].id for _, e in rows)
    assert ok_after_first >= 2, [e.reason for e in failed]
    assert iterations[1].strategy == "qlognei"
    predicted = [s.predicted_mean is not None for _, s, _ in campaign.store.selections(campaign.id)]
    assert predicted == [False] * 3 + [True] * 2

    # the report shows the MD evidence behind the ranking, and the profile's caveat before any number
    from typer.testing import CliRunner

    from amala.flows.cli import app

    out = CliRunner().invoke(app, ["report", "glass"])
    assert out.exit_code == 0, out.output
    page = (tmp_path / "runs" / "glass" / "report" / "report.html").read_text()
    assert "Read first" in page and "test" in page
    assert (tmp_path / "runs" / "glass" / "report" / "arrhenius.png").is_file()  # there are results to draw
    assert (tmp_path / "runs" / "glass" / "report" / "rdf_best.png").is_file()
    assert "<h2>Glass structures</h2>" in page and "melt-quench" in page and "Si-O 4." in page  # measured


def test_composition_gp_learns_a_smooth_trend_and_drives_acquisition():
    import torch

    from amala.agents import ProposalContext
    from amala.agents.composition_sampler import CompositionSampler
    from amala.loop.acquisition import select
    from amala.models.composition_gp import CompositionFeaturizer, CompositionGP

    bounds = {"Li2O": (0.1, 0.5), "SiO2": (0.4, 0.9), "P2O5": (0.0, 0.1)}
    candidates = CompositionSampler(bounds, n=60).propose(ProposalContext(iteration=0, seed=0)).candidates
    featurizer = CompositionFeaturizer(sorted(bounds))
    X = featurizer([c.representation for c in candidates])
    li = X[:, sorted(bounds).index("Li2O")]
    y = -8 + 6 * li  # more Li2O conducts better
    gp = CompositionGP(featurizer).fit(X[:30], y[:30])
    mean, std = gp.predict(X[30:])
    assert (mean - y[30:]).abs().mean() < 0.1 * y.std()
    picks = select("qlognei", gp, X[30:], X[:30], q=3, seed=0, mean=mean, std=std)
    assert li[30:][[p.index for p in picks]].min() > torch.quantile(li[30:], 0.6)
