"""A polymer-electrolyte formulation: a polymer repeat unit, a lithium salt and the salt's molality.

Experimental conductivities (ChemArr, Bradford et al. 2023) belong to a formulation, not to a
polymer: the same polymer with LiTFSI at 1 mol/kg and with LiClO4 at 0.3 mol/kg are two materials.
A campaign over formulations therefore needs one canonical spelling of the triple, used as
`Candidate.representation` (kind "formulation") so that the same formulation proposed twice, or
spelled two ways, has one id:

    polymer|salt|molality    e.g. [Cu][CH2]C[O][Au]|O=S(=O)([N-]S(=O)(=O)C(F)(F)F)C(F)(F)F.[Li+]|1
                             (PEO with LiTFSI at 1 mol/kg; RDKit >= 2026 brackets atoms next to a marker)

* polymer: the project's canonical repeat unit (`amala.core.polymer.canonical_smiles`, [Cu]/[Au]
  ends; ChemArr writes its ends the same way). Two `*` ends are accepted and become [Cu] then [Au]
  in writing order (the project keeps a repeat unit's direction: `*CCO*` is [Cu]CCO[Au], `*OCC*` not).
* salt: RDKit canonical SMILES of each ion, sorted and joined by '.'. A salt is refused unless it
  parses, has at least two fragments, every fragment is an ion, the charges balance, one ion is
  Li+ (the campaigns are lithium electrolytes; Na, Mg, ... salts are refused, not guessed at), and no
  atom has an unpaired electron (a radical anion such as superoxide is not a stable salt; radical
  polymers are refused for the same reason). `salt_name` gives the common name (LiTFSI, ...) of the
  salts in `SALT_NAMES`.
* molality: salt per polymer mass in mol/kg, MIN_MOLALITY <= m < MAX_MOLALITY, written with 4
  significant digits and stored rounded to them (what prints the same is the same formulation); the
  bounds apply to that rounded value, so a formulation is accepted or refused the same way whichever
  way it is written. Text must be plain ASCII decimal or scientific notation (Python's float() would
  also read '1_0' as 10 and Arabic-Indic or fullwidth digits). Blank when the source does not report it
  (never silently 0: a model must see that it is unknown); 0 is refused.

The temperature is not part of a formulation: it is a condition of the measurement or of the
objective (`closest_to`).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike

import numpy as np
import pandas as pd
from rdkit import Chem

from amala.core.polymer import InvalidPolymer, canonical_smiles
from amala.core.representations import Representation

KIND = Representation.FORMULATION  # a formulation candidate's `kind`
SEPARATOR = "|"
MAX_MOLALITY = 20.0  # mol/kg: beyond ~20 mol/kg a "polymer electrolyte" is a salt with some polymer in it
# mol/kg: 1e-6 mol/kg of LiTFSI is 0.3 ppm by mass, below the ionic impurities of a polymer as made (ppm of
# catalyst and initiator residues), so the salt no longer sets the carriers and a value near it is an
# extrapolation a surrogate would rank on nothing (1e-300 mol/kg came first in a screen). ChemArr's most
# dilute measurements (1.01e-5 mol/kg, a dilution series) stay valid.
MIN_MOLALITY = 1e-6
CELSIUS_TO_K = 273.15  # K
ROOM_TEMPERATURE_K = 298.15  # K, 25 degC: the retrospective objective's condition
_TEXT = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: RDKit reads text after a space as a name
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # ASCII decimal or scientific only

log = logging.getLogger(__name__)


class InvalidFormulation(ValueError):
    """A formulation (or one of its parts) that is not valid; one line naming the input and the field.
    `reason` is short and stable, for counting refusals ("salt: no Li+")."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Formulation:
    """Canonicalised and checked on construction: equal formulations compare (and hash) equal."""

    polymer: str
    salt: str
    molality: float | None = None  # mol/kg; None when not reported

    def __post_init__(self):
        object.__setattr__(self, "polymer", canonical_polymer(self.polymer))
        object.__setattr__(self, "salt", canonical_salt(self.salt))
        object.__setattr__(self, "molality", checked_molality(self.molality))

    def __str__(self) -> str:
        molality = "" if self.molality is None else f"{self.molality:.4g}"
        return SEPARATOR.join((self.polymer, self.salt, molality))

    @classmethod
    def parse(cls, text: str) -> Formulation:
        """The inverse of `str()`; refuses text that is not `polymer|salt|molality` in one line."""
        if not isinstance(text, str):
            raise InvalidFormulation(f"formulation {text!r}: expected text 'polymer|salt|molality'", "format")
        fields = text.strip().split(SEPARATOR)
        if len(fields) != 3:
            raise InvalidFormulation(f"formulation {_shown(text)}: {len(fields)} field(s), expected 3 "
                                     f"(polymer{SEPARATOR}salt{SEPARATOR}molality; molality may be blank)", "format")
        polymer, salt, molality = fields
        value = None
        if molality.strip():
            value = _number(molality)
            if math.isnan(value):  # 'nan' is not how the string form says "unknown"
                raise InvalidFormulation(f"formulation {_shown(text)}: molality {molality!r} is not a number "
                                         "(mol/kg, or blank when unknown)", "molality: not a number")
        try:
            return cls(polymer, salt, value)
        except InvalidFormulation as exc:
            raise InvalidFormulation(f"formulation {_shown(text)}: {exc}", exc.reason) from None


