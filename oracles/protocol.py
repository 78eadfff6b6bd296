"""The oracle interface: what every oracle declares, so the campaign and the flow never probe it.

`mode` says how an oracle wants its work handed over. `per_candidate`: one candidate per call, so
the flow runs each as its own task on the configured executor (simulations side by side, and a
crashing engine loses one candidate). `per_batch`: the whole batch in one call in the run's own
process (the file queue writes one request file and waits once; external and long-running
oracles submit and later collect that way). `drain_notes` hands over what an oracle has to say
besides results (requests written, inbox rows rejected) for the campaign's event log; oracles
with nothing to say inherit the empty default by subclassing `Oracle`.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Protocol, Sequence

from amala.core.candidate import Candidate
from amala.core.evaluation import Evaluation

OracleMode = Literal["per_candidate", "per_batch"]


class Oracle(Protocol):
    name: str
    fidelity: str
    units: dict[str, str]  # property -> unit of what `evaluate` returns
    mode: ClassVar[OracleMode]  # set explicitly by every oracle class
    # False when two evaluations must not share a process (an engine with process-wide state, as
    # LAMMPS): the config then refuses execution.task_runner threads with more than one worker
    thread_safe: ClassVar[bool] = True
    # True when the oracle should be asked only for the objective unless the config lists more
    # properties (an external lab measures what it is asked for; a table or a simulation gives all)
    asks_for_objective_only: ClassVar[bool] = False

    # An oracle that answers from (or learns from) the campaign's table says which properties it can
    # give from a table, `offered(table) -> {property: unit}`, so a config asking for others is refused
    # before anything runs (`amala.loop.preflight`); None: it builds no such list.
    offered: ClassVar = None

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]: ...

    def drain_notes(self) -> list[tuple[str, str]]:
        """(level, message) pairs said since the last call, each handed over once."""
        return []
