"""A generative prior over glass compositions, learned from SciGlass's measured glasses (Shang et al. 2024).

Why: a composition agent that samples a box of mole fractions knows nothing of which compositions form
glasses; most of such a box (dense mixtures of every compound) was never made as a glass. Shang et al.
("Customized design of amorphous solids by generative deep learning", 2024) learned the compositions of
thousands of known glasses with a GAN and joined it with a property predictor. Here the model is a
variational autoencoder (VAE) over the mole fractions of a configurable set of compounds: on a few
thousand compositions it trains in seconds and stably (a GAN's adversarial training is fragile at this
size), and its evidence lower bound (ELBO) is a likelihood a campaign can use as a prior or a constraint
(`log_likelihood`), which a GAN's discriminator score is not.

Model: encoder MLP (fractions → mean and log-variance of a small latent), decoder MLP (latent → for each
compound a presence logit and a fraction logit). Real glasses hold 2-5 of the compounds: a softmax alone
decodes every latent to a dense mixture of all of them (measured: samples collapsed onto a few averaged
mixtures, recall 0), so which compounds are present is decoded separately (Bernoulli) from how much of each
(softmax over the present ones). Loss: binary cross-entropy of presence, cross-entropy of the true
fractions under the decoded ones, plus β·KL. A sample: a standard-normal latent, presence drawn per
compound, fractions the softmax over the present compounds, rounded to `step`.

Units: mole fractions (sum 1).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
from pydantic import Field
from torch import nn

from amala.agents.protocol import Agent, Proposal, ProposalContext
from amala.core.candidate import Candidate
from amala.core.composition import canonical_composition, component_elements, parse_composition
from amala.core.plugins import AgentSpec, Bounds, Int, Quota, Text
from amala.core.representations import Representation

# the 20 compounds most common in SciGlass's Li oxide glasses (rows containing each: Li2O 5,236 ... Fe2O3 293)
DEFAULT_COMPOUNDS = ("Li2O", "B2O3", "SiO2", "P2O5", "Al2O3", "Na2O", "K2O", "BaO", "CaO", "LiF", "ZnO", "V2O5",
                     "TiO2", "Bi2O3", "MgO", "SrO", "PbO", "Sb2O3", "LiCl", "Fe2O3")

__all__ = ["DEFAULT_COMPOUNDS", "GlassPrior", "GlassPriorAgent", "GlassPriorSpec", "PriorSettings", "fractions_of",
           "within"]


QUANTILES = (0.01, 0.05, 0.1, 0.25, 0.5)  # of the training glasses' ELBO, kept with each prior


@dataclass(frozen=True)
class PriorSettings:
    compounds: tuple[str, ...] = DEFAULT_COMPOUNDS
    latent: int = 8
    hidden: int = 64
    beta: float = 0.1  # weight of the KL term: lower fits the data closer, higher samples more smoothly
    epochs: int = 400
    batch_size: int = 128
    learning_rate: float = 3e-3
    min_fraction: float = 0.005  # a sample's compounds below 0.5 mol% are dropped
    step: float = 0.001  # samples rounded to 0.1 mol%
    temperature: float = 1.0  # scale of the latent draws: below 1 samples nearer the known glasses (precision),
    # above 1 wider (recall)

    def __post_init__(self):
        for name in self.compounds:
            component_elements(name)  # a typo is refused in one line, naming it


def fractions_of(compositions: Sequence[str], compounds: Sequence[str]) -> np.ndarray:
    """Mole-fraction vectors over `compounds` (rows: compositions; a compound outside them raises)."""
    index = {c: k for k, c in enumerate(compounds)}
    out = np.zeros((len(compositions), len(compounds)))
    for row, text in enumerate(compositions):
        for name, x in parse_composition(text).items():
            if name not in index:
                raise ValueError(f"composition {text!r}: compound {name} is not among the prior's compounds")
            out[row, index[name]] = x
    return out


def weights_version(model: nn.Module) -> str:
    """A short hash of a model's weights (12 hex digits): the version a candidate's provenance names."""
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().numpy().tobytes())
    return digest.hexdigest()[:12]


def to_compositions(fractions: np.ndarray, settings: PriorSettings) -> list[str]:
    """Sampled fraction vectors as compositions: compounds below `min_fraction` dropped, the rest
    renormalised and rounded to `step` (canonical spelling). Every generator of compositions rounds alike,
    so their samples compare on equal terms."""
    out = []
    for row in np.asarray(fractions, dtype=float):
        row = np.where(row >= settings.min_fraction, row, 0.0)
        if row.sum() <= 0:
            row = np.eye(len(row))[int(np.argmax(fractions))]
        row = np.round(row / row.sum() / settings.step) * settings.step
        out.append(canonical_composition({c: float(x) for c, x in zip(settings.compounds, row) if x > 0}))
    return out


def within(compositions: Sequence[str], compounds: Sequence[str]) -> list[bool]:
    """Whether each composition is made only of `compounds`."""
    allowed = set(compounds)  # the names only (a SciGlass glass may have more compounds than a candidate may)
    return [{item.partition(":")[0] for item in text.split(";")} <= allowed for text in compositions]


class _VAE(nn.Module):
    def __init__(self, d: int, hidden: int, latent: int):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.mean, self.log_var = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                     nn.Linear(hidden, 2 * d))  # presence logits, then fraction logits

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.decoder_logits(self.mean(h), self.log_var(h)), self.mean(h), self.log_var(h)

    def decoder_logits(self, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        return self.decoder(z)


def _masked_log_softmax(logits: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.masked_fill(~present, -1e9), dim=-1)


def _elbo_terms(model: _VAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out, mean, log_var = model(x)
    presence, logits = out.chunk(2, dim=-1)
    present = x > 0
    reconstruction = (nn.functional.binary_cross_entropy_with_logits(presence, present.float(), reduction="none")
                      .sum(-1) - (x * _masked_log_softmax(logits, present)).sum(-1))
    kl = 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(-1)
    return reconstruction, kl


@dataclass
class GlassPrior:
    """A trained prior: its settings, weights and how it was made (`record`)."""

    settings: PriorSettings
    model: _VAE
    record: dict = field(default_factory=dict)

    @classmethod
    def train(cls, compositions: Sequence[str], settings: PriorSettings = PriorSettings(), seed: int = 0,
              source: str = "") -> GlassPrior:
        """Fit the VAE on `compositions` (only those made of the settings' compounds are used)."""
        kept = [c for c, ok in zip(compositions, within(compositions, settings.compounds)) if ok]
        if len(kept) < 10:
            raise ValueError(f"glass prior: {len(kept)} training compositions within {list(settings.compounds)}; "
                             "at least 10 are needed")
        torch.manual_seed(seed)
        x = torch.tensor(fractions_of(kept, settings.compounds), dtype=torch.float32)
        model = _VAE(x.shape[1], settings.hidden, settings.latent)
        optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(settings.epochs):
            for batch in torch.randperm(len(x), generator=generator).split(settings.batch_size):
                reconstruction, kl = _elbo_terms(model, x[batch])
                loss = (reconstruction + settings.beta * kl).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        model.eval()
        digest = hashlib.sha256("\n".join(sorted(kept)).encode()).hexdigest()
        record = {"model": "vae", "training_compositions": len(kept), "training_sha256": digest, "seed": seed,
                  "source": source, "settings": asdict(settings)}
        prior = cls(settings, model, record)
        # the training glasses' own ELBOs: a constraint's threshold as a quantile of them (`CompositionSampler`)
        elbo = prior.log_likelihood(kept, seed=seed)
        record["elbo_quantiles"] = {f"{q:g}": float(np.quantile(elbo, q)) for q in QUANTILES}
        return prior

    def fine_tuned(self, compositions: Sequence[str], steps: int, seed: int = 0) -> GlassPrior:
        """A copy trained `steps` more minibatch steps on `compositions` (a campaign's best, those made of
        the prior's compounds), as the GPT agent is fine-tuned on its campaign's best: sampling moves
        towards them while the prior's weights keep the glasses it learned. The original is unchanged."""
        kept = [c for c, ok in zip(compositions, within(compositions, self.settings.compounds)) if ok]
        model = copy.deepcopy(self.model)
        if kept and steps:
            torch.manual_seed(seed)
            x = torch.tensor(fractions_of(kept, self.settings.compounds), dtype=torch.float32)
            optimiser = torch.optim.Adam(model.parameters(), lr=self.settings.learning_rate)
            generator = torch.Generator().manual_seed(seed)
            model.train()
            for _ in range(steps):
                batch = torch.randint(len(x), (min(len(x), self.settings.batch_size),), generator=generator)
                reconstruction, kl = _elbo_terms(model, x[batch])
                loss = (reconstruction + self.settings.beta * kl).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            model.eval()
        record = {**self.record, "fine_tuned_on": len(kept), "fine_tune_steps": steps if kept else 0,
                  "fine_tune_seed": seed, "base_version": self.version}
        return GlassPrior(self.settings, model, record)

    @property
    def version(self) -> str:
        """A short hash of the weights: what a candidate's provenance names."""
        return weights_version(self.model)

    def sample(self, n: int, seed: int = 0) -> list[str]:
        """`n` compositions (canonical spelling; duplicates kept, so uniqueness can be measured)."""
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            z = self.settings.temperature * torch.randn(n, self.settings.latent, generator=generator)
            presence, logits = self.model.decoder(z).chunk(2, dim=-1)
            present = torch.bernoulli(torch.sigmoid(presence), generator=generator).bool()
            empty = ~present.any(-1)  # nothing drawn: the likeliest compound
            present[empty, presence[empty].argmax(-1)] = True
            p = _masked_log_softmax(logits, present).exp().numpy().astype(float)
        return to_compositions(p, self.settings)

    def log_likelihood(self, compositions: Sequence[str], draws: int = 16, seed: int = 0) -> np.ndarray:
        """The ELBO per composition (nats; higher: more like the glasses it learned), averaged over
        `draws` latent draws; −inf for a composition with a compound outside the prior's."""
        ok = within(compositions, self.settings.compounds)
        out = np.full(len(compositions), -math.inf)
        if not any(ok):
            return out
        x = torch.tensor(fractions_of([c for c, k in zip(compositions, ok) if k], self.settings.compounds),
                         dtype=torch.float32)
        torch.manual_seed(seed)
        with torch.no_grad():
            terms = [_elbo_terms(self.model, x) for _ in range(draws)]
        elbo = -torch.stack([r + kl for r, kl in terms]).mean(0).numpy()
        out[np.array(ok)] = elbo
        return out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), folder / "prior.pt")
        (folder / "prior.json").write_text(json.dumps({**self.record, "version": self.version}, indent=1))

    @classmethod
    def load(cls, folder: Path) -> GlassPrior:
        record = json.loads((folder / "prior.json").read_text())
        settings = PriorSettings(**{**record["settings"], "compounds": tuple(record["settings"]["compounds"])})
        model = _VAE(len(settings.compounds), settings.hidden, settings.latent)
        model.load_state_dict(torch.load(folder / "prior.pt", weights_only=True))
        model.eval()
        return cls(settings, model, record)


