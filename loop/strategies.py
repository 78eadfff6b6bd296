"""The acquisition strategies' names, defined once.

The config's allowed values, the acquisition code's dispatch and the benchmark's list all read
these, so a new strategy is added here and nowhere can silently lag behind. Kept apart from
`acquisition` so that validating a config does not import BoTorch.

Single-objective strategies choose by one objective; the multi-objective ones (`MULTI_OBJECTIVE`)
by several at once (`amala.loop.multi_objective`); `random` serves both.
"""

from __future__ import annotations

from typing import Literal, get_args

Strategy = Literal["qlognei", "qucb", "thompson", "greedy", "random", "qlognehvi", "qlognparego", "greedy_parego"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
# need a posterior (a BoTorch model), not just a mean
BAYESIAN = ("qlognei", "qucb", "thompson", "qlognehvi", "qlognparego")
NON_BAYESIAN = tuple(s for s in STRATEGIES if s not in BAYESIAN)  # work with any surrogate's mean
MULTI_OBJECTIVE = ("qlognehvi", "qlognparego", "greedy_parego")  # need two objectives or more
SINGLE_OBJECTIVE = tuple(s for s in STRATEGIES if s not in MULTI_OBJECTIVE and s != "random")
CONSTRAINED = ("qlognei", "qlognehvi", "qlognparego", "greedy_parego", "random")  # take outcome constraints
DEFAULT_MULTI_OBJECTIVE = "qlognehvi"
