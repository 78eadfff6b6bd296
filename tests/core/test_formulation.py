"""Formulations (polymer + lithium salt + molality): the string form, canonical spellings, the
validity refusals, loading a ChemArr-layout table and the "closest to 25 degC" objective.

tests/data/formulations_small.csv is made up for these tests, in ChemArr's column layout: 10 groups
of rows over 4 polymers and 5 salts (two of them in two spellings each, so canonicalisation must
merge them), VTF-shaped conductivities, three rows without molality, and 8 rows that each break one
rule. The last tests read the real ChemArr copy and skip without one."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amala.core.candidate import Candidate
from amala.core.formulation import (
    KIND,
    MAX_MOLALITY,
    MIN_MOLALITY,
    SALT_NAMES,
    Formulation,
    InvalidFormulation,
    canonical_formulation,
    canonical_salt,
    closest_to,
    load_formulations,
    salt_name,
)

SMALL = Path(__file__).parents[1] / "data" / "formulations_small.csv"
PEO, PPO, PCL = "[Cu]CCO[Au]", "[Cu]CC(C)O[Au]", "[Cu]CCCCCC(=O)O[Au]"
LITFSI = ("O=S(=O)([N-]S(=O)(=O)C(F)(F)F)C(F)(F)F.[Li+]", "[Li+].FC(F)(F)S(=O)(=O)[N-]S(=O)(=O)C(F)(F)F")
LICLO4 = ("[Li+].[O-][Cl+3]([O-])([O-])[O-]", "O=Cl(=O)([O-])=O.[Li+]")  # ChemArr uses both spellings
LIBF4 = "F[B-](F)(F)F.[Li+]"


@pytest.mark.parametrize("molality, written", [(1.0, "1"), (0.5, "0.5"), (1.23456, "1.235"), (1.01e-5, "1.01e-05"),
                                               (None, "")])
def test_string_form_round_trips(molality, written):
    formulation = Formulation(PEO, LITFSI[0], molality)
    text = str(formulation)
    assert text.count("|") == 2 and text.endswith(f"|{written}")
    again = Formulation.parse(text)
    assert again == formulation and str(again) == text and hash(again) == hash(formulation)
    assert canonical_formulation(text) == text


def test_two_spellings_of_one_salt_or_polymer_are_one_formulation():
    for first, second in (LITFSI, LICLO4):
        assert canonical_salt(first) == canonical_salt(second)
    one = Formulation(PEO, LICLO4[0], 0.5)
    for polymer in ("[Au]OCC[Cu]", "C([Cu])CO[Au]", "*CCO*", "[*]CCO[*]", " [Cu]CCO[Au] "):
        other = Formulation(polymer, LICLO4[1], 0.50001)  # prints as 0.5: the same formulation
        assert other == one and str(other) == str(one)
    assert Candidate(str(one), kind=KIND).key == Candidate(str(Formulation("*CCO*", LICLO4[1], 0.5)), kind=KIND).key
    assert Formulation(PEO, LICLO4[0], 0.5) != Formulation(PEO, LICLO4[0], 0.6)
    assert Formulation(PEO, LICLO4[0], None) != Formulation(PEO, LICLO4[0], 0.5)
    assert canonical_salt(LITFSI[0]) != canonical_salt(LICLO4[0])


@pytest.mark.parametrize("polymer, salt, molality, reason, named", [
    (PEO, "[Li]Cl", 1.0, "salt: one fragment", "[Li]Cl"),  # an uncharged salt
    (PEO, "OCCO.[Li+].[Cl-]", 1.0, "salt: neutral fragment", "OCCO"),
    (PEO, "[Li+].[Li+].[Cl-]", 1.0, "salt: unbalanced charge", "net charge +1"),
    (PEO, "[Li+].[Li+].[O-]S(=O)(=O)[O-].[Cl-]", 1.0, "salt: unbalanced charge", "net charge -1"),
    (PEO, "[Na+].[Cl-]", 1.0, "salt: no Li+", "[Na+].[Cl-]"),
    (PEO, "[Mg+2].[Cl-].[Cl-]", 1.0, "salt: no Li+", "[Mg+2]"),
    (PEO, "", 1.0, "salt: none", "salt ''"),
    (PEO, "[Li+].[Cl-", 1.0, "salt: not a molecule", "[Li+].[Cl-"),
    ("CCO", LIBF4, 1.0, "polymer: end markers", "'CCO'"),
    ("[Cu]CCO", LIBF4, 1.0, "polymer: end markers", "[Cu]CCO"),
    ("*CC", LIBF4, 1.0, "polymer: end markers", "*CC"),
    ("[Cu]CC([O-])[Au]", LIBF4, 1.0, "polymer: charge", "[Cu]CC([O-])[Au]"),
    (PEO, LIBF4, 0.0, "molality: not > 0", "molality 0.0"),
    (PEO, LIBF4, -1.0, "molality: not > 0", "molality -1.0"),
    (PEO, LIBF4, float("inf"), "molality: not > 0", "molality inf"),
    (PEO, LIBF4, MAX_MOLALITY, "molality: >= 20 mol/kg", "20 mol/kg"),
    (PEO, LIBF4, 19.99999, "molality: >= 20 mol/kg", "20 mol/kg (rounded to the 4 significant digits"),
    (PEO, LIBF4, 1e-300, "molality: < 1e-06 mol/kg", "molality 1e-300"),
    (PEO, LIBF4, MIN_MOLALITY / 2, "molality: < 1e-06 mol/kg", "below 1e-06 mol/kg"),
    (PEO, LIBF4, "x", "molality: not a number", "molality 'x'"),
    (PEO, LIBF4, "1_0", "molality: not a number", "molality '1_0'"),  # float() reads it as 10
    (PEO, LIBF4, "\u0661", "molality: not a number", "molality '\u0661'"),  # Arabic-Indic 1
    (PEO, LIBF4, "\uff11", "molality: not a number", "molality '\uff11'"),  # fullwidth 1
    (PEO, "[O-][O].[Li+]", 1.0, "salt: radical", "salt '[O-][O].[Li+]': 1 unpaired electron"),  # superoxide
    (PEO, "[Li+].[O][O-]", 1.0, "salt: radical", "salt '[Li+].[O][O-]'"),
])
def test_each_invalid_formulation_is_refused_in_one_line_naming_it(polymer, salt, molality, reason, named):
    with pytest.raises(InvalidFormulation) as error:
        Formulation(polymer, salt, molality)
    message = str(error.value)
    assert error.value.reason == reason and named in message and "\n" not in message
    assert message.split(" ", 1)[0].rstrip(":") in ("salt", "polymer", "molality")  # the field comes first


@pytest.mark.parametrize("text, named", [
    ("[Cu]CCO[Au]|[Li+].[Cl-]", "2 field(s)"),
    ("[Cu]CCO[Au]|[Li+].[Cl-]|1|2", "4 field(s)"),
    ("[Cu]CCO[Au]|[Li+].[Cl-]|nan", "molality 'nan' is not a number"),
    ("[Cu]CCO[Au]|[Li+].[Cl-]|one", "molality 'one' is not a number"),
    ("[Cu]CCO[Au]|[Na+].[Cl-]|1", "salt '[Na+].[Cl-]': no Li+"),
    ("CCO|[Li+].[Cl-]|1", "polymer: 'CCO' has 0 [Cu] end markers"),
    ("[Cu]CCO[Au]|[Li+].[Cl-]|50", "molality 50.0: 50 mol/kg is not below 20 mol/kg"),
    ("[Cu]CCO[Au]|[Li+].[Cl-]|1_0", "molality '1_0' is not a number"),
    ("[Cu]CCO[Au]|[Li+].[Cl-]|\u0661\u0665", "is not a number"),  # Arabic-Indic 15: float() reads it
    ("[Cu]CCO[Au]|[Li+].[Cl-]|\uff10.\uff15", "is not a number"),  # fullwidth 0.5
    ("[Cu]CCO[Au]|[Li+].[Cl-]|1e-300", "molality 1e-300: 1e-300 mol/kg is below 1e-06 mol/kg"),
    ("[Cu]CCO[Au]|[Li+].[Cl-]|0", "molality 0.0: must be a finite number > 0"),  # 0 is not 'unknown'
    ("[Cu]CCO[Au]|[Li+].[O-][O]|1", "salt '[Li+].[O-][O]': 1 unpaired electron(s)"),
])
def test_parse_refuses_bad_text_naming_the_text_and_the_field(text, named):
    with pytest.raises(InvalidFormulation) as error:
        Formulation.parse(text)
    message = str(error.value)
    assert message.startswith(f"formulation {text!r}: ") and named in message and "\n" not in message


@pytest.mark.parametrize("molality", [19.99999, 19.995, 19.99949, 9.9999e-7, 9.99949e-7, MIN_MOLALITY, 1.01e-5, 0.5])
def test_a_formulation_is_accepted_or_refused_alike_however_its_molality_is_written(molality):
    """The canonical text never turns an accepted value into a refused one: the bounds apply to the
    value as the string form keeps it (19.99999 prints as 20: refused both ways)."""
    def outcome(make, *args):
        try:
            return str(make(*args))
        except InvalidFormulation as exc:
            return exc.reason

    direct = outcome(Formulation, PEO, LIBF4, molality)
    for written in (repr(molality), f"{molality:.10e}", f"{molality:.4g}"):
        assert outcome(Formulation.parse, f"{PEO}|{LIBF4}|{written}") == direct, written
        assert outcome(Formulation, PEO, LIBF4, written) == direct, written
    if "|" in direct:
        assert str(Formulation.parse(direct)) == direct


@pytest.mark.parametrize("name, chemarr", [  # spelled as in ChemArr's PolyInfo_8salts.csv (and its LiClO4 variant)
    ("LiTFSI", "O=S([N-]S(=O)(C(F)(F)F)=O)(C(F)(F)F)=O.[Li+]"),
    ("LiFSI", "FS([N-]S(=O)(F)=O)(=O)=O.[Li+]"),
    ("LiBETI", "O=S(C(F)(F)C(F)(F)F)([N-]S(=O)(C(F)(F)C(F)(F)F)=O)=O.[Li+]"),
    ("LiBOB", "O=C1C(O[B-]2(OC(C(O2)=O)=O)O1)=O.[Li+]"),
    ("LiDFOB", "F[B-](O1)(F)OC(C1=O)=O.[Li+]"),
    ("LiPF6", "F[P-](F)(F)(F)(F)F.[Li+]"),
    ("LiBF4", "F[B-](F)(F)F.[Li+]"),
    ("LiClO4", "O=Cl(=O)([O-])=O.[Li+]"),
    ("LiClO4", "[Li+].[O-][Cl+3]([O-])([O-])[O-]"),
])
def test_each_common_salt_name_maps_from_its_smiles(name, chemarr):
    assert salt_name(chemarr) == name and salt_name(SALT_NAMES[name]) == name
    assert salt_name(str(Formulation(PEO, chemarr, 1)).split("|")[1]) == name  # its canonical form too


def test_a_salt_without_a_common_name_or_not_a_salt_has_none():
    assert len(SALT_NAMES) == 8 and len({canonical_salt(s) for s in SALT_NAMES.values()}) == 8
    assert salt_name("[Li+].[Cl-]") is None and salt_name("[Na+].[Cl-]") is None and salt_name("") is None


def test_the_small_table_loads_with_every_refusal_counted(caplog):
    frame = load_formulations(SMALL)
    assert list(frame.columns) == ["formulation", "polymer", "salt", "molality", "temperature_K", "log10_sigma_S_cm",
                                   "mw"]
    assert len(frame) == 30 and frame.formulation.nunique() == 8  # 38 rows, 8 dropped; 10 groups, 2 merged
    assert frame.attrs["dropped"] == {"polymer: charge": 1, "salt: no Li+": 1, "salt: neutral fragment": 1,
                                      "salt: unbalanced charge": 1, "salt: one fragment": 1,
                                      "molality: >= 20 mol/kg": 1, "molality: not > 0": 1, "polymer: end markers": 1}
    assert "dropped 8 of 38 rows" in caplog.text  # never silently
    raw = pd.read_csv(SMALL)
    assert frame.temperature_K.tolist() == pytest.approx((raw.temperature[:30] + 273.15).tolist())
    assert frame.log10_sigma_S_cm.tolist() == raw.conductivity[:30].tolist()
    peo_litfsi = str(Formulation(PEO, LITFSI[1], 1))
    assert (frame.formulation == peo_litfsi).sum() == 8  # 6 rows of one spelling, 2 of the other
    assert frame.mw.isna().sum() == 3 and frame.mw.max() == 600000  # g/mol as published; blank stays NaN


def test_missing_molality_is_kept_as_nan_and_counted():
    frame = load_formulations(SMALL)
    missing = frame[frame.molality.isna()]
    assert frame.attrs["missing_molality"] == len(missing) == 3
    assert set(missing.formulation) == {str(Formulation(PCL, LIBF4, None))}
    assert all(text.endswith("|") for text in missing.formulation)  # blank field, not 0
    assert (frame.molality.dropna() > 0).all()


def test_load_takes_a_frame_and_refuses_a_linear_conductivity_or_a_log10_mw():
    raw = pd.read_csv(SMALL)
    assert load_formulations(raw).equals(load_formulations(SMALL))
    linear = raw.assign(conductivity=10 ** raw.conductivity)
    with pytest.raises(InvalidFormulation, match="column 'conductivity' has values > 0; expected log10"):
        load_formulations(linear)
    log_mw = raw.assign(mw=np.log10(raw.mw))
    with pytest.raises(InvalidFormulation, match="pass mw_unit='log10\\(g/mol\\)'"):
        load_formulations(log_mw)
    assert load_formulations(log_mw, mw_unit="log10(g/mol)").mw.max() == pytest.approx(600000)
    with pytest.raises(InvalidFormulation, match="no column 'salt smiles' or 'salt_smiles' or 'salt'"):
        load_formulations(raw.drop(columns="salt smiles"))
    with pytest.raises(InvalidFormulation, match="column 'temperature' row 3: 'warm' is not a number"):
        load_formulations(raw.astype({"temperature": object}).assign(temperature=lambda f: f.temperature.where(
            f.index != 3, "warm")))


def test_closest_to_25_degC_picks_one_row_per_formulation():
    best = closest_to(load_formulations(SMALL)).set_index("formulation")
    expected_celsius = {  # formulation -> the temperature its value comes from
        (PEO, LITFSI[0], 1.0): 25,  # the other spelling's two rows at 25 degC
        (PPO, LICLO4[0], 0.5): 20,  # 20 and 30 degC are a tie: the lower one
        ("[Cu]CCCOC(=O)O[Au]", "O=S(=O)([O-])C(F)(F)F.[Li+]", 0.8): 60,  # only measured warm
        (PCL, LIBF4, None): 24,
        (PEO, LIBF4, 0.3): 26.5,
        (PEO, LITFSI[0], 2.0): 30,
        (PPO, LITFSI[1], 1.5): 22,
        (PCL, LICLO4[1], 0.25): 40,
    }
    assert len(best) == len(expected_celsius)
    for key, celsius in expected_celsius.items():
        row = best.loc[str(Formulation(*key))]
        assert row.temperature_K == pytest.approx(celsius + 273.15) and row.delta_K == pytest.approx(abs(celsius - 25))
    repeated = best.loc[str(Formulation(PEO, LITFSI[0], 1.0))]
    assert repeated.n_measurements == 2 and repeated.log10_sigma_S_cm == pytest.approx((-5.5292 - 5.5492) / 2)
    assert best.loc[str(Formulation(PPO, LICLO4[0], 0.5))].log10_sigma_S_cm == -7.1477  # the 20 degC row's value
    warm = closest_to(load_formulations(SMALL), temperature_K=353.15).set_index("formulation")  # 80 degC
    assert warm.loc[str(Formulation(PEO, LITFSI[0], 1.0))].temperature_K == pytest.approx(353.15)
    with pytest.raises(ValueError, match="temperature_K=-1"):
        closest_to(load_formulations(SMALL), temperature_K=-1)


def test_closest_to_ignores_unmeasured_rows():
    frame = load_formulations(SMALL)
    frame.loc[frame.temperature_K.round(2) == 298.15, "log10_sigma_S_cm"] = np.nan  # PEO/LiTFSI's 25 degC rows
    row = closest_to(frame).set_index("formulation").loc[str(Formulation(PEO, LITFSI[0], 1.0))]
    assert row.temperature_K == pytest.approx(293.15) and row.n_measurements == 1


# The real ChemArr copy (../shared/data or $AMALA_DATA_DIR); skipped without one.

def _chemarr_dir() -> Path | None:
    folders = [os.environ.get("AMALA_DATA_DIR")]
    if not os.environ.get("AMALA_NO_SHARED"):
        folders.append(Path(__file__).resolve().parents[3] / "shared" / "data")
    return next((Path(f) for f in folders if f and (Path(f) / "chemarr" / "clean_train_data.csv").is_file()), None)


@pytest.fixture(scope="module")
def chemarr_dir() -> Path:
    folder = _chemarr_dir()
    if folder is None:
        pytest.skip("no local ChemArr copy: set AMALA_DATA_DIR or run `amala data fetch chemarr`")
    return folder


def test_the_chemarr_registry_entry_finds_and_verifies_the_local_copy(chemarr_dir, monkeypatch):
    import pooch

    from amala.core import datasets

    monkeypatch.setenv("AMALA_DATA_DIR", str(chemarr_dir))
    for name in ("chemarr", "chemarr_screen"):
        file = datasets.resolve_path(name)
        assert pooch.file_hash(str(file), alg="sha256") == datasets.spec(name).sha256
    raw = pd.read_csv(datasets.resolve_path("chemarr"), keep_default_na=False)
    assert len(raw) == 10114 and raw.smiles.nunique() == 229 and raw["salt smiles"].nunique() == 41  # '' included
    table = datasets.load("chemarr")
    assert table.verified and len(table.frame) == 10114 - len(table.dropped)
    assert table.units == {"log10_conductivity": "log10(S/cm)", "mw": "g/mol", "molality": "mol/kg",
                           "temperature_C": "degC"}


def test_chemarr_loads_as_formulations(chemarr_dir):
    """What the project's rules keep of ChemArr: single-ion conductors (the anion in the repeat unit,
    no salt) and Al/Ca-containing repeat units are not polymer + salt formulations, and the 73 rows
    at or above 20 mol/kg are not polymer electrolytes in the sense of MAX_MOLALITY."""
    frame = load_formulations(chemarr_dir / "chemarr" / "clean_train_data.csv")
    assert frame.attrs["dropped"] == {"polymer: charge": 983, "polymer: element": 55, "polymer: too long": 63,
                                      "salt: none": 1, "molality: >= 20 mol/kg": 73}
    assert len(frame) == 8939 and frame.polymer.nunique() == 150 and frame.salt.nunique() == 37
    assert frame.attrs["missing_molality"] == 0 and frame.log10_sigma_S_cm.lt(0).all()
    best = closest_to(frame)
    assert len(best) == frame.formulation.nunique() == 1323 and (best.delta_K <= 125).all()
    screen = load_formulations(chemarr_dir / "chemarr" / "PolyInfo_8salts.csv", mw_unit="log10(g/mol)")
    assert screen.salt.nunique() == 8 and set(screen.salt) <= set(frame.salt)  # the screen's salts were all trained on
    assert screen.log10_sigma_S_cm.isna().all() and (screen.mw == 1e5).all()
