"""What a candidate is written as: the three representations a campaign can work on, in one place.

A campaign's `representation` (its config), a candidate's `kind` and a plug-in's `representations`
all name one of these. The type is a `str` enum, so a member equals its plain string: configs,
stored candidates and third-party plug-ins that write "smiles" keep working unchanged.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal


class Representation(str, Enum):
    SMILES = "smiles"  # a polymer's repeat unit, SMILES with [Cu] and [Au] end markers
    COMPOSITION = "composition"  # an oxide glass, component:mole-fraction pairs
    FORMULATION = "formulation"  # polymer|salt|molality (`amala.core.formulation`)

    def __str__(self) -> str:
        """The plain name, in f-strings and messages as in configs (the same on Python 3.10 and 3.11+)."""
        return self.value


# The config's `representation` setting: the members' values (a test checks the two agree).
RepresentationName = Literal["smiles", "composition", "formulation"]


def pool_column(representation: str) -> str:
    """The table column that holds a campaign's candidates (its pool, and a benchmark's top set)."""
    return {Representation.FORMULATION: "formulation", Representation.COMPOSITION: "composition"}.get(
        representation, "smiles")