# --- the agent ---------------------------------------------------------------------------------------

def trained_prior(settings: PriorSettings, data: str | None, folder: Path, model: str = "vae",
                  gan_steps: int = 3000):
    """(the prior of these settings on the SciGlass table at `data` (default: the dataset's local copy),
    whether it was trained now): trained once, kept under `folder`, keyed by the table's sha256, the
    settings and the model kind (`vae`, or `gan`: `agents/glass_gan.py`), so every agent and every resumed
    campaign on one work folder shares it."""
    from amala.core import datasets, sciglass

    table = sciglass.read(datasets.resolve_path(sciglass.NAME, data))
    keyed = [table.sha256, asdict(settings)] + ([model, gan_steps] if model != "vae" else [])  # VAE: as before
    key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()
    where = Path(folder) / key[:12]
    if model == "gan":
        from amala.agents.glass_gan import GlassGAN

        if (where / "gan.json").is_file():
            return GlassGAN.load(where), False
        from amala.agents.glass_gan import GANSettings

        gan = GlassGAN.train(list(table.frame.composition), settings, GANSettings(steps=gan_steps), seed=0)
        gan.record["source"] = table.source
        gan.save(where)
        return gan, True
    if (where / "prior.json").is_file():
        return GlassPrior.load(where), False
    prior = GlassPrior.train(list(table.frame.composition), settings, seed=0, source=table.source)
    prior.save(where)
    return prior, True


