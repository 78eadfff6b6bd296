"""How the campaign's machine-learned potential grew: teacher calls per candidate, in learned order.

The MLIP oracle keeps one potential per chemical system and extends it with teacher labels only
where its committee is uncertain (or, from a shipped student, where the teacher's spot checks find it
wrong), so later candidates should cost fewer teacher calls than early ones. Each evaluation it makes
(ok or failed) says what it cost in `provenance["potential"]` (system, committee version, teacher,
teacher calls, labels before/after, uncertain fraction of the exploration frames, its place `order`
among the candidates the system's potential learned, and a shipped student's spot-check error).
This module reads those records back from the store as plain rows for the report, and compares the
teacher calls of a system's first candidates with its last ones (the aim: the last three
need at most 30% of the first three's). Failed candidates count: their teacher calls were spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

N_COMPARED = 3  # first / last candidates compared
BAR = 0.30  # the last N_COMPARED may need at most this share of the first N_COMPARED's teacher calls


@dataclass(frozen=True)
class LearnedCandidate:
    """One evaluation that used (and perhaps extended) the system's potential."""

    representation: str
    kind: str
    system: str
    position: int  # place among the system's candidates: `order` when recorded, else the stored order
    teacher_calls: int | None  # teacher calls this candidate cost (0: the potential already knew it)
    labels_after: int | None  # labels of the system's potential after this candidate
    uncertain_fraction: float | None  # share of its exploration frames the committee did not trust
    version: str  # the committee its MD used
    teacher: str
    status: str  # ok | failed
    spot_check_meV_A: float | None = None  # a shipped student's measured force error (teacher spot checks)
    spot_check_interval_meV_A: tuple[float, float] | None = None  # its 95% interval
    card_meV_A: float | None = None  # the shipped card's held-out error for the glass's family


@dataclass(frozen=True)
class CallsComparison:
    """Teacher calls of a system's first `n` learned candidates against its last `n`."""

    system: str
    n: int  # candidates in each group (N_COMPARED, fewer when the system has under 2 * N_COMPARED)
    n_candidates: int
    first_calls: int
    last_calls: int

    @property
    def ratio(self) -> float | None:
        """last / first; None when the first candidates needed no teacher call."""
        return self.last_calls / self.first_calls if self.first_calls else None

    @property
    def meets_bar(self) -> bool | None:
        """Whether the last candidates needed at most BAR of the first ones' calls (None: not comparable)."""
        return None if self.ratio is None or self.n < N_COMPARED else self.ratio <= BAR

    def sentence(self) -> str:
        """The comparison in one sentence, every number computed from the rows."""
        if self.n == 0:
            counted = f"{self.n_candidates} candidate{'' if self.n_candidates == 1 else 's'}"
            return f"{self.system}: {counted} with teacher calls so far, too few to compare first with last."
        groups = "three" if self.n == N_COMPARED else str(self.n)
        text = (f"{self.system}: the first {groups} candidates the potential learned cost {self.first_calls} teacher "
                f"calls, the last {groups} {self.last_calls}")
        if self.ratio is None:
            return text + " (the first ones needed no teacher call, so there is no share to give)."
        text += f" ({self.ratio:.0%} of the first {groups}'s"
        if self.meets_bar is None:
            return text + (f"; the aim, ≤ {BAR:.0%}, compares three with three: not yet possible with "
                           f"{self.n_candidates} candidates).")
        return text + f"; the aim, ≤ {BAR:.0%}, is {'met' if self.meets_bar else 'not met'})."


@dataclass(frozen=True)
class PotentialGrowth:
    """The rows of the report's "Machine-learned potential" section and its comparisons per system."""

    rows: list[LearnedCandidate]  # by system (in order of first appearance), then learned order
    comparisons: list[CallsComparison]

    @property
    def systems(self) -> list[str]:
        return list(dict.fromkeys(row.system for row in self.rows))


def _number(record: dict, name: str, kind: type):
    value = record.get(name)
    try:
        return None if value is None or isinstance(value, bool) else kind(value)
    except (TypeError, ValueError):
        return None  # a damaged record shows as '—' rather than stopping the whole report


def learned_candidates(evaluations: Iterable[tuple]) -> list[LearnedCandidate]:
    """The (candidate, evaluation) rows of the store that carry `provenance["potential"]`, by system
    (in order of first appearance), then by `order`, then by stored order (the fallback when a
    record has no `order`)."""
    found = []
    for stored, (candidate, evaluation) in enumerate(evaluations):
        record = (evaluation.provenance or {}).get("potential")
        if isinstance(record, dict):
            found.append((stored, candidate, evaluation, record))
    systems = {}
    for _, _, _, record in found:
        systems.setdefault(str(record.get("system") or "?"), len(systems))
    rows, seen = [], {}
    ordered = sorted(found, key=lambda f: (systems[str(f[3].get("system") or "?")],
                                           _number(f[3], "order", int) is None, _number(f[3], "order", int) or 0, f[0]))
    for _, candidate, evaluation, record in ordered:
        system = str(record.get("system") or "?")
        order = _number(record, "order", int)
        position = order if order is not None else seen.get(system, 0)
        seen[system] = seen.get(system, 0) + 1
        rows.append(LearnedCandidate(
            candidate.representation, candidate.kind, system, position, _number(record, "teacher_calls", int),
            _number(record, "labels_after", int), _number(record, "uncertain_fraction", float),
            str(record.get("version") or "—"), str(record.get("teacher") or "—"), evaluation.status,
            _milli(record.get("spot_check_force_mae_eV_A")), _interval(record.get("spot_check_interval_eV_A")),
            _milli(record.get("card_force_mae_eV_A"))))
    return rows


def _milli(value) -> float | None:
    """eV/Å -> meV/Å; None for a missing or damaged value."""
    return None if not isinstance(value, (int, float)) or isinstance(value, bool) else 1000 * float(value)


def _interval(value) -> tuple[float, float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    low, high = _milli(value[0]), _milli(value[1])
    return None if low is None or high is None else (low, high)


def compare_first_last(rows: list[LearnedCandidate], n: int = N_COMPARED) -> list[CallsComparison]:
    """Per system, the teacher calls of the first `n` learned candidates against the last `n` (fewer
    when the system has under 2n, so the groups never overlap). Rows without a call count are left out."""
    comparisons = []
    for system in dict.fromkeys(row.system for row in rows):
        calls = [row.teacher_calls for row in rows if row.system == system and row.teacher_calls is not None]
        k = min(n, len(calls) // 2)
        comparisons.append(CallsComparison(system, k, len(calls), sum(calls[:k]), sum(calls[len(calls) - k:])))
    return comparisons


def potential_growth(evaluations: Iterable[tuple]) -> PotentialGrowth | None:
    """The section's data from `Store.evaluations(campaign_id)`; None when no evaluation used a potential."""
    rows = learned_candidates(evaluations)
    return PotentialGrowth(rows, compare_first_last(rows)) if rows else None
