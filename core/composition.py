"""Glass compositions as candidates: mole fractions of oxide components in one canonical spelling.

"Li2O:0.333333;SiO2:0.666667" - components sorted by name, fractions normalised to sum to 1 and
written to 6 decimals - so the same glass proposed twice has the same candidate id.

Written compositions (a person's `--add`, an LLM's answer) are read strictly, because a lenient
reader silently turns a typo into a different glass:

* each item is `NAME:NUMBER`, NAME an oxide formula (ASCII letters and digits, starting with a
  capital), NUMBER a plain decimal (`0.3`, `.3`, `1e-1`): no `_` digit separators (Python's
  float reads `1_0` as 10), no signs, no nan/inf; a component named twice is refused;
* either all numbers are whole numbers written without a decimal point - a *ratio* of formula units,
  `Li2O:1;SiO2:2` is one Li2O to two SiO2 - or they are mole fractions, which must already sum to
  1 within `SUM_TOLERANCE` (plus the rounding of six-decimal fractions). Fractions that do not sum
  to 1 are refused rather than renormalised: `Li2O:0.3;SiO2:0.6` is more likely a typo than a wish
  for Li2O:0.333.
"""

from __future__ import annotations

import math
import re

from ase.data import chemical_symbols

DIGITS = 6
SUM_TOLERANCE = 1e-6
_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,19}")
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]{1,3})?")
_WHOLE = re.compile(r"[0-9]+")
MAX_COMPONENTS = 20
# cations that build the glass network (rather than modify it); the composition GP's connectivity
# descriptor and the MD oracle's network-mobility check both count these
NETWORK_FORMERS = ("Si", "P", "Al", "B", "Ti")


class InvalidComposition(ValueError):
    """A composition that cannot be a glass candidate; the message says why in one line."""


ELEMENTS = frozenset(chemical_symbols[1:])  # the periodic table (ASE's, Z = 1..118): components are made of these
_ELEMENT_COUNT = re.compile(r"([A-Z][a-z]?)([0-9]*)")


def component_elements(name: str) -> dict[str, int]:
    """Atoms per formula unit of a component name ("Li2S" -> {"Li": 2, "S": 1}): element symbols of the
    periodic table, each followed by an optional count, nothing else. A name that is not such a formula
    ("Unobtanium", "Li2S_a", "SiO0", "Qz") raises `InvalidComposition` naming it, so a typo in a campaign's
    component list is refused when the config is read instead of reaching a simulation or a lab."""
    shown = _shown(name)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidComposition(f"component {shown}: not a chemical formula (e.g. Li2O, P2S5, LiI)")
    counts: dict[str, int] = {}
    at = 0
    for match in _ELEMENT_COUNT.finditer(name):
        symbol, number = match.groups()
        if match.start() != at or symbol not in ELEMENTS or number.startswith("0"):
            break
        counts[symbol] = counts.get(symbol, 0) + int(number or 1)
        at = match.end()
    if at != len(name) or not counts:
        raise InvalidComposition(f"component {shown}: not a chemical formula of real elements (element symbols, "
                                 "each with an optional count: e.g. Li2O, P2S5, LiI)")
    return counts


def canonical_composition(fractions: dict[str, float]) -> str:
    """Canonical spelling of amounts (fractions or ratios, normalised here) from code that built
    them itself (the Sobol sampler, a simulated cell); text from outside goes through `read_composition`."""
    if not fractions:
        raise InvalidComposition("empty composition")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0
           for v in fractions.values()):
        raise InvalidComposition(f"mole fractions must be finite non-negative numbers: {fractions}")
    total = sum(fractions.values())
    if total <= 0:
        raise InvalidComposition(f"mole fractions sum to {total}")
    parts = {k: round(v / total, DIGITS) for k, v in fractions.items() if round(v / total, DIGITS) > 0}
    return ";".join(f"{k}:{v:.{DIGITS}f}" for k, v in sorted(parts.items()))


def read_composition(text: str) -> dict[str, float]:
    """Amounts of a written composition, strictly (see the module docstring): mole fractions that
    sum to 1, or whole-number ratios; `InvalidComposition` names the text and the problem."""
    shown = _shown(text)
    items = _items(text, shown)
    fractions: dict[str, float] = {}
    for name, number in items:
        if name in fractions:
            raise InvalidComposition(f"composition {shown}: {name} is given twice")
        fractions[name] = float(number)
    total = sum(fractions.values())
    if total <= 0:
        raise InvalidComposition(f"composition {shown}: amounts sum to {total:g}")
    if all(_WHOLE.fullmatch(number) for _, number in items):
        return fractions  # a ratio of formula units, e.g. Li2O:1;SiO2:2
    if abs(total - 1) > SUM_TOLERANCE + len(items) * 0.5 * 10 ** -DIGITS:
        raise InvalidComposition(f"composition {shown}: mole fractions sum to {total:.6g}, not 1 (write whole-"
                                 "number ratios such as Li2O:1;SiO2:2, or fractions summing to 1)")
    return fractions


def _items(text: str, shown: str) -> list[tuple[str, str]]:
    if not isinstance(text, str) or not text.strip():
        raise InvalidComposition(f"empty composition {shown}")
    items = [item.strip() for item in text.strip().split(";")]
    if items and items[-1] == "":
        items.pop()  # one trailing ';' is harmless
    if not items or len(items) > MAX_COMPONENTS:
        raise InvalidComposition(f"composition {shown}: {len(items)} components (1 to {MAX_COMPONENTS})")
    out = []
    for item in items:
        name, sep, number = (part.strip() for part in item.partition(":"))
        if not sep or not _NAME.fullmatch(name) or not _NUMBER.fullmatch(number):
            raise InvalidComposition(f"composition {shown}: cannot read {_shown(item)} (expected NAME:FRACTION "
                                     "items separated by ';', e.g. 'Li2O:0.33;SiO2:0.67')")
        out.append((name, number))
    return out


def _shown(text) -> str:
    if not isinstance(text, str):
        return type(text).__name__
    return repr(text if len(text) <= 80 else text[:77] + "...")


def parse_composition(text: str) -> dict[str, float]:
    """Mole fractions of a canonical (or any strictly written) composition; a ratio is normalised."""
    fractions = read_composition(text)
    total = sum(fractions.values())
    if abs(total - 1) <= 1e-4:  # fractions as written (a canonical spelling sums to 1 within its rounding)
        return fractions
    return {name: value / total for name, value in fractions.items()}


def composition_within(text: str, bounds: dict[str, tuple[float, float]]) -> str:
    """A person's or a model's composition ('Li2O:1;SiO2:2' or fractions) as the canonical
    spelling, checked against the campaign's bounds; `InvalidComposition` says what is wrong."""
    fractions = read_composition(text)
    unknown = sorted(set(fractions) - set(bounds))
    if unknown:
        raise InvalidComposition(f"composition {_shown(text)}: {unknown} not among this campaign's components "
                                 f"{sorted(bounds)}")
    canonical = canonical_composition(fractions)
    normalised = parse_composition(canonical)
    for name, (lo, hi) in bounds.items():
        x = normalised.get(name, 0.0)
        if not lo - 1e-6 <= x <= hi + 1e-6:
            raise InvalidComposition(f"composition {_shown(text)}: {name} = {x:.3f} is outside its bounds "
                                     f"[{lo}, {hi}]")
    return canonical
