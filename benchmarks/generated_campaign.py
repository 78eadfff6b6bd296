"""Bar 4 of the structure-generator issue: one campaign twice, glasses from melt-quench and from a generator.

Runs `amala run` on two copies of `configs/oxide_generated_demo.yaml` (6 glasses, LAMMPS quick profile,
2 workers): as shipped (`structure: {source: generator}`) and with `structure: {source: melt_quench}`,
each in its own work folder under --out, timed as a user would time them. Then tabulates, per campaign
from its database: wall time, the glasses in the order chosen with log10 σ(300 K) and Ea, and the
per-glass simulation time; and the overlap of the two campaigns' choices. A rerun resumes both campaigns.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generated_campaign.py --out runs/bench/generated_campaign
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/campaign_runs.py
from campaign_runs import ROOT, run  # noqa: E402


def rows(config: dict) -> list[dict]:
    from amala.loop.config import parse_config
    from amala.loop.store import Store

    parsed = parse_config(config)
    store = Store(parsed.database_url)
    campaign = store.campaign(parsed.name)
    out = []
    for candidate, evaluation in sorted(store.evaluations(campaign.id), key=lambda pair: pair[1].created_at):
        values = evaluation.values or {}
        out.append({"composition": candidate.representation, "status": evaluation.status,
                    "reason": evaluation.reason,
                    "log10_sigma_300K": _value(values, "log10_conductivity_300K"), "ea_eV": _value(values, "ea"),
                    "seconds": round(evaluation.cost_seconds or 0.0, 1),
                    "generation_s": (evaluation.provenance or {}).get("generation_seconds")})
    return out


def _value(values: dict, name: str):
    v = values.get(name)
    if v is None:
        return None
    return [round(v["value"], 3), round(v["std"], 3) if v.get("std") is not None else None]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "oxide_generated_demo.yaml")
    args = p.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load(args.config.read_text())
    summary = {}
    for source in ("generator", "melt_quench"):
        config = json.loads(json.dumps(base))
        config["name"] = f"{base['name']}_{source}"
        config["workdir"] = str(args.out / source)
        config["oracle"]["structure"] = ({**base["oracle"]["structure"], "source": "generator"}
                                         if source == "generator" else {"source": "melt_quench"})
        seconds = run(config, args.out / f"{source}.yaml", args.out / f"{source}.log")
        summary[source] = {"wall_s": round(seconds, 1), "glasses": rows(config)}
        print(source, json.dumps(summary[source])[:400], flush=True)
    chosen = {s: [g["composition"] for g in summary[s]["glasses"]] for s in summary}
    summary["same_choices"] = sorted(set(chosen["generator"]) & set(chosen["melt_quench"]))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({s: summary[s]["wall_s"] for s in ("generator", "melt_quench")}))


if __name__ == "__main__":
    main()