def canonical_polymer(smiles: str) -> str:
    """The project's canonical repeat unit; `*` ends (two of them) are read as [Cu] then [Au]."""
    text = smiles.strip() if isinstance(smiles, str) else smiles
    if isinstance(text, str) and "*" in text and "Cu" not in text and "Au" not in text:
        stars = re.findall(r"\[\*\]|\*", text)
        if len(stars) != 2:
            raise InvalidFormulation(f"polymer {_shown(text)}: {len(stars)} '*' end(s), a repeat unit has two",
                                     "polymer: end markers")
        text = re.sub(r"\[\*\]|\*", "[Cu]", text, count=1)
        text = re.sub(r"\[\*\]|\*", "[Au]", text, count=1)
    try:
        return canonical_smiles(text)
    except InvalidPolymer as exc:
        raise InvalidFormulation(f"polymer: {exc}", f"polymer: {exc.reason}") from None


@lru_cache(maxsize=10_000)
def canonical_salt(smiles: str) -> str:
    """Canonical SMILES of a lithium salt: its ions' canonical SMILES, sorted, joined by '.'."""
    if not isinstance(smiles, str) or not smiles.strip():
        raise InvalidFormulation(f"salt {smiles!r}: empty (no salt given: a single-ion conductor or an "
                                 "unreported salt)", "salt: none")
    text = smiles.strip()
    if not _TEXT.fullmatch(text):
        raise InvalidFormulation(f"salt {_shown(text)}: not plain SMILES (printable ASCII without spaces)",
                                 "salt: bad characters")
    mol = Chem.MolFromSmiles(text)
    if mol is None:
        raise InvalidFormulation(f"salt {_shown(text)}: RDKit cannot parse or sanitise it", "salt: not a molecule")
    ions = Chem.GetMolFrags(mol, asMols=True)
    if len(ions) < 2:
        raise InvalidFormulation(f"salt {_shown(text)}: {len(ions)} fragment, a salt is a cation and an anion "
                                 "('.'-separated)", "salt: one fragment")
    charges = [Chem.GetFormalCharge(ion) for ion in ions]
    for ion, charge in zip(ions, charges):
        if charge == 0:
            raise InvalidFormulation(f"salt {_shown(text)}: fragment {Chem.MolToSmiles(ion)!r} is neutral; every "
                                     "fragment of a salt is an ion (no solvent or polymer in it)",
                                     "salt: neutral fragment")
    if sum(charges) != 0:
        raise InvalidFormulation(f"salt {_shown(text)}: net charge {sum(charges):+d}, the ions' charges must "
                                 f"balance (fragment charges {', '.join(f'{c:+d}' for c in charges)})",
                                 "salt: unbalanced charge")
    if not any(Chem.MolToSmiles(ion) == "[Li+]" for ion in ions):
        raise InvalidFormulation(f"salt {_shown(text)}: no Li+ cation; formulations are lithium electrolytes",
                                 "salt: no Li+")
    radicals = sum(atom.GetNumRadicalElectrons() for atom in mol.GetAtoms())
    if radicals:  # superoxide [O-][O] balances Li+ but is a reactive radical, not a salt one can dissolve
        raise InvalidFormulation(f"salt {_shown(text)}: {radicals} unpaired electron(s) (a radical ion); a salt's "
                                 "ions are closed-shell", "salt: radical")
    canonical = _sorted_ions(ions)
    again = Chem.MolFromSmiles(canonical)
    if again is None or _sorted_ions(Chem.GetMolFrags(again, asMols=True)) != canonical:
        raise InvalidFormulation(f"salt {_shown(text)}: its canonical SMILES does not read back as itself",
                                 "salt: not a molecule")
    return canonical