class GlassPriorSpec(AgentSpec):
    """Compositions sampled from the glass prior, trained on SciGlass's glasses made of the bounds' compounds."""

    kind: Literal["glass_prior"] = "glass_prior"
    bounds: Bounds | None = None  # mole-fraction range per compound: its keys are the prior's compounds
    n: Quota = 64
    data: Text | None = Field(None, description="SciGlass table (default: the dataset's local copy, "
                              "$AMALA_DATA_DIR/sciglass/sciglass_li_oxide_glasses.csv)")
    oversample: Int = Field(20, ge=1, le=1000, description="samples drawn per composition handed over (those "
                            "outside the bounds or already known are dropped)")
    finetune_steps: Int = Field(50, ge=0, le=100_000, description="before each proposal, minibatch steps of "
                                "fine-tuning a copy of the prior on the campaign's best glasses (0: the prior as "
                                "trained); the glass-forming likelihood stays the prior's")
    finetune_top: Int = Field(20, ge=1, le=10_000, description="how many of the best evaluated glasses it is "
                              "fine-tuned on")
    model: Literal["vae", "gan"] = Field("vae", description="vae (default: higher recall, and a likelihood) or "
                                         "gan (Shang et al.'s kind: higher precision, no likelihood, no fine-tuning)")
    gan_steps: Int = Field(3000, ge=1, le=1_000_000, description="model gan: generator steps of its training")

    def composition_bounds(self) -> dict[str, tuple[float, float]]:
        return self.bounds or {}


