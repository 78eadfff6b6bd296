"""The denoiser: a periodic cell with noisy positions in, the noise on each atom out.

DM² (Yang & Schwalbe-Koda, arXiv 2507.05024) trains an equivariant network to return the Gaussian
displacement that was added to a glass's atoms, and generates glasses by applying it over and over to
random positions. Its network is NequIP; this one is PaiNN (Schütt, Unke & Gastegger, ICML 2021): scalar
and vector features per atom, messages along periodic neighbour vectors, a vector output. It is
E(3)-equivariant (a rotated cell gives rotated displacements, a translated one the same), sees bond
angles through its vector features (a network of distances alone would not), and is small enough to
train on two CPU cores within the hour. Periodic neighbours come from matscipy's neighbour list, so a
cell of any shape and size works.

Conditioning: each cell's composition (atom fractions over the generator's elements) and the log10 of
the quench rate its training glass had, embedded and added to every atom's scalar features, so one
generator covers a family of compositions and processing histories.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from matscipy.neighbours import neighbour_list
from torch import nn


@dataclass(frozen=True)
class Graph:
    """Atoms of one or more cells, batched: species index, the cell each atom belongs to, and the
    periodic neighbour pairs (i, j) with the vector from i to j."""

    species: torch.Tensor  # (N,) long
    cell_of_atom: torch.Tensor  # (N,) long
    i: torch.Tensor  # (E,) long
    j: torch.Tensor  # (E,) long
    vectors: torch.Tensor  # (E, 3) float: r_j - r_i, through periodic images
    conditions: torch.Tensor  # (cells, C) float


def graph(cells: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], cutoff: float) -> Graph:
    """Batch cells given as (species index, positions Å, 3x3 cell Å, condition vector)."""
    species, owner, ii, jj, vecs, conds, offset = [], [], [], [], [], [], 0
    for k, (kinds, positions, cell, condition) in enumerate(cells):
        i, j, D = neighbour_list("ijD", positions=positions, cell=cell, pbc=[True] * 3, cutoff=cutoff)
        species.append(kinds)
        owner.append(np.full(len(kinds), k))
        ii.append(i + offset)
        jj.append(j + offset)
        vecs.append(D)
        conds.append(condition)
        offset += len(kinds)
    return Graph(torch.as_tensor(np.concatenate(species), dtype=torch.long),
                 torch.as_tensor(np.concatenate(owner), dtype=torch.long),
                 torch.as_tensor(np.concatenate(ii), dtype=torch.long),
                 torch.as_tensor(np.concatenate(jj), dtype=torch.long),
                 torch.as_tensor(np.concatenate(vecs), dtype=torch.float32),
                 torch.as_tensor(np.stack(conds), dtype=torch.float32))


class _Bessel(nn.Module):
    """sin(nπr/rc)/r radial basis with a smooth cosine cutoff envelope (as in DimeNet/NequIP)."""

    def __init__(self, n: int, cutoff: float):
        super().__init__()
        self.cutoff = cutoff
        self.register_buffer("freq", torch.arange(1, n + 1, dtype=torch.float32) * math.pi / cutoff)

    def forward(self, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = r.clamp_min(1e-6)[:, None]
        basis = torch.sin(self.freq * r) / r
        envelope = 0.5 * (torch.cos(math.pi * r / self.cutoff) + 1.0) * (r < self.cutoff)
        return basis, envelope


def _mlp(n_in: int, n_hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, n_hidden), nn.SiLU(), nn.Linear(n_hidden, n_out))


class _Message(nn.Module):
    def __init__(self, f: int, n_rbf: int):
        super().__init__()
        self.phi = _mlp(f, f, 3 * f)
        self.w = nn.Linear(n_rbf, 3 * f)
        self.f = f

    def forward(self, s, v, g: Graph, unit, rbf, envelope, norm):
        x = self.phi(s)[g.j] * self.w(rbf) * envelope  # (E, 3F)
        ds, dvv, dvs = torch.split(x, self.f, dim=-1)
        dv = dvv[:, None, :] * v[g.j] + dvs[:, None, :] * unit[:, :, None]  # (E, 3, F)
        s = s + torch.zeros_like(s).index_add_(0, g.i, ds) / norm
        v = v + torch.zeros_like(v).index_add_(0, g.i, dv) / norm
        return s, v


class _Update(nn.Module):
    def __init__(self, f: int):
        super().__init__()
        self.u = nn.Linear(f, f, bias=False)
        self.v = nn.Linear(f, f, bias=False)
        self.phi = _mlp(2 * f, f, 3 * f)
        self.f = f

    def forward(self, s, v):
        uv, vv = self.u(v), self.v(v)
        norm = torch.sqrt((vv ** 2).sum(dim=1) + 1e-8)
        a = self.phi(torch.cat([s, norm], dim=-1))
        a_vv, a_sv, a_ss = torch.split(a, self.f, dim=-1)
        return s + a_ss + a_sv * (uv * vv).sum(dim=1), v + a_vv[:, None, :] * uv


class Denoiser(nn.Module):
    """PaiNN with a vector head: per-atom displacement (Å) that was added to the clean glass."""

    def __init__(self, n_species: int, n_conditions: int, features: int = 64, layers: int = 3,
                 cutoff: float = 5.0, n_rbf: int = 16, mean_neighbours: float = 30.0):
        super().__init__()
        self.cutoff = cutoff
        self.embed = nn.Embedding(n_species, features)
        self.condition = _mlp(n_conditions, features, features)
        self.rbf = _Bessel(n_rbf, cutoff)
        self.messages = nn.ModuleList(_Message(features, n_rbf) for _ in range(layers))
        self.updates = nn.ModuleList(_Update(features) for _ in range(layers))
        self.head = nn.Linear(features, 1, bias=False)  # a linear map of vector channels stays equivariant
        self.gate = _mlp(features, features, features)
        self.register_buffer("norm", torch.tensor(float(mean_neighbours)))

    def forward(self, g: Graph) -> torch.Tensor:
        s = self.embed(g.species) + self.condition(g.conditions)[g.cell_of_atom]
        v = torch.zeros(s.shape[0], 3, s.shape[1], dtype=s.dtype)
        r = g.vectors.norm(dim=-1)
        unit = g.vectors / r.clamp_min(1e-6)[:, None]
        rbf, envelope = self.rbf(r)
        for message, update in zip(self.messages, self.updates):
            s, v = message(s, v, g, unit, rbf, envelope, self.norm)
            s, v = update(s, v)
        return self.head(v * self.gate(s)[:, None, :]).squeeze(-1)  # (N, 3)
