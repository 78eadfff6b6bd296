"""A deep ensemble over formulations (polymer, salt, molality) with an Arrhenius readout: ChemArr-grade.

Why this shape (docs/benchmarks/formulation-surrogate-cv.md measures each choice on ChemArr's experimental
data, polymer-grouped):
* Inputs are `FormulationFeaturizer` rows: Morgan counts and RDKit descriptors of the polymer and of
  the salt, log10 molality, log10 Mw and explicit missing/no-salt flags. A new salt is described by
  its ions, so it works; a new polymer is described by what it is made of.
* The readout is Arrhenius (ChemArr): the network gives log10 A and Ea > 0 per formulation and
  log10 σ(T) = log10 A − Ea / (ln 10 k_B T), so the networks answer at any temperature and Ea is a
  prediction in its own right (`predict_parts(...)["networks"]`; the default prediction also averages
  in the forest below, whose curve in T is not Arrhenius).
* Members are trained on a bootstrap of *polymers*, not of rows: the polymers a member never saw are
  new polymers to it, the situation a campaign's predictions are in. They serve twice: early stopping
  (each member stops when its out-of-bag error stops improving; no fixed epoch count to guess) and
  the recalibration of the ensemble's spread against out-of-bag errors (as `GNNEnsemble` does).
* The loss weighs a row of a polymer with n training rows by n^-0.5 (`polymer_weight`): ChemArr holds
  PEO 3,440 times and most polymers under 30 times; unweighted, the networks learn PEO and its salts
  (docs/benchmarks/formulation-surrogate-cv.md: pooled MAE 1.167 -> 1.106 for the networks alone).
* A random forest on fingerprints, molality and 1/T (`models.formulation_forest`, the baseline)
  is averaged in by default (`forest_trees`): the mean of the two means, the std of the two-component
  mixture. On polymers that dominate the data and are then held out (PEO) the networks are far off and
  narrow while the forest is closer and wider; the mixture's ±1 std covers 60–76% of held-out rows where
  the networks alone cover 52% (docs/benchmarks/formulation-surrogate-cv.md). Ea and log10 A come from the
  networks (fingerprint and graph) alone.
* Graph members (`graph_members`, `models.formulation_graph`): D-MPNN networks on the polymer's graph,
  joined by the salt and the conditions, trained the same way (polymer bootstrap, early stopping,
  weights, own recalibration) and mixed in as a third part. They err differently from the fingerprint
  networks (docs/benchmarks/formulation-surrogate-cv.md: best of all parts on the held-out PEO fold, pooled
  MAE 1.050 -> 1.026), but on PolyInfo polymers far from the training ones their spread explodes (screen
  median std 2.6 decades, against ~1), so they are an option (`graph_members: 3`), not the default. Their
  input is one column after the featurizer's: the polymer's row in the ensemble's `GraphBank`;
  `encode`/`table` append it.
* Polymers are found from the features themselves (identical polymer blocks are one polymer), so
  `fit` needs no extra argument and a campaign calls it like every surrogate.
"""

from __future__ import annotations

import math
from typing import Literal, Sequence

import numpy as np
import torch
from pydantic import Field
from torch import nn

from amala.core.formulation import ROOM_TEMPERATURE_K, Formulation
from amala.core.plugins import Float, Int
from amala.core.representations import Representation
from amala.models.descriptors import DescriptorScaler
from amala.models.formulation_forest import FormulationForest, mixture
from amala.models.formulation_graph import GraphArrhenius
from amala.models.molecular_graph import GraphBank
from amala.models.protocol import Surrogate, one_condition
from amala.models.readouts import LN10_KB, ArrheniusHead, arrhenius_log10
from amala.models.registry import SurrogateSpec

GAUSSIAN_1SIGMA = 0.6827  # share of a Gaussian within ±1 std


