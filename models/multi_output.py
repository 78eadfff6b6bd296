"""Several properties at once: one surrogate per modelled output, seen by BoTorch as one multi-output model.

A multi-objective campaign models each objective, and each constrained property, with the campaign's own
surrogate kind (a GP per output, a GNN ensemble per output, a random forest per output), fitted on the
same inputs; `model` is BoTorch's `ModelList` of their posteriors, so multi-objective acquisition
(qLogNEHVI, qLogNParEGO) and constraint handling read it as one model with one output per column.
Independent outputs are the simple, robust choice at campaign sizes (tens to hundreds of points): a
multi-task kernel's cross-output correlation is one more hyperparameter set to learn from the same few
points, and each output keeps its own noise and length scales.
"""

from __future__ import annotations

from typing import Callable

import torch

from amala.models.protocol import Surrogate


class MultiOutput:
    """Column k of the training targets is modelled by `members[k]`; all share one encoding of the inputs."""

    def __init__(self, members: list[Surrogate]):
        if not members:
            raise ValueError("a multi-output surrogate needs at least one output")
        self.members = members
        self.name = members[0].name
        self.bayesian = all(type(m).bayesian for m in members)
        self.n_train = 0

    @classmethod
    def build(cls, build: Callable[[dict | None], Surrogate], outputs: int, warm_start=None) -> "MultiOutput":
        """`build(warm_start)` makes one member; `warm_start` is the list an earlier fit's `describe()` stored
        (one entry per output), or None."""
        starts = warm_start if isinstance(warm_start, list) and len(warm_start) == outputs else [None] * outputs
        return cls([build(start) for start in starts])

    @property
    def model(self):
        """BoTorch `ModelList` of the members' models (None when a member has no posterior)."""
        if not self.bayesian or any(m.model is None for m in self.members):
            return None
        from botorch.models.model import ModelList

        return ModelList(*[m.model for m in self.members])

    def encode(self, representations) -> torch.Tensor:
        return self.members[0].encode(representations)

    def fit(self, X: torch.Tensor, Y: torch.Tensor, Y_var: torch.Tensor | None = None, **conditions) -> "MultiOutput":
        """Fit member k on column k of Y (and of Y_var, the measurement variances, where every one is known)."""
        if Y.ndim != 2 or Y.shape[1] != len(self.members):
            raise ValueError(f"multi-output surrogate: targets of shape {tuple(Y.shape)} for {len(self.members)} "
                             "outputs")
        for k, member in enumerate(self.members):
            variances = None if Y_var is None or not torch.isfinite(Y_var[:, k]).all() else Y_var[:, k]
            member.fit(X, Y[:, k], variances, **conditions)
        self.n_train = int(Y.shape[0])
        return self

    def predict(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Marginal means and standard deviations, n x outputs."""
        pairs = [member.predict(X) for member in self.members]
        return torch.stack([m for m, _ in pairs], dim=-1), torch.stack([s for _, s in pairs], dim=-1)

    def describe(self) -> dict:
        parts = [member.describe() for member in self.members]
        return {"kind": parts[0].get("kind", self.name), "outputs": len(parts), "n_train": self.n_train,
                "members": parts,
                "hyperparameters": [part.get("hyperparameters") for part in parts]}
