"""Glass compositions as candidates: mole fractions of oxide components in one canonical spelling.

"Li2O:0.333333;SiO2:0.666667" - components sorted by name, fractions normalised to sum to 1 and
written to 6 decimals - so the same glass proposed twice has the same candidate id.
"""

from __future__ import annotations

DIGITS = 6


class InvalidComposition(ValueError):
    """A composition that cannot be a glass candidate; the message says why in one line."""


def canonical_composition(fractions: dict[str, float]) -> str:
    if not fractions:
        raise InvalidComposition("empty composition")
    if any(not isinstance(v, (int, float)) or v < 0 for v in fractions.values()):
        raise InvalidComposition(f"mole fractions must be non-negative numbers: {fractions}")
    total = sum(fractions.values())
    if total <= 0:
        raise InvalidComposition(f"mole fractions sum to {total}")
    parts = {k: round(v / total, DIGITS) for k, v in fractions.items() if round(v / total, DIGITS) > 0}
    return ";".join(f"{k}:{v:.{DIGITS}f}" for k, v in sorted(parts.items()))


def parse_composition(text: str) -> dict[str, float]:
    try:
        pairs = [item.split(":") for item in text.split(";") if item]
        fractions = {name.strip(): float(value) for name, value in pairs}
    except ValueError:
        raise InvalidComposition(f"cannot read composition {text!r} (expected 'Li2O:0.33;SiO2:0.67')") from None
    if abs(sum(fractions.values()) - 1) > 1e-4:
        raise InvalidComposition(f"composition {text!r}: fractions sum to {sum(fractions.values()):.6f}, not 1")
    return fractions


def composition_within(text: str, bounds: dict[str, tuple[float, float]]) -> str:
    """A person's or a model's composition ('Li2O:1;SiO2:2' or fractions) as the canonical
    spelling, checked against the campaign's bounds; `InvalidComposition` says what is wrong."""
    try:
        pairs = [item.split(":") for item in text.split(";") if item.strip()]
        fractions = {name.strip(): float(value) for name, value in pairs}
    except ValueError:
        raise InvalidComposition(f"cannot read composition {text!r} (expected 'Li2O:0.33;SiO2:0.67')") from None
    unknown = sorted(set(fractions) - set(bounds))
    if unknown:
        raise InvalidComposition(f"composition {text!r}: {unknown} not among this campaign's components "
                                 f"{sorted(bounds)}")
    canonical = canonical_composition(fractions)
    normalised = {name: float(v) for name, v in (item.split(":") for item in canonical.split(";"))}
    for name, (lo, hi) in bounds.items():
        x = normalised.get(name, 0.0)
        if not lo - 1e-6 <= x <= hi + 1e-6:
            raise InvalidComposition(f"composition {text!r}: {name} = {x:.3f} is outside its bounds [{lo}, {hi}]")
    return canonical