def _sorted_ions(ions) -> str:
    return ".".join(sorted(Chem.MolToSmiles(ion) for ion in ions))


# Common names of the lithium salts in ChemArr's screening table (its 8 salts), each written as its ions
# ('.'-separated, [Li+] apart) as ChemArr writes salts; they are matched by canonical SMILES, so every
# spelling of one salt gets its name. Reports show the name; files keep the SMILES (a name is ambiguous).
SALT_NAMES = {
    "LiTFSI": "[Li+].FC(F)(F)S(=O)(=O)[N-]S(=O)(=O)C(F)(F)F",  # bis(trifluoromethanesulfonyl)imide
    "LiFSI": "[Li+].O=S(=O)(F)[N-]S(=O)(=O)F",  # bis(fluorosulfonyl)imide
    "LiBETI": "[Li+].FC(F)(F)C(F)(F)S(=O)(=O)[N-]S(=O)(=O)C(F)(F)C(F)(F)F",  # bis(pentafluoroethanesulfonyl)imide
    "LiBOB": "[Li+].O=C1O[B-]2(OC1=O)OC(=O)C(=O)O2",  # bis(oxalato)borate
    "LiDFOB": "[Li+].F[B-]1(F)OC(=O)C(=O)O1",  # difluoro(oxalato)borate
    "LiPF6": "[Li+].F[P-](F)(F)(F)(F)F",
    "LiBF4": "[Li+].F[B-](F)(F)F",
    "LiClO4": "[Li+].[O-]Cl(=O)(=O)=O",
}


@lru_cache(maxsize=1)
def _salt_names() -> dict[str, str]:
    return {canonical_salt(smiles): name for name, smiles in SALT_NAMES.items()}


def salt_name(smiles: str) -> str | None:
    """The common name of a salt in `SALT_NAMES` (any spelling of it), else None (also for a non-salt)."""
    try:
        return _salt_names().get(canonical_salt(smiles))
    except InvalidFormulation:
        return None


def canonical_formulation(text: str) -> str:
    """The canonical string of a formulation written as text (the validity gate for kind "formulation")."""
    return str(Formulation.parse(text))


def checked_molality(molality) -> float | None:
    """mol/kg rounded to the 4 significant digits the string form keeps; None (or NaN) means unknown.

    The bounds are checked on the rounded value: 19.99999 prints as 20, so it is refused here rather
    than accepted now and refused when its own string form is read back."""
    if molality is None or (isinstance(molality, float) and math.isnan(molality)):
        return None
    try:
        value = _number(molality) if isinstance(molality, str) else float(molality)
    except (TypeError, ValueError):
        value = math.nan
    if math.isnan(value):
        raise InvalidFormulation(f"molality {molality!r}: not a number (mol/kg)", "molality: not a number")
    if not math.isfinite(value) or value <= 0:
        raise InvalidFormulation(f"molality {molality!r}: must be a finite number > 0 mol/kg (blank when unknown)",
                                 "molality: not > 0")
    rounded = float(f"{value:.4g}")
    kept = "" if rounded == value else " (rounded to the 4 significant digits a formulation keeps)"
    if rounded < MIN_MOLALITY:
        raise InvalidFormulation(f"molality {molality!r}: {rounded:g} mol/kg{kept} is below {MIN_MOLALITY:g} mol/kg "
                                 "(less salt than a polymer's own ionic impurities)",
                                 f"molality: < {MIN_MOLALITY:g} mol/kg")
    if rounded >= MAX_MOLALITY:
        raise InvalidFormulation(f"molality {molality!r}: {rounded:g} mol/kg{kept} is not below {MAX_MOLALITY:g} "
                                 "mol/kg", f"molality: >= {MAX_MOLALITY:g} mol/kg")
    return rounded