class GlassPriorAgent(Agent):
    """Proposes compositions drawn from the glass prior (a VAE of SciGlass's compositions of the bounds'
    compounds), trained on first use and kept in the work folder (keyed by the table's and the settings'
    hashes, so a resumed or second campaign reuses it). Once the campaign has results, it samples from a
    copy fine-tuned on the best of them (`finetune_steps`, `finetune_top`; Shang et al.'s generator
    steered by the campaign, as the GPT agent is), so the acquisition's scoring sees more of the region
    that pays. Each candidate's metadata names the prior's version, the sample seed and its ELBO under the
    prior (the glass-forming likelihood, nats), and the fine-tuned copy's version when there is one."""

    Spec = GlassPriorSpec
    representations = (Representation.COMPOSITION,)
    needs_dataset = False

    @classmethod
    def from_spec(cls, spec: GlassPriorSpec, pool=None, representation="composition", workdir=None) -> GlassPriorAgent:
        if not spec.bounds or len(spec.bounds) < 2:
            raise ValueError("agents[].bounds: the glass prior needs at least two compounds with their bounds")
        return cls(spec.bounds, n=spec.n, data=spec.data, oversample=spec.oversample,
                   folder=Path(workdir or ".") / "glass_prior", name=spec.name or "glass_prior",
                   finetune_steps=spec.finetune_steps, finetune_top=spec.finetune_top, model=spec.model,
                   gan_steps=spec.gan_steps)

    def __init__(self, bounds: dict[str, tuple[float, float]], n: int = 64, data: str | None = None,
                 oversample: int = 20, folder: Path = Path("glass_prior"), name: str = "glass_prior",
                 finetune_steps: int = 50, finetune_top: int = 20, model: str = "vae", gan_steps: int = 3000):
        self.bounds, self.n, self.data, self.oversample = dict(bounds), n, data, oversample
        self.model, self.gan_steps = model, gan_steps
        self.finetune_steps, self.finetune_top = finetune_steps, finetune_top
        self.folder, self.name = Path(folder), name
        self.settings = PriorSettings(compounds=tuple(sorted(bounds)))
        self._prior: GlassPrior | None = None

    def prior(self) -> tuple[GlassPrior, bool]:
        """(the prior, whether it was trained now). Trained once per table, settings and model kind."""
        if self._prior is None:
            self._prior, trained = trained_prior(self.settings, self.data, self.folder, self.model, self.gan_steps)
            return self._prior, trained
        return self._prior, False

    def propose(self, context: ProposalContext, n: int | None = None) -> Proposal:
        wanted = n or self.n
        prior, trained = self.prior()
        seed = int(context.rng(self.name).integers(2**31))
        sampler, tuned_on = prior, 0
        if self.finetune_steps and context.evaluated and self.model == "vae":
            # from the prior each time (not from the last copy): deterministic by iteration, nothing to resume
            best = sorted(context.evaluated, key=lambda cv: cv[1], reverse=True)[:self.finetune_top]
            sampler = prior.fine_tuned([c.representation for c, _ in best], self.finetune_steps,
                                       seed=context.seed + context.iteration)
            tuned_on = sampler.record["fine_tuned_on"]
        samples = sampler.sample(wanted * self.oversample, seed=seed)
        found: dict[str, Candidate] = {}
        for text in samples:
            fractions = parse_composition(text)
            if not all(lo - 1e-9 <= fractions.get(c, 0.0) <= hi + 1e-9 for c, (lo, hi) in self.bounds.items()):
                continue
            candidate = Candidate(text, kind=Representation.COMPOSITION, agent=self.name)
            if candidate.key not in context.known_keys:
                found.setdefault(candidate.key, candidate)
            if len(found) >= wanted:
                break
        chosen = list(found.values())
        # the glass-forming likelihood is the VAE's ELBO; a GAN has none
        likelihood = (prior.log_likelihood([c.representation for c in chosen]) if chosen and self.model == "vae"
                      else [None] * len(chosen))
        for candidate, elbo in zip(chosen, likelihood):
            candidate.metadata.update(prior_version=prior.version, prior_model=self.model, sample_seed=seed,
                                      **({"glass_elbo_nats": float(elbo)} if elbo is not None else {}),
                                      **({"sampler_version": sampler.version, "fine_tuned_on": tuned_on}
                                         if tuned_on else {}))
        events = [] if len(chosen) >= wanted else [("warning", f"{self.name}: {len(chosen)} of {wanted} samples "
                                                    f"within the bounds and new ({len(samples)} drawn)")]
        version = ({**sampler.record, "kind": "glass_prior", "model": self.model, "version": sampler.version}
                   if trained or tuned_on else None)
        return Proposal(chosen, events=events, model_version=version)
