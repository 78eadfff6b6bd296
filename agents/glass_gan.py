"""Shang et al.'s generator for comparison: a Wasserstein GAN over glass compositions.

Shang et al. (2024, "Customized design of amorphous solids by generative deep learning") learned the
compositions of thousands of known glasses with a GAN. `agents/glass_prior.py` chose a VAE instead; this
module is the GAN that choice is measured against (`benchmarks/glass_prior.py --gan`), on the same
compounds, the same training compositions and the same rounding of samples (`to_compositions`).

Model: WGAN with gradient penalty (Gulrajani et al. 2017), the stable form of adversarial training at
small data. Generator: noise → MLP → softmax over the compounds (mole fractions; a compound the glass does
not hold gets a fraction near zero, dropped below `min_fraction` when sampled). Critic: MLP on fraction
vectors, 5 critic steps per generator step, penalty weight 10, Adam (lr 1e-4, β 0.5/0.9) as in the paper
that introduced the penalty. Deterministic by seed on one thread. It has no likelihood: nothing here
replaces the VAE's ELBO as a glass-forming likelihood. The `glass_prior` agent uses it with `model: gan`
(measured: precision 0.83, recall 0.58 against the VAE's 0.79 and 0.87, docs/benchmarks/sciglass-retrospective.md).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from amala.agents.glass_prior import PriorSettings, fractions_of, to_compositions, weights_version, within


@dataclass(frozen=True)
class GANSettings:
    noise: int = 16
    hidden: int = 128
    steps: int = 3000  # generator steps
    critic_steps: int = 5
    batch_size: int = 128
    learning_rate: float = 1e-4
    penalty: float = 10.0


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, n_out))


class GlassGAN:
    def __init__(self, prior_settings: PriorSettings, settings: GANSettings, generator: nn.Module, record: dict):
        self.prior_settings, self.settings, self.generator, self.record = prior_settings, settings, generator, record

    @classmethod
    def train(cls, compositions: Sequence[str], prior_settings: PriorSettings = PriorSettings(),
              settings: GANSettings = GANSettings(), seed: int = 0) -> GlassGAN:
        kept = [c for c, ok in zip(compositions, within(compositions, prior_settings.compounds)) if ok]
        if len(kept) < 10:
            raise ValueError(f"glass GAN: {len(kept)} training compositions within {list(prior_settings.compounds)}")
        torch.manual_seed(seed)
        real = torch.tensor(fractions_of(kept, prior_settings.compounds), dtype=torch.float32)
        d = real.shape[1]
        generator = nn.Sequential(_mlp(settings.noise, settings.hidden, d), nn.Softmax(dim=-1))
        critic = _mlp(d, settings.hidden, 1)
        betas = (0.5, 0.9)
        g_opt = torch.optim.Adam(generator.parameters(), lr=settings.learning_rate, betas=betas)
        c_opt = torch.optim.Adam(critic.parameters(), lr=settings.learning_rate, betas=betas)
        draw = torch.Generator().manual_seed(seed)
        for _ in range(settings.steps):
            for _ in range(settings.critic_steps):
                x = real[torch.randint(len(real), (settings.batch_size,), generator=draw)]
                with torch.no_grad():
                    fake = generator(torch.randn(settings.batch_size, settings.noise, generator=draw))
                mix = torch.rand(settings.batch_size, 1, generator=draw)
                between = (mix * x + (1 - mix) * fake).requires_grad_(True)
                grad, = torch.autograd.grad(critic(between).sum(), between, create_graph=True)
                penalty = ((grad.norm(dim=-1) - 1) ** 2).mean()
                loss = critic(fake).mean() - critic(x).mean() + settings.penalty * penalty
                c_opt.zero_grad()
                loss.backward()
                c_opt.step()
            fake = generator(torch.randn(settings.batch_size, settings.noise, generator=draw))
            g_loss = -critic(fake).mean()
            g_opt.zero_grad()
            g_loss.backward()
            g_opt.step()
        generator.eval()
        record = {"model": "wgan-gp", "training_compositions": len(kept), "seed": seed, "settings": asdict(settings),
                  "training_sha256": hashlib.sha256("\n".join(sorted(kept)).encode()).hexdigest(),
                  "final_critic_loss": loss.item(), "final_generator_loss": g_loss.item()}
        return cls(prior_settings, settings, generator, record)

    def sample(self, n: int, seed: int = 0) -> list[str]:
        draw = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            fractions = self.generator(torch.randn(n, self.settings.noise, generator=draw)).numpy()
        return to_compositions(fractions, self.prior_settings)

    @property
    def version(self) -> str:
        return weights_version(self.generator)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(self.generator.state_dict(), folder / "gan.pt")
        (folder / "gan.json").write_text(json.dumps({**self.record, "version": self.version,
                                                     "prior_settings": asdict(self.prior_settings)}, indent=1))

    @classmethod
    def load(cls, folder: Path) -> GlassGAN:
        record = json.loads((folder / "gan.json").read_text())
        prior_settings = PriorSettings(**{**record["prior_settings"],
                                          "compounds": tuple(record["prior_settings"]["compounds"])})
        settings = GANSettings(**record["settings"])
        generator = nn.Sequential(_mlp(settings.noise, settings.hidden, len(prior_settings.compounds)),
                                  nn.Softmax(dim=-1))
        generator.load_state_dict(torch.load(folder / "gan.pt", weights_only=True))
        generator.eval()
        return cls(prior_settings, settings, generator, record)