def _number(text: str) -> float:
    """A number written in plain ASCII decimal or scientific notation; NaN for anything else (float()
    alone would read '1_0' as 10 and Arabic-Indic or fullwidth digits as numbers)."""
    text = text.strip()
    return float(text) if _NUMBER.fullmatch(text) else math.nan


def _shown(text) -> str:
    return repr(text if not isinstance(text, str) or len(text) <= 80 else text[:77] + "...")


# Column names accepted on input: ChemArr's published ones, then amala's (datasets.load renames them).
_POLYMER = ("smiles", "polymer")
_SALT = ("salt smiles", "salt_smiles", "salt")
_CELSIUS = ("temperature", "temperature_C")  # degC
_LOG10_SIGMA = ("conductivity", "log10_conductivity", "log10_sigma_S_cm")  # ChemArr publishes log10(S/cm)
COLUMNS = ["formulation", "polymer", "salt", "molality", "temperature_K", "log10_sigma_S_cm", "mw"]


def load_formulations(source: str | PathLike | pd.DataFrame, mw_unit: str = "g/mol") -> pd.DataFrame:
    """One row per measurement (or per screening condition), with canonical formulations.

    Columns: formulation (the canonical string), polymer, salt, molality (mol/kg, NaN when not
    reported), temperature_K (from degC), log10_sigma_S_cm (NaN for an unlabelled screening table),
    mw (g/mol, NaN when not reported; `mw_unit="log10(g/mol)"` for ChemArr's screening table, which
    stores log10 Mw). Invalid rows are dropped and counted per reason: `frame.attrs["dropped"]`
    ({reason: rows}) and a log line; `frame.attrs["missing_molality"]` counts kept rows without a
    molality. A table-wide mistake (a missing column, a conductivity that is not log10) raises.
    """
    raw, origin = _read(source)
    polymer_col, salt_col, celsius_col = (_column(raw, names, origin) for names in (_POLYMER, _SALT, _CELSIUS))
    sigma_col = _column(raw, _LOG10_SIGMA, origin, required=False)
    log10_sigma = _numbers(raw, sigma_col, origin) if sigma_col else np.full(len(raw), np.nan)
    if np.nanmax(log10_sigma, initial=-np.inf) > 0:
        raise InvalidFormulation(f"{origin}: column {sigma_col!r} has values > 0; expected log10(S/cm) as ChemArr "
                                 "publishes it (sigma > 1 S/cm is not a polymer electrolyte)", "table")
    molality = _numbers(raw, "molality", origin) if "molality" in raw.columns else np.full(len(raw), np.nan)
    mw = _molar_mass(raw, mw_unit, origin)
    celsius = _numbers(raw, celsius_col, origin)
    salts = raw[salt_col].where(raw[salt_col].notna(), "")
    keys = list(zip(raw[polymer_col], salts, [None if np.isnan(m) else float(m) for m in molality]))
    formulations, reasons = {}, Counter()
    for key in dict.fromkeys(keys):
        try:
            formulations[key] = Formulation(*key)
        except InvalidFormulation as exc:
            formulations[key] = exc.reason
    parsed = [formulations[key] for key in keys]
    for item, temperature in zip(parsed, celsius):
        if not isinstance(item, Formulation):
            reasons[item] += 1
        elif not np.isfinite(temperature) or temperature + CELSIUS_TO_K <= 0:
            reasons["temperature: blank or not above 0 K"] += 1
    keep = np.array([isinstance(item, Formulation) for item in parsed]) & np.isfinite(celsius)
    keep &= celsius + CELSIUS_TO_K > 0
    kept = [item for item, k in zip(parsed, keep) if k]
    frame = pd.DataFrame({
        "formulation": [str(f) for f in kept], "polymer": [f.polymer for f in kept], "salt": [f.salt for f in kept],
        "molality": np.array([np.nan if f.molality is None else f.molality for f in kept], dtype=float),
        "temperature_K": celsius[keep] + CELSIUS_TO_K, "log10_sigma_S_cm": log10_sigma[keep], "mw": mw[keep],
    }, columns=COLUMNS)
    frame.attrs.update(source=origin, dropped=dict(reasons), missing_molality=int(frame.molality.isna().sum()))
    if reasons:
        log.warning("%s: dropped %d of %d rows (%s); %d kept rows have no molality", origin, sum(reasons.values()),
                    len(raw), ", ".join(f"{r}: {n}" for r, n in reasons.most_common()), frame.attrs["missing_molality"])
    return frame


