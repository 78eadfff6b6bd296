"""The acquisition strategies' names, defined once.

The config's allowed values, the acquisition code's dispatch and the benchmark's list all read
these, so a new strategy is added here and nowhere can silently lag behind. Kept apart from
`acquisition` so that validating a config does not import BoTorch.
"""

from __future__ import annotations

from typing import Literal, get_args

Strategy = Literal["qlognei", "qucb", "thompson", "greedy", "random"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
BAYESIAN = ("qlognei", "qucb", "thompson")  # need a posterior (a BoTorch model), not just a mean
NON_BAYESIAN = tuple(s for s in STRATEGIES if s not in BAYESIAN)  # work with any surrogate's mean
