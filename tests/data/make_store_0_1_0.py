"""How tests/data/store_0_1_0.db was made: with the release before Alembic (commit 4fa3fae, whose
store added missing columns by hand), run from a worktree of that commit:

    PYTHONPATH=<dir with amala/{loop,agents,models,oracles,flows} -> worktree> python make_store_0_1_0.py OUT.db

Two iterations of a small lookup campaign (an initial batch and a model's batch), then a third batch
that waits for approval and was edited by a person: every table has rows. Kept for reference; the
test reads the committed file, never this script."""

import sys

from amala.agents import Candidate
from amala.core import datasets
from amala.core.polymer import canonical_smiles
from amala.loop.approval import BatchDecision
from amala.loop.campaign import Campaign
from amala.loop.config import parse_config
from amala.loop.store import SelectedCandidate, Store
from conftest import synthetic_polymer_table

out = sys.argv[1]
table = datasets.load("htpmd", synthetic_polymer_table(out + ".csv", n=60), subset=60, seed=5)
config = {"name": "release-0.1.0", "budget": {"initial": 4, "max_evaluations": 20},
          "acquisition": {"batch_size": 2, "prescreen": 20, "mc_samples": 16}}
store = Store(f"sqlite:///{out}")
campaign = Campaign(parse_config(config), store=store, table=table)
campaign.step()
campaign.step()
picks = [SelectedCandidate(Candidate(canonical_smiles(s), agent="pool"), -4.0, 0.3, 0.1)
         for s in ("[Cu]OCCOCCOCC[Au]", "[Cu]CCOC(=O)CC[Au]")]
batch = store.record_selection(campaign.id, "manual", picks)
store.request_approval(campaign.id, batch, "flow-run-0")
store.record_decision(campaign.id, batch, BatchDecision(reject=[picks[1].candidate.key], by="tester", via="cli"),
                      rejected=[picks[1].candidate.key], added=[], refused={})
store.log(campaign.id, "note", "fixture written by the pre-Alembic release")
