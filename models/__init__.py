"""Surrogate models and featurizers. Every surrogate exposes a BoTorch `Model` view where it can,
so acquisition code never needs to know which model it is talking to.

Importing this package loads neither RDKit nor pandas: `MorganFeaturizer` (RDKit) is imported on
first use, so the GNN (`amala.models.gnn_ensemble`) trains on prepared graphs where RDKit is missing.
"""

from amala.models.registry import Surrogate, build_featurizer, build_surrogate

__all__ = ["MorganFeaturizer", "Surrogate", "build_featurizer", "build_surrogate"]


def __getattr__(name: str):
    if name == "MorganFeaturizer":
        from amala.models.featurizer import MorganFeaturizer

        return MorganFeaturizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
