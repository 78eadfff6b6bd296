"""Surrogate models and featurizers. Every surrogate exposes a BoTorch `Model` view where it can,
so acquisition code never needs to know which model it is talking to."""

from amala.models.featurizer import MorganFeaturizer
from amala.models.registry import Surrogate, build_featurizer, build_surrogate

__all__ = ["MorganFeaturizer", "Surrogate", "build_featurizer", "build_surrogate"]
