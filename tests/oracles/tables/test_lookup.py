import pandas as pd
import pytest

from amala.agents import Candidate
from amala.core.datasets import Table
from amala.core.polymer import canonical_smiles
from amala.oracles import LookupOracle


@pytest.fixture
def table():
    frame = pd.DataFrame({"smiles": [canonical_smiles("[Cu]OCCOC(=O)[Au]"), canonical_smiles("[Cu]CCC[Au]")],
                          "conductivity": [1e-4, None], "transference_number": [0.3, 0.1]})
    return Table("toy", frame, {"conductivity": "S/cm", "transference_number": "1"}, "memory")


def test_values_carry_units_and_missing_candidates_fail_with_reason(table):
    oracle = LookupOracle(table)
    known = Candidate(canonical_smiles("O=C([Au])OCCO[Cu]"))
    unknown = Candidate(canonical_smiles("[Cu]CCCCCC[Au]"))
    no_value = Candidate(canonical_smiles("[Cu]CCC[Au]"))
    ok, missing, empty = oracle.evaluate([known, unknown, no_value])
    assert ok.ok and ok.values["conductivity"].value == 1e-4 and ok.values["conductivity"].unit == "S/cm"
    assert ok.values["conductivity"].std is None  # the source reports none; we do not invent one
    assert missing.status == "failed" and "not in dataset 'toy'" in missing.reason
    assert empty.status == "failed" and "no value of ['conductivity']" in empty.reason
    assert [e.candidate_key for e in (ok, missing, empty)] == [known.key, unknown.key, no_value.key]


def test_unknown_property_is_a_config_error(table):
    with pytest.raises(ValueError, match="oracle.properties"):
        LookupOracle(table, properties=["viscosity"])
