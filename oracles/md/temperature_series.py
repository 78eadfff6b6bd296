"""Values measured at each temperature of a series (σ(T), D_Li(T), network MSD(T)).

Such a value carries its temperature as a condition (`Measurement.temperature_K`), so a reader
selects a series by quantity and reads T from the value, not from its name. The name it is stored
under (`key`, e.g. "conductivity_900K") only has to be unique within an evaluation. Evaluations
stored before the condition existed have the name alone; `points` and `is_per_temperature` still
read those, through the one pattern below, so old databases keep their Arrhenius plots.
"""

from __future__ import annotations

import re

QUANTITIES = ("conductivity", "d_li", "network_msd")  # the MD oracle's series
_LEGACY = re.compile(r"^(conductivity|d_li|network_msd)_(\d+(?:\.\d+)?)K$")  # names stored without a condition
_SUMMARY = {"conductivity_300K"}  # an extrapolated summary value whose name looks like a series point


def key(quantity: str, temperature_K: float) -> str:
    """The name a series point is stored under."""
    return f"{quantity}_{temperature_K:g}K"


def _temperature(name: str, stored: dict, quantity: str | None) -> float | None:
    """T of a stored point of `quantity` (any series quantity when None), else None."""
    T = stored.get("temperature_K")
    if T is not None:
        wanted = [quantity] if quantity else QUANTITIES
        return float(T) if any(name == key(q, T) for q in wanted) else None
    match = _LEGACY.match(name)
    if match is None or name in _SUMMARY or (quantity and match.group(1) != quantity):
        return None
    return float(match.group(2))


def is_per_temperature(name: str, stored: dict) -> bool:
    """A point of a series (shown in figures), not a summary number (shown in tables)."""
    return _temperature(name, stored, None) is not None


def points(values: dict[str, dict], quantity: str) -> list[tuple[float, dict]]:
    """(T, stored value) of one quantity's series in an evaluation's stored values, coolest first."""
    found = [(T, v) for name, v in values.items() if (T := _temperature(name, v, quantity)) is not None]
    return sorted(found, key=lambda point: point[0])