class FormulationEnsembleSpec(SurrogateSpec):
    kind: Literal["formulation_ensemble"] = "formulation_ensemble"
    members: Int = Field(5, ge=2, le=64, description="networks in the ensemble (each trained every iteration)")
    max_epochs: Int = Field(60, ge=1, le=2000, description="upper bound; each member stops early on its "
                            "out-of-bag polymers")
    patience: Int = Field(8, ge=1, le=200, description="epochs without out-of-bag improvement before a member stops")
    hidden: Int = Field(256, ge=8, le=4096, description="width of the two hidden layers")
    dropout: Float = Field(0.3, ge=0, lt=1)
    weight_decay: Float = Field(1e-3, ge=0, le=1.0, description="AdamW weight decay")
    calibration: Literal["quantile", "rms", "none"] = Field("quantile", description="how the ensemble's std is "
                                                            "scaled on out-of-bag polymers (see _out_of_bag_scale)")
    polymer_weight: Float = Field(0.5, ge=0, le=1, description="a row of a polymer with n training rows weighs "
                                  "n^-polymer_weight in the loss (0: rows alike, 1: polymers alike)")
    forest_trees: Int = Field(300, ge=0, le=10_000, description="trees of the random forest averaged with the "
                              "networks (models.formulation_forest); 0: networks only")
    graph_members: Int = Field(0, ge=0, le=64, description="D-MPNN networks on the polymer graph joined by the "
                               "salt and conditions (models.formulation_graph), a third part of the mixture; 0: none "
                               "(3: better in cross-validation, but wild on polymers far from the training ones: "
                               "docs/benchmarks/formulation-surrogate-cv.md)")
    graph_hidden: Int = Field(200, ge=8, le=4096, description="width of the graph networks' message passing")
    reference_K: Float = Field(ROOM_TEMPERATURE_K, gt=0, le=2000, description="temperature (K) of predictions and "
                               "of observations without one: the objective's condition (σ at 25 °C by default)")


class ArrheniusMLP(nn.Module):
    """Formulation features -> (log10 A, Ea); descriptor blocks pass through a scaler fitted on training rows."""

    def __init__(self, n_in: int, descriptor_columns: torch.Tensor, hidden: int, dropout: float,
                 log10_a0: float, ea0_eV: float = 0.3):
        super().__init__()
        self.n_in = n_in  # the featurizer's columns; a graph column after them is the graph members'
        self.register_buffer("descriptor_columns", descriptor_columns)
        self.scaler = DescriptorScaler(len(descriptor_columns))
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout),
                                  nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.head = ArrheniusHead(hidden, hidden // 2, log10_a0, ea0_eV)

    def fit_scaler(self, x: torch.Tensor) -> "ArrheniusMLP":
        self.scaler.fit(x[:, self.descriptor_columns])
        return self

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :self.n_in].clone()
        x[:, self.descriptor_columns] = self.scaler(x[:, self.descriptor_columns])
        return x

    def parameters_at(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.inputs(x)))

    def forward(self, x: torch.Tensor, temperature_K: torch.Tensor) -> torch.Tensor:
        p = self.parameters_at(x)
        return arrhenius_log10(p[:, 0], p[:, 1], temperature_K)


def polymer_groups(X: torch.Tensor, polymer_columns: slice) -> np.ndarray:
    """Per row, an integer naming its polymer (rows whose polymer features are identical)."""
    _, groups = np.unique(X[:, polymer_columns].numpy(), axis=0, return_inverse=True)
    return groups.reshape(-1)


