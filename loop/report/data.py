"""What the campaign report shows, as plain data read from the store (no figures, no HTML).

`report_data` is the one place that decides what the report says: the best-so-far series and the
random-search pool, measured against predicted values, the top candidates with every measured
property and its unit, failures with reasons, approvals, recent events, and what produced the run
(amala version, seed, dataset source, the stored config with secrets masked), how the campaign's
machine-learned potential grew (`potential_growth`, for MLIP campaigns), so a page forwarded
on its own can still be traced back to its run. The figures (`report_figures`) and the template
(`templates/report.html.j2`) only draw and lay out what is here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

from amala.core import datasets
from amala.core.redaction import redact_data
from amala.loop.report.format import candidate_label
from amala.loop.report.pareto_front import ParetoFront, pareto_front
from amala.loop.report.potential_growth import PotentialGrowth, potential_growth
from amala.loop.states import Approval
from amala.oracles.md import temperature_series

N_EVENTS, N_FAILURES, N_WINNERS, N_MD_SERIES = 30, 200, 10, 10


@dataclass
class TopRow:
    """One of the best candidates: its measurements (name -> {value, unit, std}) and how it was chosen."""

    rank: int
    key: str
    representation: str
    kind: str
    agent: str
    objective: float
    values: dict
    oracle: str
    fidelity: str
    iteration: int | None = None
    strategy: str | None = None
    approval: str | None = None  # None when chosen without asking anyone ('auto')
    predicted_mean: float | None = None
    predicted_std: float | None = None
    acquisition: float | None = None


@dataclass
class ReportData:
    name: str
    status: str
    written: datetime
    version: str
    seed: object
    config_yaml: str  # the stored config as YAML, secrets masked
    dataset: dict | None  # name, path, subset, url, license, citation; None: the oracle computed every value
    oracle: dict
    objective_label: str
    objective_unit: str
    direction: str
    n_evaluations: int
    n_failed: int
    values: np.ndarray  # objective of every evaluation in stored order (NaN where it failed)
    pool: np.ndarray | None  # objective of every dataset row: the random-search baseline
    pairs: np.ndarray  # rows of (predicted mean, predicted std, measured) at selection
    within_one_std: float | None  # share of measured values inside the prediction's ±1 std
    caveats: list[str]
    top: list[TopRow]
    properties: list[tuple[str, str]]  # (name, unit) of the summary properties in the top table
    winners: list[tuple[str, int]]  # agent -> how many of the top N_WINNERS it proposed
    lookup_values: bool  # some values are published results, without per-value uncertainty
    md_series: list[tuple[str, dict]]  # (label, values) of the best glasses with temperature series
    rdf: dict | None  # {"csv", "glass", "label"} of the best glass, when the oracle wrote its RDF
    decisions: list[dict]
    waiting_batch: int | None  # index of the batch waiting for approval
    failures: list[tuple[str, str, str]]  # (representation, kind, reason), at most N_FAILURES
    events: list[dict]  # the last N_EVENTS
    names: dict = field(default_factory=dict)  # candidate key -> (representation, kind)
    potential: PotentialGrowth | None = None  # teacher calls per candidate; None: no evaluation used a potential
    glass_structures: list[dict] = field(default_factory=list)  # the best glasses' measured structure
    pareto: ParetoFront | None = None  # campaigns of several objectives: their front and hypervolume

    @property
    def best_text(self) -> str:
        return "—" if not self.top else f"{self.top[0].objective:.3f} ({self.objective_label})"


def amala_version() -> str:
    try:
        return metadata.version("amala")
    except metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


def redacted(value, key: str = ""):
    """The config as shown, because a report gets forwarded: webhook paths cut (for Slack-style
    hooks the path is the credential), then every credential-looking string masked (`redaction`)."""
    if isinstance(value, dict):
        return redact_data({k: redacted(v, k) for k, v in value.items()})
    if isinstance(value, list):
        return [redacted(v, key) for v in value]
    if key == "webhook" and isinstance(value, str) and "://" in value:
        scheme, rest = value.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}/…"
    return value


def dataset_source(config: dict) -> dict | None:
    """The dataset behind the campaign (name, local copy, subset, URL, licence, citation), or None
    when every value came from the oracle itself."""
    data = config.get("data")
    if not data:
        return None
    name = str(data.get("dataset", "?"))
    spec = datasets.DATASETS.get(name)
    path = data.get("path") or (datasets.data_dir() / spec.filename if spec else None)
    return {"name": name, "path": str(path), "subset": int(data["subset"]) if data.get("subset") else None,
            "url": spec.url if spec else None, "license": spec.license if spec else None,
            "citation": spec.citation if spec else None}


def _unit_of(objective) -> str:
    label = objective.label
    return label.rsplit("[", 1)[-1].rstrip("]") if "[" in label else ""


def report_data(store, campaign, objective, pool_values=None, top_k: int = 20) -> ReportData:
    """Everything the report shows, from the store. `objective` gives label, direction and sign
    (`Objective`, or `amala.loop.status.StoredObjective` when read back from the store)."""
    config = campaign.config or {}
    evaluations = store.evaluations(campaign.id)
    selections = {c.key: (it, sel) for it, sel, c in store.selections(campaign.id)}
    values = np.array([e.objective if e.objective is not None else np.nan for _, e in evaluations], dtype=float)
    pairs = np.array([(selections[c.key][1].predicted_mean, selections[c.key][1].predicted_std, e.objective)
                      for c, e in evaluations if e.objective is not None and c.key in selections
                      and selections[c.key][1].predicted_mean is not None], dtype=float).reshape(-1, 3)
    inside = float(np.mean(np.abs(pairs[:, 2] - pairs[:, 0]) <= pairs[:, 1])) if len(pairs) else None
    ranked = sorted(((c, e) for c, e in evaluations if e.objective is not None),
                    key=lambda ce: objective.sign * ce[1].objective, reverse=True)[:top_k]
    top = [_top_row(rank, c, e, selections.get(c.key, (None, None))) for rank, (c, e) in enumerate(ranked, 1)]
    names = [p for row in top for p in row.values if not temperature_series.is_per_temperature(p, row.values[p])]
    units = {p: row.values[p]["unit"] for row in top for p in row.values}
    failures = [(c, e) for c, e in evaluations if e.status != "ok"]
    best = top[0] if top else None
    rdf = None
    if best is not None and "rdf" in (ranked[0][1].artefacts or {}):
        artefacts = ranked[0][1].artefacts
        rdf = {"csv": artefacts["rdf"], "glass": artefacts.get("glass", ""),
               "label": candidate_label(best.representation, best.kind)}
    waiting = store.awaiting_approval(campaign.id)
    pool = None if pool_values is None else np.asarray(pool_values, dtype=float)
    return ReportData(
        name=campaign.name, status=campaign.status, written=datetime.now(timezone.utc), version=amala_version(),
        seed=config.get("seed", "—"),
        config_yaml=yaml.safe_dump(redacted(config), sort_keys=False, allow_unicode=True),
        dataset=dataset_source(config), oracle=config.get("oracle") or {},
        objective_label=objective.label, objective_unit=_unit_of(objective), direction=objective.direction,
        n_evaluations=len(evaluations), n_failed=len(failures), values=values,
        pool=pool if pool is not None and len(pool) else None, pairs=pairs, within_one_std=inside,
        caveats=sorted({e.provenance["caveat"] for _, e in evaluations if (e.provenance or {}).get("caveat")}),
        top=top, properties=[(p, units[p]) for p in sorted(set(names))],
        winners=Counter(row.agent for row in top[:N_WINNERS]).most_common(),
        lookup_values=any(e.oracle == "lookup" for _, e in evaluations),
        md_series=[(candidate_label(c.representation, c.kind), e.values) for c, e in ranked[:N_MD_SERIES]],
        rdf=rdf, decisions=_decisions(store, campaign.id), waiting_batch=None if waiting is None else waiting.index,
        failures=[(c.representation, c.kind, e.reason or "") for c, e in failures[:N_FAILURES]],
        events=[{"time": ev.time, "level": ev.level, "kind": ev.kind, "message": ev.message}
                for ev in store.events(campaign.id)[-N_EVENTS:]],
        names={c.key: (c.representation, c.kind) for _, _, c in store.selections(campaign.id)},
        potential=potential_growth(evaluations), glass_structures=glass_structures(ranked[:N_MD_SERIES]),
        pareto=pareto_front(store, campaign, evaluations))


def glass_structures(ranked) -> list[dict]:
    """The structure of each glass whose oracle wrote its final cell (`glass` artefact): where it came from
    (melt-quench, or a generator and its version), density, coordination numbers and the mean size of its
    network rings, measured by `glass_metrics`, the module that judges generated glasses. A file gone
    from disk is skipped: the report still reads the database."""
    from ase.io import read

    from amala.oracles.md.glass_metrics import measure

    rows = []
    for candidate, evaluation in ranked:
        path = Path((evaluation.artefacts or {}).get("glass", ""))
        if not path.name or not path.is_file():
            continue
        try:
            metrics = measure(read(path))
        except Exception:  # noqa: BLE001 - a damaged file costs its row, not the report
            continue
        provenance = evaluation.provenance or {}
        source = (f"generator {provenance.get('generator')} ({provenance.get('generator_version')})"
                  if provenance.get("structure_source") == "generator" else "melt-quench")
        rings = metrics.rings
        mean_ring = (sum(float(k) * v for k, v in rings.items()) / sum(rings.values())) if rings else None
        rows.append({"label": candidate_label(candidate.representation, candidate.kind), "source": source,
                     "n_atoms": metrics.n_atoms, "density": metrics.density_g_cm3,
                     "coordination": ", ".join(f"{k} {v:.2f}" for k, v in sorted(metrics.coordination.items())),
                     "mean_ring": mean_ring, "file": str(path)})
    return rows


def _top_row(rank: int, c, e, selected) -> TopRow:
    it, sel = selected
    return TopRow(rank, c.key, c.representation, c.kind, c.agent, e.objective, dict(e.values), e.oracle, e.fidelity,
                  iteration=None if it is None else it.index, strategy=None if it is None else it.strategy,
                  approval=None if sel is None or sel.approval == Approval.AUTO else sel.approval,
                  predicted_mean=None if sel is None else sel.predicted_mean,
                  predicted_std=None if sel is None else sel.predicted_std,
                  acquisition=None if sel is None else sel.acquisition_value)


def _decisions(store, campaign_id: int) -> list[dict]:
    """Every answer to a batch waiting for approval: who, when, via what, and what changed."""
    return [{"time": d.time, "iteration": it.index, "by": d.by, "via": d.via, "action": d.action,
             "rejected": list(d.rejected), "added": list(d.added), "batch_size": d.batch_size,
             "refused": "; ".join(f"{t}: {r}" for t, r in d.refused.items()), "comment": d.comment}
            for d, it in store.decisions(campaign_id)]
