"""Seeds of the campaign's random streams, derived in one place from (campaign seed, iteration, role).

Agents (`ProposalContext.rng`) and the loop (acquisition, surrogate fits) both need a stream per
step that is reproducible and independent of the others. The role name is hashed with CRC-32 and
the three numbers are mixed by numpy's `SeedSequence`: the character-code sum used before gave
anagrams ("mutation" vs any reordering of its letters) and many unrelated names the same stream,
and a linear mix of the three numbers let (seed, iteration) pairs collide.
"""

from __future__ import annotations

import zlib

import numpy as np


def seed_sequence(seed: int, iteration: int, role: str) -> np.random.SeedSequence:
    """The entropy of one step's stream; `np.random.default_rng` takes it directly."""
    return np.random.SeedSequence([int(seed), int(iteration), zlib.crc32(role.encode("utf-8"))])


def derived_seed(seed: int, iteration: int, role: str) -> int:
    """The same step's seed as one integer in [0, 2^31 - 1), for libraries that take an int (torch, BoTorch)."""
    return int(seed_sequence(seed, iteration, role).generate_state(1, dtype=np.uint32)[0]) % (2**31 - 1)


def rng(seed: int, iteration: int, role: str) -> np.random.Generator:
    """A numpy generator for the step."""
    return np.random.default_rng(seed_sequence(seed, iteration, role))