def distinct_rows(x: torch.Tensor, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The distinct rows of x and, per row of x, the index of its distinct row (None: nothing repeats).
    Rows are compared by their exact bytes (NaN made one value first), a chunk at a time: no copy of x."""
    if len(x) < 2:
        return x, None
    seen: dict[bytes, int] = {}
    inverse = np.empty(len(x), dtype=np.int64)
    for start in range(0, len(x), chunk):
        block = torch.nan_to_num(x[start:start + chunk].double(), nan=-7.0e5).numpy()
        for i, row in enumerate(block):
            inverse[start + i] = seen.setdefault(row.tobytes(), len(seen))
    if len(seen) == len(x):
        return x, None
    first = np.full(len(seen), -1, dtype=np.int64)
    first[inverse] = np.arange(len(x))  # one row of each distinct value (its copies are byte-identical)
    return x[torch.from_numpy(first)], torch.from_numpy(inverse)


def polymer_weights(groups: np.ndarray, train: np.ndarray, power: float) -> torch.Tensor:
    """Per row, n^-power where n counts its polymer's rows in `train` (repeats of a bootstrap included)."""
    counts = np.bincount(groups[train], minlength=int(groups.max()) + 1)
    return torch.as_tensor(np.maximum(counts[groups], 1) ** -float(power), dtype=torch.float32)


def arrhenius_start(y: torch.Tensor, T: torch.Tensor, train: np.ndarray, ea0_eV: float = 0.3) -> tuple[float, float]:
    """(log10 A, Ea) at which a new network starts: every formulation at the training rows' mean log10 σ."""
    return float(y[train].mean()) + ea0_eV / (LN10_KB * float(T[train].mean())), ea0_eV


def train_member(net: nn.Module, x: torch.Tensor, y: torch.Tensor, T: torch.Tensor, train: np.ndarray,
                 valid: np.ndarray, seed: int, weight_decay: float = 1e-3, max_epochs: int = 60, patience: int = 8,
                 lr: float = 1e-3, batch_size: int = 256, groups: np.ndarray | None = None,
                 polymer_weight: float = 0.0) -> tuple[nn.Module, int]:
    """Train `net` (an `ArrheniusMLP` or a `GraphArrhenius`: `fit_scaler`, and `net(x, T)` -> log10 σ) on the rows
    `train` (indices, repeats allowed), stopped early on the rows `valid` (its out-of-bag polymers; without any,
    it trains `max_epochs`). Returns it at its best epoch and that epoch.

    With `groups` (each row's polymer), a row of a polymer with n rows in `train` weighs n^-polymer_weight
    in the loss: one polymer measured 3,440 times (PEO in ChemArr) no longer outweighs a hundred others."""
    generator = torch.Generator().manual_seed(seed)
    net.fit_scaler(x[train])
    optimiser = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    train_t = torch.as_tensor(train)
    weight = torch.ones(len(x)) if groups is None else polymer_weights(groups, train, polymer_weight)
    best, best_epoch, best_state, stale = math.inf, max_epochs, None, 0
    for epoch in range(1, max_epochs + 1):
        net.train()
        order = train_t[torch.randperm(len(train_t), generator=generator)]
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            loss = nn.functional.huber_loss(net(x[rows], T[rows]), y[rows], delta=1.0, reduction="none")
            loss = (loss * weight[rows]).sum() / weight[rows].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        if len(valid) == 0:
            continue
        net.eval()
        with torch.no_grad():
            error = float((net(x[valid], T[valid]) - y[valid]).abs().mean())
        if error < best - 1e-4:
            best, best_epoch, stale = error, epoch, 0
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    return net, best_epoch


class FormulationEnsemble(Surrogate):
    """Surrogate interface (`encode`, `fit`, `predict`, `model`) over formulations."""
    name = "formulation_ensemble"
    Spec = FormulationEnsembleSpec
    representations = (Representation.FORMULATION,)
    bayesian = True  # a Gaussian view of the ensemble (the GNN's `EnsembleGaussianModel`)
    fidelities = False
    inputs = "formulations"  # FormulationFeaturizer rows (+ the polymer's graph row, see `encode`)
    temperatures = True  # a campaign passes each observation's measurement temperature (K) when it has them
    arrhenius_objective = ("conductivity", "log10", "maximize")  # the only objective the readout models

    @classmethod
    def from_spec(cls, spec: FormulationEnsembleSpec, bank, representation="formulation", seed: int = 0,
                  warm_start: dict | None = None) -> FormulationEnsemble:
        return cls(bank, members=spec.members, max_epochs=spec.max_epochs, patience=spec.patience,
                   hidden=spec.hidden, dropout=spec.dropout, weight_decay=spec.weight_decay,
                   reference_K=spec.reference_K, calibration=spec.calibration, forest_trees=spec.forest_trees,
                   polymer_weight=spec.polymer_weight, graph_members=spec.graph_members,
                   graph_hidden=spec.graph_hidden, seed=seed)

    def __init__(self, featurizer=None, members: int = 5, max_epochs: int = 60, patience: int = 8,
                 hidden: int = 256, dropout: float = 0.3, weight_decay: float = 1e-3, batch_size: int = 256,
                 reference_K: float = ROOM_TEMPERATURE_K, seed: int = 0,
                 calibration: str = "quantile", forest_trees: int = 300, polymer_weight: float = 0.5,
                 graph_members: int = 0, graph_hidden: int = 200, n_jobs: int = -1):
        if members < 2:
            raise ValueError("surrogate formulation_ensemble: needs at least 2 members for an uncertainty")
        if graph_members == 1:
            raise ValueError("surrogate formulation_ensemble: graph_members must be 0 or at least 2 "
                             "(their spread is an uncertainty)")
        if featurizer is None:
            from amala.models.formulation_features import FormulationFeaturizer  # RDKit: only when featurising

            featurizer = FormulationFeaturizer()
        self.featurizer, self.members, self.seed, self.reference_K = featurizer, members, seed, reference_K
        self.settings = dict(max_epochs=max_epochs, patience=patience, hidden=hidden, dropout=dropout,
                             weight_decay=weight_decay, batch_size=batch_size)
        if calibration not in ("quantile", "rms", "none"):
            raise ValueError(f"surrogate formulation_ensemble: calibration {calibration!r} "
                             "is not quantile, rms or none")
        self.calibration = calibration
        self.forest_trees, self.polymer_weight, self.n_jobs = forest_trees, polymer_weight, n_jobs
        self.graph_members, self.graph_hidden = graph_members, graph_hidden
        self.graphs = GraphBank()  # the polymers' graphs, addressed by the column `encode` appends
        self.forest: FormulationForest | None = None
        blocks = featurizer.blocks
        self._polymer = blocks["polymer_counts"]
        self._descriptors = torch.cat([torch.arange(blocks[b].start, blocks[b].stop)
                                       for b in ("polymer_descriptors", "salt_descriptors")])
        self.networks: list[ArrheniusMLP] = []
        self.graph_networks: list[GraphArrhenius] = []
        self.epochs_used: list[int] = []
        self.std_scale, self.graph_std_scale = 1.0, 1.0
        self.model = None
        self.n_train = 0

    @property
    def width(self) -> int:
        """Columns of an input row: the featurizer's, and the polymer's graph row when there are graph members."""
        return self.featurizer.dim + (1 if self.graph_members else 0)

    def table(self, polymers: Sequence[str], salts: Sequence[str | None], molalities: Sequence[float | None],
              mws: Sequence[float | None] | None = None) -> torch.Tensor:
        """Input rows for parallel columns (a data table): the featurizer's rows, then the graph column."""
        return self.with_graphs(self.featurizer.table(polymers, salts, molalities, mws), polymers)

    def encode(self, formulations: Sequence[str]) -> torch.Tensor:
        """Input rows for formulation strings (`polymer|salt|molality`, a campaign's representations)."""
        polymers = [Formulation.parse(text).polymer for text in formulations] if self.graph_members else []
        return self.with_graphs(self.featurizer(formulations), polymers)

    def with_graphs(self, X: torch.Tensor, polymers: Sequence[str]) -> torch.Tensor:
        """Featurizer rows -> input rows: the polymer's row in `graphs` appended (nothing without graph members)."""
        if not self.graph_members:
            return X
        return torch.cat([X, self.graphs.encode(list(polymers)).to(X.dtype)], dim=1)

    def _check_width(self, X: torch.Tensor) -> None:
        if X.shape[-1] != self.width:
            graph = (" + 1 graph column (make rows with the ensemble's encode() or table())"
                     if self.graph_members else "")
            raise ValueError(f"surrogate formulation_ensemble: rows have {X.shape[-1]} columns, expected "
                             f"{self.featurizer.dim} featurizer columns{graph}")

    def _graph_network(self, log10_a0: float, ea0: float) -> GraphArrhenius:
        blocks = self.featurizer.blocks
        side = torch.cat([torch.arange(blocks[b].start, blocks[b].stop) for b in ("salt_counts", "conditions")])
        salt = torch.arange(blocks["salt_descriptors"].start, blocks["salt_descriptors"].stop)
        return GraphArrhenius(self.graphs, self.featurizer.dim, side, salt, hidden=self.graph_hidden,
                              log10_a0=log10_a0, ea0_eV=ea0)

    def fit(self, X: torch.Tensor, y: torch.Tensor, y_var: torch.Tensor | None = None, *,
            high: torch.Tensor | None = None, temperature_K: torch.Tensor | None = None) -> "FormulationEnsemble":
        """`temperature_K`: per observation (None: all at `reference_K`). Measured variances are not used:
        experimental conductivities rarely come with one."""
        one_condition(self.name, high, None)
        self._check_width(X)
        n = len(y)
        if n < 2:
            raise ValueError(f"surrogate formulation_ensemble: needs at least 2 observations to fit, got {n}")
        x, y = X.float(), y.reshape(-1).float()
        T = torch.full((n,), self.reference_K) if temperature_K is None else temperature_K.reshape(-1).float()
        groups = polymer_groups(X, self._polymer)
        rng = np.random.default_rng(self.seed)
        n_groups = int(groups.max()) + 1
        rows_of = [np.flatnonzero(groups == g) for g in range(n_groups)]
        self.networks, self.graph_networks, self.epochs_used = [], [], []
        out_of_bag: dict[str, list[np.ndarray]] = {"networks": [], "graphs": []}
        self.n_train = n
        settings = {k: v for k, v in self.settings.items() if k not in ("hidden", "dropout")}
        for m in range(self.members + self.graph_members):
            drawn = rng.integers(0, n_groups, n_groups) if n_groups > 1 else np.zeros(1, int)
            train = np.concatenate([rows_of[g] for g in drawn])
            valid = np.concatenate([rows_of[g] for g in np.setdiff1d(np.arange(n_groups), drawn)] or [np.zeros(0, int)])
            torch.manual_seed(self.seed * 1000 + m)
            graph = m >= self.members
            log10_a0, ea0 = arrhenius_start(y, T, train)
            if graph:
                net = self._graph_network(log10_a0, ea0)
            else:
                net = ArrheniusMLP(self.featurizer.dim, self._descriptors, self.settings["hidden"],
                                   self.settings["dropout"], log10_a0, ea0)
            net, epoch = train_member(net, x, y, T, train, valid, seed=self.seed * 1000 + m, groups=groups,
                                      polymer_weight=self.polymer_weight, **settings)
            (self.graph_networks if graph else self.networks).append(net)
            self.epochs_used.append(epoch)
            out_of_bag["graphs" if graph else "networks"].append(valid)
        self.std_scale = self._out_of_bag_scale(self.networks, x, T, y, out_of_bag["networks"])
        self.graph_std_scale = self._out_of_bag_scale(self.graph_networks, x, T, y, out_of_bag["graphs"])
        self.forest = None
        if self.forest_trees:
            self.forest = FormulationForest(self.featurizer.blocks, self.forest_trees, seed=self.seed,
                                            n_jobs=self.n_jobs).fit(x, y, T)
        from amala.models.gnn_ensemble import EnsembleGaussianModel  # the same Gaussian view as the GNN's

        self.model = EnsembleGaussianModel(self)
        return self

    @torch.no_grad()
    def _out_of_bag_scale(self, networks: Sequence[nn.Module], x: torch.Tensor, T: torch.Tensor, y: torch.Tensor,
                          out_of_bag: list[np.ndarray], min_points: int = 10) -> float:
        """Factor for one kind of members' std (`networks`, each with its out-of-bag rows), from z = (y −
        out-of-bag mean) / std on rows some members never saw (their polymers were out of their bag); at
        least 1: never narrower; 1 without members or calibration (then nothing is predicted).

        "quantile" (default): 68.27% of those |z| fall within one scaled std, i.e. ±1 std covers what a
        Gaussian's does. Errors on new polymers are heavy-tailed (a few polymers are off by 3 decades), so
        "rms" (unit root mean square of z, as `GNNEnsemble` does) lets the tails widen every interval:
        on ChemArr it covered ~80% within ±1 std (docs/benchmarks/formulation-surrogate-cv.md)."""
        if self.calibration == "none" or not networks:
            return 1.0
        preds = self._predictions(networks, x, T)
        out = torch.zeros(preds.shape, dtype=torch.bool)
        for m, rows in enumerate(out_of_bag):
            out[m, torch.as_tensor(rows, dtype=torch.long)] = True
        usable = out.sum(0) >= 1
        if int(usable.sum()) < min_points:
            return 1.0
        oob_mean = (preds * out).sum(0)[usable] / out.sum(0)[usable]
        z = (y.double()[usable] - oob_mean) / preds.std(0)[usable].clamp_min(1e-9)
        if self.calibration == "rms":
            return float(max(1.0, math.sqrt(float((z ** 2).mean()))))
        return float(max(1.0, float(torch.quantile(z.abs(), GAUSSIAN_1SIGMA))))

    def _temperatures(self, n: int, temperature_K) -> torch.Tensor:
        T = torch.as_tensor(self.reference_K if temperature_K is None else temperature_K, dtype=torch.float32)
        return T.expand(n) if T.dim() == 0 else T.float()

    @staticmethod
    @torch.no_grad()
    def _predictions(networks: Sequence[nn.Module], x: torch.Tensor, T: torch.Tensor,
                     chunk: int = 8192) -> torch.Tensor:
        return torch.stack([torch.cat([net(x[s:s + chunk], T[s:s + chunk]) for s in range(0, len(x), chunk)])
                            for net in networks]).double()

    @torch.no_grad()
    def member_predictions(self, X: torch.Tensor, temperature_K: torch.Tensor | float | None = None,
                           graphs: bool = False) -> torch.Tensor:
        """(members, n) log10 σ predictions of the fingerprint networks (or, with `graphs`, of the graph
        networks) at one temperature or one per row."""
        if not self.networks:
            raise RuntimeError("surrogate formulation_ensemble: predict() before fit()")
        self._check_width(X)
        x = X.reshape(-1, X.shape[-1]).float()
        return self._predictions(self.graph_networks if graphs else self.networks, x,
                                 self._temperatures(len(x), temperature_K))

    def predict_parts(self, X: torch.Tensor, temperature_K: float | torch.Tensor | None = None
                      ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Mean and std of log10 σ (S/cm) from the fingerprint networks and the graph networks (each with its
        recalibrated std), the forest (std across trees) and their equal-weight mixture ("ensemble", what
        `predict` returns); a part the ensemble was built without (`graph_members` or `forest_trees` 0) is absent.

        At one temperature, identical rows are predicted once: BoTorch's qLogNEI asks about every candidate
        together with all training rows, so one call can repeat 200 training rows a thousand times."""
        x = X.detach().reshape(-1, X.shape[-1])
        per_row_T = temperature_K is not None and torch.as_tensor(temperature_K).dim() > 0
        inverse = None
        if not per_row_T:
            x, inverse = distinct_rows(x)
        preds = self.member_predictions(x, temperature_K)
        parts = {"networks": (preds.mean(0), self.std_scale * preds.std(0))}
        if self.graph_networks:
            preds = self.member_predictions(x, temperature_K, graphs=True)
            parts["graphs"] = (preds.mean(0), self.graph_std_scale * preds.std(0))
        if self.forest is not None:
            T = self.reference_K if temperature_K is None else torch.as_tensor(temperature_K).numpy()
            mean, std = self.forest.predict(x, T)
            parts["forest"] = (torch.from_numpy(mean), torch.from_numpy(std))
        parts["ensemble"] = mixture(*parts.values()) if len(parts) > 1 else parts["networks"]
        if inverse is not None:
            parts = {name: (mean[inverse], std[inverse]) for name, (mean, std) in parts.items()}
        return parts

    def predict(self, X: torch.Tensor, temperature_K: float | torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of log10 σ (S/cm), at `reference_K` unless told: networks and forest mixed."""
        return self.predict_parts(X, temperature_K)["ensemble"]

    @torch.no_grad()
    def arrhenius(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per formulation: mean and std over every network, fingerprint and graph, of (log10 A [log10 S/cm],
        Ea [eV]), shapes (n, 2) (the forest has no Arrhenius parameters)."""
        self._check_width(X)
        x = X.reshape(-1, X.shape[-1]).float()
        params = torch.stack([net.parameters_at(x) for net in [*self.networks, *self.graph_networks]]).double()
        return params.mean(0), params.std(0)

    def describe(self) -> dict:
        parts = ["networks"] + (["graph networks"] if self.graph_members else []) + (
            ["forest"] if self.forest_trees else [])
        return {"kind": self.name, "n_train": self.n_train, "members": self.members, **self.settings,
                "reference_K": self.reference_K,
                "epochs_used": self.epochs_used, "std_scale_out_of_bag": round(self.std_scale, 3),
                "graph_members": self.graph_members, "graph_hidden": self.graph_hidden,
                "graph_std_scale_out_of_bag": round(self.graph_std_scale, 3),
                "calibration": self.calibration, "forest_trees": self.forest_trees,
                "polymer_weight": self.polymer_weight,
                "prediction": ("mean of " + ", ".join(parts) + ", mixture std") if len(parts) > 1 else "networks",
                "bootstrap": "polymers", "features": self.featurizer.describe(),
                "graphs": "D-MPNN on the polymer's repeat unit, joined by salt and conditions" if self.graph_members
                else None,
                "readout": "Arrhenius (log10 A, Ea)"}
