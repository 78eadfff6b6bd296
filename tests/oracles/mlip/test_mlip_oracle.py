"""The `mlip` oracle end to end on a 48-atom Li2S-P2S5 glass: SevenNet-0 labels, a committee of two tiny
NequIP students learns on the fly, and the committee runs the ASE melt-quench-diffuse protocol.

Students trained for two epochs on four frames are not a potential: their MD blows up or shows no
diffusion in the `test` profile's 0.1 ps, so the evaluation fails, and what is checked is what must
survive a failure: a one-line reason, the trained committee (a model version in the store) and the
teacher's labels. The numbers themselves are docs/benchmarks/mlip-li3ps4.md's job.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from amala.core.candidate import Candidate
from amala.loop.config import parse_config
from amala.oracles.registry import build_oracle

pytestmark = [pytest.mark.md, pytest.mark.mlip]

CONFIG = {
    "name": "mlip_test", "representation": "composition", "data": None,
    "objective": {"property": "log10_conductivity_300K", "transform": "none"},
    "agents": [{"kind": "composition", "bounds": {"Li2S": [0.6, 0.8], "P2S5": [0.2, 0.4]}}],
    "oracle": {"kind": "mlip", "profile": "test", "compile": False,  # compiling takes minutes a student
               "student": {"num_features": 8, "radial_mlp_width": 8, "epochs": 2, "patience": None, "r_max": 4.0},
               "on_the_fly": {"committee_size": 2, "trust_lo_eV_A": 1e-6, "trust_hi_eV_A": 1e3, "seed_frames": 4,
                              "segment_steps": 20, "observe_every": 5, "min_spacing": 5, "per_round": 2,
                              "budget": 4, "window": 4, "converged_fraction": 0.0}},
}


def test_an_mlip_evaluation_keeps_its_committee_labels_and_reason(tmp_path):
    spec = parse_config(CONFIG).oracle
    oracle = build_oracle(spec, workdir=tmp_path, seed=0)
    assert (oracle.name, oracle.fidelity) == ("nequip-sevennet:7net-0", "mlip-test-sevennet:7net-0")
    glass = Candidate("Li2S:0.750000;P2S5:0.250000", kind="composition", agent="t")
    [evaluation] = oracle.evaluate([glass])

    assert evaluation.status == "failed" and evaluation.reason and "\n" not in evaluation.reason
    [committee] = evaluation.potentials
    assert committee["kind"] == "nequip_committee" and committee["size"] == 2 and committee["labels"] == 4
    assert len(committee["force_mae_meV_A"]) == 2 and all(e > 0 for e in committee["force_mae_meV_A"])
    assert committee["teacher"]["model"] == "7net-0" and "level_of_theory" in committee["teacher"]
    assert Path(committee["labels_file"]).is_file()
    learned = evaluation.provenance["on_the_fly"]
    assert learned["teacher_calls"] == 4 and learned["stop_reason"].startswith("teacher budget spent")
    grown = evaluation.provenance["potential"]  # the campaign's potential, as the report shows it grow
    assert grown["system"] == "Li-P-S" and grown["teacher_calls"] == 4 and grown["order"] == 0
    assert grown["labels_before"] == 0 and grown["labels_after"] == 4 and grown["version"] in committee["files"][0]
    assert Path(grown["folder"], "labels", "labels.extxyz").is_file()
