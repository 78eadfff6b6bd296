"""The oracle interface: what every oracle declares, so the campaign and the flow never probe it.

`mode` says how an oracle wants its work handed over. `per_candidate`: one candidate per call, so
the flow runs each as its own task on the configured executor (simulations side by side, and a
crashing engine loses one candidate). `per_batch`: the whole batch in one call in the run's own
process (the file queue writes one request file and waits once; external and long-running
oracles submit and later collect that way). `drain_notes` hands over what an oracle has to say
besides results (requests written, inbox rows rejected) for the campaign's event log; oracles
with nothing to say inherit the empty default by subclassing `Oracle`.

`Oracle` also declares what the config and the checks before a run read off an oracle's class: its
settings model (`Spec`), its constructor (`from_spec`), the representations it evaluates and its
capabilities, each with the default an oracle class inherits when it does not declare it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal, Protocol, Sequence

from amala.core.candidate import Candidate
from amala.core.evaluation import Evaluation
from amala.core.representations import Representation

if TYPE_CHECKING:
    from amala.oracles.registry import OracleSpec

OracleMode = Literal["per_candidate", "per_batch"]


class Oracle(Protocol):
    name: str
    fidelity: str
    units: dict[str, str]  # property -> unit of what `evaluate` returns
    Spec: ClassVar[type[OracleSpec]]  # its settings: `kind: Literal["..."]` and its own fields
    representations: ClassVar[tuple[Representation, ...]]  # what it can evaluate
    mode: ClassVar[OracleMode]  # set explicitly by every oracle class
    # True when it answers from, or learns from, the campaign's table: a config without data is refused
    needs_dataset: ClassVar[bool] = False
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
    # True when its results are columns of the campaign's table (read, or learned from it): a log10
    # objective over a column with values <= 0 is refused before a run (`amala.loop.preflight`)
    gives_table_columns: ClassVar[bool] = False
    # True when it trains and runs an interatomic potential on this machine: its settings name a
    # `device`, a `teacher` and a `potential_folder`, which are checked before a run (`amala.loop.preflight`)
    trains_potential: ClassVar[bool] = False
    # True when each evaluation is a simulation (minutes to hours): `amala run` then prints how long the
    # budget should take, from `expected_seconds` or, once it has some, the campaign's measured costs
    simulates: ClassVar[bool] = False

    @classmethod
    def expected_seconds(cls, spec: OracleSpec) -> float | None:
        """Typical wall time of one evaluation on one idle core with these settings; None: not known
        before the campaign has measured some (a potential that must still learn)."""
        return None

    @classmethod
    def from_spec(cls, spec: OracleSpec, table=None, workdir=None, seed: int = 0) -> "Oracle":
        """The oracle a config describes; `table`: the campaign's dataset (None without data)."""
        ...

    def evaluate(self, candidates: Sequence[Candidate]) -> list[Evaluation]: ...

    def drain_notes(self) -> list[tuple[str, str]]:
        """(level, message) pairs said since the last call, each handed over once."""
        return []