def closest_to(frame: pd.DataFrame, temperature_K: float = ROOM_TEMPERATURE_K) -> pd.DataFrame:
    """Per formulation, its measurement at the temperature closest to `temperature_K` (K).

    This defines the retrospective objective "sigma at the temperature closest to 25 degC": a
    formulation measured at 20, 30 and 60 degC is scored by its 30 degC value (|30-25| = |20-25| is
    a tie, and ties go to the lower temperature: 20 degC, so a formulation is never flattered by a
    warmer point). The temperature it came from is kept in `temperature_K` (and the gap in
    `delta_K`), so a user can see how far from 25 degC each value is. Several rows at that same
    temperature (repeat measurements, other papers) are averaged in log10; `n_measurements` says how
    many. Rows without a conductivity are not measurements and are ignored.
    """
    if not math.isfinite(temperature_K) or temperature_K <= 0:
        raise ValueError(f"closest_to: temperature_K={temperature_K!r} must be a finite temperature > 0 K")
    measured = frame[np.isfinite(frame["log10_sigma_S_cm"].to_numpy(dtype=float))].copy()
    measured["delta_K"] = (measured["temperature_K"] - temperature_K).abs().round(6)  # float noise is not a gap
    measured["temperature_K"] = measured["temperature_K"].round(6)
    best = (measured.sort_values(["formulation", "delta_K", "temperature_K"])
            .drop_duplicates("formulation")[["formulation", "temperature_K"]])
    at_best = measured.merge(best, on=["formulation", "temperature_K"])
    out = (at_best.groupby("formulation", sort=True)
           .agg(polymer=("polymer", "first"), salt=("salt", "first"), molality=("molality", "first"),
                temperature_K=("temperature_K", "first"), delta_K=("delta_K", "first"),
                log10_sigma_S_cm=("log10_sigma_S_cm", "mean"), mw=("mw", "mean"),
                n_measurements=("log10_sigma_S_cm", "size"))
           .reset_index())
    out.attrs.update(target_K=float(temperature_K))
    return out


def _read(source) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source, "formulation table"
    try:
        return pd.read_csv(source), str(source)
    except FileNotFoundError:
        raise InvalidFormulation(f"{source}: no such file", "table") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidFormulation(f"{source}: not a readable CSV ({str(exc).splitlines()[0]})", "table") from None


def _column(raw: pd.DataFrame, names: tuple[str, ...], origin: str, required: bool = True) -> str | None:
    found = next((name for name in names if name in raw.columns), None)
    if found is None and required:
        raise InvalidFormulation(f"{origin}: no column {' or '.join(map(repr, names))}", "table")
    return found


def _numbers(raw: pd.DataFrame, column: str, origin: str) -> np.ndarray:
    """Blank cells become NaN (the row then says 'unknown'); text that is not a number is refused."""
    values = pd.to_numeric(raw[column], errors="coerce")
    bad = values.isna() & raw[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InvalidFormulation(f"{origin}: column {column!r} row {row}: {raw[column].iloc[row]!r} is not a number",
                                 "table")
    return values.to_numpy(dtype=float)


def _molar_mass(raw: pd.DataFrame, unit: str, origin: str) -> np.ndarray:
    """Mw in g/mol, NaN where not reported."""
    if unit not in ("g/mol", "log10(g/mol)"):
        raise ValueError(f"load_formulations: mw_unit={unit!r} must be 'g/mol' or 'log10(g/mol)'")
    if "log10_mw" in raw.columns:  # datasets.load's name for the screening table's column
        return 10.0 ** _numbers(raw, "log10_mw", origin)
    if "mw" not in raw.columns:
        return np.full(len(raw), np.nan)
    values = _numbers(raw, "mw", origin)
    if unit == "log10(g/mol)":
        return 10.0 ** values
    finite = values[np.isfinite(values)]
    if len(finite) and finite.max() < 20:
        raise InvalidFormulation(f"{origin}: column 'mw' is below 20 g/mol everywhere; it looks like log10 Mw "
                                 "(ChemArr's screening table): pass mw_unit='log10(g/mol)'", "table")
    return values
