"""The file-queue oracle: requests to an outbox, results from an inbox, each row checked on its
own; and a campaign that waits for external results over several runs of the real flow."""

import csv
import json

import pytest
import yaml

from amala.core.candidate import Candidate
from amala.oracles.tables.queue import QueueOracle

UNITS = {"conductivity": "S/cm", "li_diffusivity": "cm^2/s"}


def _candidates():
    return [Candidate(f"[Cu]C{'C' * i}O[Au]", agent="test") for i in range(4)]


def _rows(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_round_trip_keeps_good_rows_and_rejects_bad_ones_whole(tmp_path):
    oracle = QueueOracle(tmp_path, UNITS)
    cands = _candidates()
    assert oracle.evaluate(cands) == []  # nothing in the inbox yet: no result, no crash
    [request] = list((tmp_path / "queue" / "outbox").glob("*.csv"))
    rows = _rows(request)
    assert [r["id"] for r in rows] == [c.key for c in cands]
    assert rows[0]["conductivity_unit"] == "S/cm" and rows[0]["conductivity"] == ""
    assert json.loads(request.with_suffix(".json").read_text())[0]["values"]["li_diffusivity"]["unit"] == "cm^2/s"

    # The lab fills in the CSV: one good row, one with a wrong unit (its good diffusivity must not
    # be kept either), one with a non-finite value, one id nobody asked for.
    rows[0].update(conductivity="1.5e-4", conductivity_std="2e-5", li_diffusivity="3e-7")
    rows[1].update(conductivity="0.2", conductivity_unit="mS/cm", li_diffusivity="3e-7")
    rows[2].update(conductivity="nan", li_diffusivity="1e-7")
    rows.append({**rows[0], "id": "ffffffffffffffff"})
    with (tmp_path / "queue" / "inbox" / "lab-week1.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # ...and one JSON result: the fourth sample could not be made.
    (tmp_path / "queue" / "inbox" / "lab-week2.json").write_text(json.dumps(
        [{"id": cands[3].key, "status": "failed", "reason": "did not polymerise"}]))

    results = {e.candidate_key: e for e in oracle.evaluate(cands)}
    assert set(results) == {cands[0].key, cands[3].key}
    good = results[cands[0].key]
    assert good.ok and good.values["conductivity"].value == 1.5e-4 and good.values["conductivity"].std == 2e-5
    assert good.values["li_diffusivity"].unit == "cm^2/s" and good.provenance["row"] == 1
    assert not results[cands[3].key].ok and "did not polymerise" in results[cands[3].key].reason
    rejected = _rows(tmp_path / "queue" / "rejected.csv")
    reasons = {r["id"]: r["reason"] for r in rejected}
    assert "expected 'S/cm'" in reasons[cands[1].key] and "not a finite number" in reasons[cands[2].key]
    assert "unknown id" in reasons["ffffffffffffffff"]
    assert "nothing filled in" in reasons[cands[3].key]  # its row left blank here (its result came as JSON)
    [note] = [m for level, m in oracle.drain_notes() if level == "warning" and "rejected" in m]  # one per file
    assert note.startswith("inbox lab-week1.csv: 4 row(s) rejected") and "expected 'S/cm'" in note

    oracle.evaluate(cands)  # reading the inbox again neither duplicates results nor rejections
    assert len(_rows(tmp_path / "queue" / "rejected.csv")) == 4

    patient = QueueOracle(tmp_path, UNITS, give_up_seconds=0.0)  # the missing two are given up at once
    given_up = {e.candidate_key: e for e in patient.evaluate(cands)}
    assert set(given_up) == {c.key for c in cands} and given_up[cands[0].key].ok
    assert "no external result within 0 h" in given_up[cands[1].key].reason


@pytest.mark.flow
@pytest.mark.slow
def test_campaign_waits_for_external_results_across_runs(data_env, prefect_server):
    from amala.flows.campaign_flow import campaign_flow
    from amala.loop.campaign import Campaign
    from amala.loop.config import load_config

    path = data_env / "lab.yaml"
    path.write_text(yaml.safe_dump({
        "name": "lab", "data": {"dataset": "htpmd", "subset": 100},
        "oracle": {"kind": "queue", "properties": ["conductivity"], "wait_seconds": 1, "poll_seconds": 0.2},
        "budget": {"initial": 3, "max_evaluations": 3}}))
    first = campaign_flow(str(path))
    assert not first["final"] and "waits for 3 external result(s)" in first["stop"]
    campaign = Campaign(load_config(path))
    [request] = list((data_env / "runs" / "lab" / "queue" / "outbox").glob("*.csv"))
    rows = _rows(request)
    truth = campaign.table.frame.set_index("smiles").conductivity

    def deliver(name, chosen):
        with (data_env / "runs" / "lab" / "queue" / "inbox" / name).open("w", newline="") as f:
            writer = csv.DictWriter(f, list(rows[0]))
            writer.writeheader()
            writer.writerows({**r, "conductivity": truth[r["representation"]]} for r in chosen)

    deliver("part1.csv", rows[:2])
    second = campaign_flow(str(path))
    assert second["evaluations"] == 2 and "waits for 1" in second["stop"]  # partial results are kept
    deliver("part2.csv", rows[2:])
    third = campaign_flow(str(path))
    assert third["final"] and third["evaluations"] == 3
    stored = {c.representation: e.values["conductivity"]["value"] for c, e in campaign.store.evaluations(campaign.id)}
    assert stored == {r["representation"]: pytest.approx(truth[r["representation"]]) for r in rows}
    assert campaign.store.iterations(campaign.id)[0].status == "evaluated"
    assert len(list((data_env / "runs" / "lab" / "queue" / "outbox").glob("*.csv"))) == 1  # asked once
    runs = [e.message for e in campaign.store.events(campaign.id) if e.kind == "run"]
    assert len(runs) == 3 and "paused" in runs[0] and "finished" in runs[2]


def test_queue_asks_only_for_the_objective_unless_told(tmp_path):
    from amala.loop.config import parse_config
    from amala.oracles.registry import build_oracle

    cfg = parse_config({"name": "q", "representation": "composition", "data": None,
                        "objective": {"property": "log10_conductivity_300K", "transform": "none"},
                        "agents": [{"kind": "composition", "bounds": {"Li2O": [0.2, 0.5], "SiO2": [0.5, 0.8]}}],
                        "oracle": {"kind": "queue"}})
    oracle = build_oracle(cfg.oracle, None, workdir=tmp_path)
    assert oracle.units == {"log10_conductivity_300K": "log10(S/cm)"}
    with pytest.raises(ValueError, match="oracle.units"):
        build_oracle(parse_config({"name": "q", "oracle": {"kind": "queue", "properties": ["conductivity", "color"]},
                                   "objective": {"property": "conductivity"}}).oracle, None, workdir=tmp_path)


def _requested(tmp_path):
    oracle = QueueOracle(tmp_path, {"conductivity": "S/cm"})
    cands = _candidates()
    oracle.evaluate(cands)
    return oracle, cands


def _reasons(tmp_path):
    return [(r["file"], r["row"], r["reason"]) for r in _rows(tmp_path / "queue" / "rejected.csv")]


def test_bad_inbox_files_and_rows_are_listed_never_skipped_or_misread(tmp_path):
    oracle, cands = _requested(tmp_path)
    inbox = tmp_path / "queue" / "inbox"
    key = cands[0].key
    (inbox / "bool.json").write_text(json.dumps([{"id": key, "values": {"conductivity": {"value": True,
                                                                                          "unit": "S/cm"}}}]))
    (inbox / "scalars.json").write_text(json.dumps([1, "x", None, [key]]))
    (inbox / "object.json").write_text(json.dumps({"id": key}))
    (inbox / "semicolon.csv").write_text(f"id;conductivity;conductivity_unit\n{key};1e-4;S/cm\n")
    (inbox / "wrong-names.csv").write_text(f"ID,Conductivity,conductivity_unit\n{key},1e-4,S/cm\n")
    (inbox / "underscore.csv").write_text(f"id,conductivity,conductivity_unit\n{cands[1].key},1_0,S/cm\n")
    (inbox / "huge.json").write_text(f'[{{"id": "{cands[2].key}", "conductivity": 1{"0" * 400}, '
                                     '"conductivity_unit": "S/cm"}]')
    (inbox / "surplus.csv").write_text(f"id,conductivity,conductivity_unit\n{cands[3].key},1e-4,S/cm,extra\n")
    (inbox / "latin1.csv").write_bytes(f"id,reason,status\n{key},Grüße,failed\n".encode("latin-1"))
    assert oracle.collect() == []
    reasons = {name: reason for name, _, reason in _reasons(tmp_path)}
    assert "conductivity: True is not a number" in reasons["bool.json"]
    scalars = [reason for name, _, reason in _reasons(tmp_path) if name == "scalars.json"]
    assert len(scalars) == 4 and "not a JSON object but int 1" in scalars[0]
    assert "expected a JSON list of result objects, got dict" in reasons["object.json"]
    assert "columns are separated by ';'" in reasons["semicolon.csv"]
    assert "no 'id' column" in reasons["wrong-names.csv"]
    assert "'1_0' is not a number" in reasons["underscore.csv"]
    assert "is not a finite number" in reasons["huge.json"]
    assert "more cells than columns" in reasons["surplus.csv"]
    assert "not UTF-8 text" in reasons["latin1.csv"]
    notes = [m for level, m in oracle.drain_notes() if "rejected" in m]
    assert len(notes) == len(reasons) and all("\n" not in m for m in notes)


def test_unknown_columns_and_json_keys_are_rejected_not_ignored(tmp_path):
    oracle, cands = _requested(tmp_path)
    inbox = tmp_path / "queue" / "inbox"
    (inbox / "extra.csv").write_text("id,conductivity,conductivity_unit,conductivty_std\n"
                                     f"{cands[0].key},1e-4,S/cm,1e-5\n")
    (inbox / "keys.json").write_text(json.dumps([{"id": cands[1].key, "Conductivity": 1e-4,
                                                  "conductivity_unit": "S/cm"}]))
    assert oracle.collect() == []
    reasons = {name: reason for name, _, reason in _reasons(tmp_path)}
    assert "unknown column(s) ['conductivty_std']" in reasons["extra.csv"]
    assert "unknown field(s) ['Conductivity']" in reasons["keys.json"]


def test_an_excel_csv_with_a_byte_order_mark_is_read(tmp_path):
    oracle, cands = _requested(tmp_path)
    text = f"id,conductivity,conductivity_unit\r\n{cands[0].key},1.5e-4,S/cm\r\n"
    (tmp_path / "queue" / "inbox" / "excel.csv").write_bytes(text.encode("utf-8-sig"))
    [result] = oracle.collect()
    assert result.candidate_key == cands[0].key and result.values["conductivity"].value == 1.5e-4


def test_a_big_file_of_bad_rows_is_one_note_and_one_write(tmp_path, monkeypatch):
    import time

    oracle, cands = _requested(tmp_path)
    rows = "".join(f"{cands[0].key},{'abc' if i % 2 else 'true'},S/cm\n" for i in range(20_000))
    (tmp_path / "queue" / "inbox" / "big.csv").write_text("id,conductivity,conductivity_unit\n" + rows)
    opened = []
    real_open = type(tmp_path).open
    monkeypatch.setattr(type(tmp_path), "open", lambda self, *a, **k: (opened.append((self.name, a)),
                                                                        real_open(self, *a, **k))[1])
    start = time.perf_counter()
    assert oracle.collect() == []
    assert time.perf_counter() - start < 10
    assert sum(name == "rejected.csv" and a[:1] == ("a",) for name, a in opened) == 1
    [note] = [m for level, m in oracle.drain_notes() if "rejected" in m]
    assert note.startswith("inbox big.csv: 20000 row(s) rejected") and note.endswith("; 19997 more")
    assert len(_rows(tmp_path / "queue" / "rejected.csv")) == 20_000
    assert oracle.drain_notes() == []  # each note is handed over once
    oracle.collect()  # read again: nothing new to list or say
    assert not [m for level, m in oracle.drain_notes() if "rejected" in m]


def test_a_non_positive_transport_coefficient_is_rejected_but_its_log10_is_not(tmp_path):
    oracle = QueueOracle(tmp_path, {"conductivity": "S/cm", "log10_conductivity": "log10(S/cm)"})
    cands = _candidates()[:2]
    oracle.evaluate(cands)
    [request] = list((tmp_path / "queue" / "outbox").glob("*.csv"))
    rows = _rows(request)
    rows[0].update(conductivity="1e-4", log10_conductivity="-4")
    rows[1].update(conductivity="-1e-4", log10_conductivity="-4")
    with (tmp_path / "queue" / "inbox" / "lab.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    results = {e.candidate_key: e for e in oracle.evaluate(cands)}
    assert set(results) == {cands[0].key} and results[cands[0].key].values["log10_conductivity"].value == -4
    [rejected] = _rows(tmp_path / "queue" / "rejected.csv")
    assert rejected["id"] == cands[1].key and "conductivity = -0.0001 must be positive" in rejected["reason"]
