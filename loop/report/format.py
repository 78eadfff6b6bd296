"""How the report writes numbers, glasses and molecules: plain-text formatting, and the few HTML
fragments the template uses as filters (a candidate cell, an event message).

Kept apart from the data and the template so every table cell of every section formats one kind of
thing the same way, and so a test can check the formatting without building a report.
"""

from __future__ import annotations

import math
import re

from markupsafe import Markup, escape

from amala.core.composition import InvalidComposition, parse_composition
from amala.core.representations import Representation


def format_composition(text: str, digits: int = 2) -> str:
    """'Al2O3:0.100000;Li2O:0.250000' -> '0.10 Al2O3 · 0.25 Li2O': how a person writes a glass.

    The stored canonical spelling stays the identity (and is shown on hover); this is display only.
    Text that is not a composition comes back unchanged."""
    try:
        fractions = parse_composition(text)
    except InvalidComposition:
        return text
    return " · ".join(f"{x:.{digits}f} {oxide}" for oxide, x in fractions.items())


def candidate_label(representation: str, kind: str) -> str:
    """The plain-text name of a candidate: a formatted composition, or the SMILES as stored."""
    return format_composition(representation) if kind == Representation.COMPOSITION else representation


def candidate_html(representation: str, kind: str) -> Markup:
    """A candidate in a table cell: a readable glass (stored spelling on hover) or the SMILES as code."""
    label = escape(candidate_label(representation, kind))
    if kind == Representation.COMPOSITION:
        return Markup('<span class="comp" title="{}">{}</span>').format(representation, label)
    return Markup("<code>{}</code>").format(label)


def format_number(value: float | None, unit: str | None = None, digits: int = 3) -> str:
    """A value for a table cell: counts (dimensionless whole numbers) without decimals, very small
    or large numbers in scientific notation, the rest with `digits` decimals; missing as '—'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if (isinstance(value, int) or unit == "1") and float(value).is_integer():
        return str(int(value))
    return f"{value:.{digits}g}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.{digits}f}"


def format_measurement(m: dict) -> str:
    """A stored measurement {value, unit, std} as 'value ± std' (no '±' when the source gave none)."""
    text = format_number(m["value"], m.get("unit"))
    return text + (f" ± {format_number(m['std'], m.get('unit'))}" if m.get("std") else "")


def format_prediction(mean: float | None, std: float | None) -> str:
    return "—" if mean is None else f"{mean:.3f} ± {std:.3f}"


def format_acquisition(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


_CANONICAL_COMPOSITION = re.compile(r"[A-Z][A-Za-z0-9]*:\d\.\d{6}(?:;[A-Z][A-Za-z0-9]*:\d\.\d{6})*")


def readable(message: str) -> str:
    """An event message with any stored composition spelling written as a person would."""
    return _CANONICAL_COMPOSITION.sub(lambda m: format_composition(m.group(0)), message)
