"""Replaying campaigns for benchmarks: run a campaign to its end in memory, and the retrospective
benchmark's strategies and metrics (how fast each strategy finds the top 1% of the pool by the
objective).

Every (strategy, seed) run goes through the same `Campaign` code as a real campaign, with an
in-memory database, so the numbers describe the system as users run it. `amala benchmark` prints
`run_many`'s rows; the scripts in the repository's `benchmarks/` folder use `replay` and
`parse_seeds`. No argument parsing here: that belongs to the command and the scripts.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from amala.core import datasets
from amala.core.representations import pool_column
from amala.loop import pareto
from amala.loop import strategies as acquisition_strategies
from amala.loop.campaign import Campaign
from amala.loop.config import CampaignConfig
from amala.loop.store import Store

# benchmark name -> (surrogate kind, acquisition strategy, featurizer overrides)
STRATEGIES = {
    **{name: ("gp", name, {}) for name in acquisition_strategies.STRATEGIES},  # each strategy on the default GP
    # the classic baseline exactly as usually published: 500 trees on 2048-bit radius-2 Morgan bits
    "greedy_rf": ("random_forest", "greedy", {"radius": 2, "n_bits": 2048, "counts": False}),
    # its multi-objective counterpart: a forest per objective, a random Chebyshev scalarisation per pick
    "rf_parego": ("random_forest", "greedy_parego", {"radius": 2, "n_bits": 2048, "counts": False}),
}
CHECKPOINTS = (100, 200, 500)
PARETO_CHECKPOINTS = (100, 150, 200, 300)  # hypervolume fractions of multi-objective rows


def default_strategies(config: CampaignConfig) -> list[str]:
    """The benchmark's rows when none are named: the config's strategy and its baselines."""
    if len(config.all_objectives) > 1:
        return list(dict.fromkeys([config.acquisition.strategy, "qlognparego", "random", "rf_parego"]))
    return [config.acquisition.strategy, "random", "greedy_rf"]


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '1,3' -> [1, 3]."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def strategy_config(config: CampaignConfig, strategy: str, seed: int, budget: int | None) -> CampaignConfig:
    """The campaign of one benchmark row. The config's own strategy runs with the config's surrogate (a
    formulation campaign's ensemble stays the ensemble); any other strategy with its surrogate in STRATEGIES."""
    if strategy not in STRATEGIES:
        raise ValueError(f"--strategies: unknown {strategy!r} (choose from {sorted(STRATEGIES)})")
    data = config.model_dump()
    data.update(name=f"benchmark-{strategy}-{seed}", seed=seed, database="sqlite://")
    if strategy != config.acquisition.strategy:
        surrogate, acquisition, featurizer = STRATEGIES[strategy]
        # the strategy's surrogate with the config's fingerprints (a kind without them, e.g. a GNN: the defaults)
        fingerprints = {**data["surrogate"].get("featurizer", {}), **featurizer}
        own = data["surrogate"] if data["surrogate"]["kind"] == surrogate else {}  # e.g. a config's n_estimators
        data["surrogate"] = {**own, "kind": surrogate, "featurizer": fingerprints}
        data["acquisition"]["strategy"] = acquisition
    data["budget"].update(patience=None, max_iterations=None)
    if budget is not None:
        data["budget"]["max_evaluations"] = budget
    return CampaignConfig.model_validate(data)


def top_set(table: datasets.Table, campaign: Campaign, fraction: float = 0.01) -> set[str]:
    """Canonical representations (SMILES, or formulations for a formulation campaign, whose table is one
    row per formulation) of the top `fraction` of the pool (ceil: 61 of HTP-MD's 6,025)."""
    values = table.frame[campaign.objective.property].map(campaign.objective.transformed)
    k = math.ceil(fraction * len(values))
    order = values.sort_values(ascending=campaign.objective.direction == "minimize").index[:k]
    return set(table.frame[pool_column(campaign.config.representation)][order])


def run(config: CampaignConfig, table: datasets.Table, strategy: str, seed: int,
        budget: int | None = None) -> dict:
    """One retrospective campaign; the row of metrics the benchmark prints."""
    return metrics(_replay(config, table, strategy, seed, budget), strategy, seed)


def replay(campaign: Campaign) -> Campaign:
    """Step `campaign` until its stopping rule holds or nothing is left to select; returns it."""
    while campaign.stop_reason() is None and campaign.step() is not None:
        pass
    return campaign


def _replay(config, table, strategy, seed, budget) -> Campaign:
    cfg = strategy_config(config, strategy, seed, budget)
    return replay(Campaign(cfg, store=Store("sqlite://"), table=table))


def last_iteration_note(campaign: Campaign) -> str:
    """Human-readable cost of the final model iteration (the largest training set)."""
    model_iterations = [i for i in campaign.store.iterations(campaign.id) if i.model_version_id is not None]
    if not model_iterations:
        return "no model iterations"
    last = model_iterations[-1]
    n_train = campaign.store.model_versions(campaign.id)[-1].n_train
    return (f"last iteration: fit {last.fit_seconds:.2f} s + score {last.score_seconds:.2f} s + select "
            f"{last.select_seconds:.2f} s = {last.fit_seconds + last.score_seconds + last.select_seconds:.2f} s "
            f"at {n_train} observations")


def metrics(campaign: Campaign, strategy: str, seed: int) -> dict:
    top = top_set(campaign.table, campaign)  # the campaign's own table: one row per formulation where it made one
    need = math.ceil(len(top) / 2)
    evaluations = campaign.store.evaluations(campaign.id)
    hits = np.cumsum([c.representation in top for c, _ in evaluations])
    sign = campaign.objective.sign
    values = [sign * e.objective if e.objective is not None else -np.inf for _, e in evaluations]
    best = sign * np.maximum.accumulate(values)
    reached = np.nonzero(hits >= need)[0]
    row = {"strategy": strategy, "surrogate": campaign.config.surrogate.kind, "seed": seed,
           "e50": int(reached[0]) + 1 if len(reached) else campaign.config.budget.max_evaluations}
    for n in CHECKPOINTS:
        row[f"found_at_{n}"] = int(hits[min(n, len(hits)) - 1])
    for n in (100, 500):
        row[f"best_at_{n}"] = round(float(best[min(n, len(best)) - 1]), 4)
    model_iterations = [i for i in campaign.store.iterations(campaign.id) if i.model_version_id is not None]
    costs = [i.fit_seconds + i.score_seconds + i.select_seconds for i in model_iterations]
    row["seconds_per_iteration"] = round(float(np.mean(costs)), 3) if costs else 0.0
    if len(campaign.objectives) > 1:
        row.update(pareto_metrics(campaign, evaluations))
    return row


def pool_objectives(campaign: Campaign) -> tuple[list[str], np.ndarray]:
    """The pool's representations and their objectives (model space, maximised), rows with every one."""
    frame = campaign.table.frame
    columns = [frame[o.property].map(o.value_of).astype(float) * o.sign for o in campaign.objectives]
    Y = np.column_stack(columns)
    keep = np.all(np.isfinite(Y), axis=1)
    return list(frame[pool_column(campaign.config.representation)][keep]), Y[keep]


def pareto_metrics(campaign: Campaign, evaluations) -> dict:
    """Hypervolume after N evaluations as a fraction of the whole pool's, with the reference point at the pool's
    median of each objective, and how many of the pool's Pareto-optimal candidates were evaluated."""
    names, Y_pool = pool_objectives(campaign)
    reference = np.median(Y_pool, axis=0)
    total = pareto.hypervolume(Y_pool[pareto.pareto_mask(Y_pool)], reference)
    optimal = {names[i] for i in np.nonzero(pareto.pareto_mask(Y_pool))[0]}
    Y = np.array([[o.sign * v if (v := o.of_stored(e.values)) is not None else np.nan for o in campaign.objectives]
                  for _, e in evaluations], dtype=float).reshape(-1, len(campaign.objectives))
    curve = pareto.hypervolume_curve(Y, reference)
    fractions = {str(n): round(float(curve[min(n, len(curve)) - 1] / total), 4) if len(curve) else 0.0
                 for n in PARETO_CHECKPOINTS}
    return {"hypervolume_fraction": fractions, "pareto_found": sum(c.representation in optimal for c, _ in evaluations),
            "pareto_pool": len(optimal), "reference_point": [round(float(o.sign * r), 4) for o, r in
                                                             zip(campaign.objectives, reference)]}


def run_many(config: CampaignConfig, table: datasets.Table, strategies: list[str], seeds: list[int],
             budget: int | None = None) -> Iterator[tuple[dict, str]]:
    """(metrics row, note on the last iteration's cost) per (seed, strategy)."""
    for seed in seeds:
        for strategy in strategies:
            campaign = _replay(config, table, strategy, seed, budget)
            yield metrics(campaign, strategy, seed), last_iteration_note(campaign)
