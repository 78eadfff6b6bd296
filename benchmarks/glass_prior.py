"""Benchmark of the glass-composition prior (agents/glass_prior.py) against uniform Dirichlet sampling.

SciGlass's Li oxide glasses made only of the prior's compounds are split by source paper (SciGlass's KOD:
a paper's near-identical glasses never straddle the split), 80% of the papers to train on, 20% held out.
The VAE is trained on the training compositions; as many samples as there are held-out compositions are
drawn from it and from a Dirichlet(1) over the same compounds (rounded the same way), and with --gan from
a WGAN-GP trained on the same compositions (Shang et al.'s kind of generator), and each sample set
is scored by `composition_metrics`: validity, uniqueness, novelty, and k-NN precision and recall
(Kynkäänniemi et al. 2019, k = 5) against the held-out compositions in mole-fraction space.

    .venv/bin/python benchmarks/glass_prior.py --data /work/shared/data/sciglass/sciglass_li_oxide_glasses.csv \\
        --seeds 0 1 2 --out runs/bench/glass_prior.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from amala.agents.generation_metrics import composition_metrics
from amala.agents.glass_prior import GlassPrior, PriorSettings, within
from amala.core import sciglass
from amala.core.composition import canonical_composition


def split(frame, compounds, seed: int, heldout: float = 0.2):
    rows = frame[within(list(frame.composition), compounds)]
    papers = np.array(sorted(rows.sciglass_kod.unique()))
    rng = np.random.default_rng(seed)
    test = set(rng.choice(papers, size=int(round(heldout * len(papers))), replace=False))
    train = sorted(set(rows[~rows.sciglass_kod.isin(test)].composition))
    held = sorted(set(rows[rows.sciglass_kod.isin(test)].composition) - set(train))
    return train, held


def dirichlet(n: int, settings: PriorSettings, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for row in rng.dirichlet(np.ones(len(settings.compounds)), size=n):
        row = np.round(row / settings.step) * settings.step
        out.append(canonical_composition({c: float(x) for c, x in zip(settings.compounds, row) if x > 0}))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="sciglass_li_oxide_glasses.csv")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--temperature", type=float, default=PriorSettings.temperature, help="latent scale of samples")
    p.add_argument("--gan", type=int, default=0, metavar="STEPS", help="also train Shang's kind of generator (a "
                   "WGAN-GP, agents/glass_gan.py) for STEPS generator steps on the same split, and score it")
    args = p.parse_args()
    frame = sciglass.read(args.data).frame
    settings = PriorSettings(temperature=args.temperature)
    rows = []
    for seed in args.seeds:
        train, held = split(frame, settings.compounds, seed)
        began = time.perf_counter()
        prior = GlassPrior.train(train, settings, seed=seed, source=str(args.data))
        seconds = time.perf_counter() - began
        sets = [("vae", prior.sample(len(held), seed=seed)), ("dirichlet", dirichlet(len(held), settings, seed))]
        gan_seconds = None
        if args.gan:
            from amala.agents.glass_gan import GANSettings, GlassGAN

            began = time.perf_counter()
            gan = GlassGAN.train(train, settings, GANSettings(steps=args.gan), seed=seed)
            gan_seconds = round(time.perf_counter() - began, 1)
            sets.append(("gan", gan.sample(len(held), seed=seed)))
        for name, samples in sets:
            row = {"seed": seed, "model": name, "train": len(train), "heldout": len(held),
                   **composition_metrics(samples, train, held, settings.compounds, k=5)}
            if name == "gan":
                row["train_seconds"] = gan_seconds
            if name == "vae":
                row["train_seconds"] = round(seconds, 1)
                ll_held = prior.log_likelihood(held)
                ll_uniform = prior.log_likelihood(dirichlet(len(held), settings, seed + 100))
                row["elbo_heldout_median"] = float(np.median(ll_held))
                row["elbo_dirichlet_median"] = float(np.median(ll_uniform))
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
