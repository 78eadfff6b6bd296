"""The file-queue oracle's inbox, read incrementally: rows already read are not parsed again, a
file changed other than by appending is read again from its start, every row that cannot be used
is listed once in rejected.csv (empty ones and unrequested ids too), and a crash between reading
and saving loses nothing."""

import csv
import os
import time
import tracemalloc

import pytest

from amala.core.candidate import Candidate
from amala.oracles.tables.queue import QueueOracle

HEADER = "id,conductivity,conductivity_unit\n"


@pytest.fixture
def queue(tmp_path):
    oracle = QueueOracle(tmp_path, {"conductivity": "S/cm"})
    cands = [Candidate(f"[Cu]C{'C' * i}O[Au]", agent="test") for i in range(6)]
    oracle.request(cands)
    oracle.drain_notes()
    return oracle, [c.key for c in cands], tmp_path / "queue" / "inbox"


def _rejected(oracle):
    path = oracle.folder / "rejected.csv"
    if not path.exists():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _values(results):
    return {e.candidate_key: e.values["conductivity"].value for e in results}


def _counting_parse(monkeypatch):
    parsed = []
    real = QueueOracle._parse
    monkeypatch.setattr(QueueOracle, "_parse", lambda self, row, requested: (parsed.append(row),
                                                                            real(self, row, requested))[1])
    return parsed


def test_empty_rows_and_unrequested_ids_are_listed_with_a_reason(queue):
    oracle, keys, inbox = queue
    (inbox / "copy.csv").write_text("id,status,reason,conductivity,conductivity_std,conductivity_unit\n"
                                    f"{keys[0]},,,1e-4,,S/cm\n"
                                    f"{keys[1]},,,,,S/cm\n"  # a copied request row, not filled in
                                    f"ffffffffffffffff,,,,,S/cm\n"  # never requested, and empty
                                    ",,,,,\n")  # nothing at all
    (inbox / "blank.json").write_text(f'[{{"id": "{keys[2]}"}}, {{"id": "0123456789abcdef"}}]')
    assert set(_values(oracle.collect())) == {keys[0]}
    reasons = {(r["file"], r["row"]): r["reason"] for r in _rejected(oracle)}
    assert "nothing filled in" in reasons[("copy.csv", "2")] and keys[1] in reasons[("copy.csv", "2")]
    assert "unknown id 'ffffffffffffffff'" in reasons[("copy.csv", "3")]
    assert "an empty row" in reasons[("copy.csv", "4")]
    assert "nothing filled in" in reasons[("blank.json", "1")]
    assert "unknown id '0123456789abcdef'" in reasons[("blank.json", "2")]
    assert len(reasons) == 5 and all("\n" not in r for r in reasons.values())
    oracle.collect()
    oracle.collect()
    assert len(_rejected(oracle)) == 5  # listed once, however often the inbox is read


def test_a_second_poll_parses_only_rows_appended_since_the_first(queue, monkeypatch):
    oracle, keys, inbox = queue
    parsed = _counting_parse(monkeypatch)
    path = inbox / "lab.csv"
    path.write_text(HEADER + f"{keys[0]},1e-4,S/cm\n{keys[1]},oops,S/cm\n{keys[2]},3e-4,S/cm\n")
    assert _values(oracle.collect()) == {keys[0]: 1e-4, keys[2]: 3e-4}
    assert len(parsed) == 3
    assert _values(oracle.collect()) == {keys[0]: 1e-4, keys[2]: 3e-4}  # handed back again, not parsed again
    assert len(parsed) == 3
    with path.open("a") as f:
        f.write(f"{keys[3]},4e-4,S/cm\n{keys[0]},9e-4,S/cm\n")
    results = oracle.collect()
    assert len(parsed) == 5 and _values(results) == {keys[0]: 1e-4, keys[2]: 3e-4, keys[3]: 4e-4}
    assert [(r["row"], r["id"]) for r in _rejected(oracle)] == [("2", keys[1]), ("5", keys[0])]  # the second result
    assert {e.candidate_key: e.provenance["row"] for e in results}[keys[3]] == 4
    fresh = QueueOracle(oracle.folder.parent, {"conductivity": "S/cm"})  # the next run: from the saved state
    assert _values(fresh.collect()) == _values(results) and len(parsed) == 5


def test_an_edited_cut_or_replaced_file_is_read_again_from_its_start(queue, monkeypatch):
    oracle, keys, inbox = queue
    parsed = _counting_parse(monkeypatch)
    path = inbox / "lab.csv"
    path.write_text(HEADER + f"{keys[0]},1.5e-4,S/cm\n{keys[1]},bad,S/cm\n")
    assert _values(oracle.collect()) == {keys[0]: 1.5e-4}
    path.write_text(HEADER + f"{keys[0]},1.6e-4,S/cm\n{keys[1]},bad,S/cm\n")  # a typo put right, same length
    os.utime(path, ns=(1, 1))
    assert _values(oracle.collect()) == {keys[0]: 1.6e-4} and len(parsed) == 4
    path.write_text(HEADER + f"{keys[2]},2e-4,S/cm\n")  # cut shorter, other rows
    assert _values(oracle.collect()) == {keys[2]: 2e-4}
    replacement = inbox / "new.tmp"
    replacement.write_text(HEADER + f"{keys[2]},2e-4,S/cm\n{keys[3]},3e-4,S/cm\n")
    replacement.replace(path)  # saved by a program that writes a new file and renames it
    assert _values(oracle.collect()) == {keys[2]: 2e-4, keys[3]: 3e-4}
    path.unlink()
    assert oracle.collect() == []  # a file taken out of the inbox takes its results with it
    assert [(r["row"], r["reason"][-15:]) for r in _rejected(oracle)] == [("2", "is not a number")]  # once


def test_a_line_still_being_written_is_read_again_once_complete(queue):
    oracle, keys, inbox = queue
    path = inbox / "lab.csv"
    path.write_text(HEADER + f"{keys[0]},1e-4,S/cm\n{keys[1]},2e-")
    assert _values(oracle.collect()) == {keys[0]: 1e-4} and _rejected(oracle) == []  # fresh: left for later
    os.utime(path, (time.time() - 60, time.time() - 60))  # quiet for a minute: the line is what was written
    assert _values(oracle.collect()) == {keys[0]: 1e-4} and len(_rejected(oracle)) == 1
    os.utime(path, ns=(1, 1))  # looks changed: the unfinished line is read again, and not listed again
    assert _values(oracle.collect()) == {keys[0]: 1e-4} and len(_rejected(oracle)) == 1
    with path.open("a") as f:
        f.write("4,S/cm\n")
    assert _values(oracle.collect()) == {keys[0]: 1e-4, keys[1]: 2e-4}
    [cut] = _rejected(oracle)  # what the half-written line looked like is on record
    assert cut["row"] == "2" and "'2e-' is not a number" in cut["reason"]


def test_a_last_line_being_written_is_not_taken_for_a_result(queue):
    """A lab program in the middle of writing "1.5e-4": the "1.5" already on disk is a valid number,
    and would have been stored as the result."""
    oracle, keys, inbox = queue
    path = inbox / "lab.csv"
    path.write_text(HEADER + f"{keys[0]},1e-4,S/cm\n{keys[1]},1.5")
    assert _values(oracle.collect()) == {keys[0]: 1e-4}
    with path.open("a") as f:
        f.write("e-4,S/cm")  # still no line end: taken once the file has been quiet for a while
    os.utime(path, (time.time() - 60, time.time() - 60))
    assert _values(oracle.collect()) == {keys[0]: 1e-4, keys[1]: 1.5e-4}


@pytest.mark.parametrize("newline,bom", [("\r", False), ("\r\n", True), ("\n", True)])
def test_old_mac_and_excel_files_are_read_incrementally(queue, monkeypatch, newline, bom):
    oracle, keys, inbox = queue
    parsed = _counting_parse(monkeypatch)
    path = inbox / "lab.csv"
    text = newline.join(["id,conductivity,conductivity_unit", f"{keys[0]},1e-4,S/cm", f"{keys[1]},2e-4,S/cm", ""])
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    assert _values(oracle.collect()) == {keys[0]: 1e-4, keys[1]: 2e-4}
    with path.open("ab") as f:
        f.write(f"{keys[2]},3e-4,S/cm{newline}{keys[3]},Grüße,S/cm{newline}".encode())
    assert _values(oracle.collect()) == {keys[0]: 1e-4, keys[1]: 2e-4, keys[2]: 3e-4}
    assert len(parsed) == 4 and [r["row"] for r in _rejected(oracle)] == ["4"]


def test_bytes_that_are_not_utf8_list_the_file_and_nothing_of_that_read_is_taken(queue):
    oracle, keys, inbox = queue
    path = inbox / "lab.csv"
    path.write_text(HEADER + f"{keys[0]},1e-4,S/cm\n")
    assert set(_values(oracle.collect())) == {keys[0]}
    with path.open("ab") as f:
        f.write(f"{keys[1]},2e-4,S/cm\n{keys[2]},Gr\xfc\xdfe,S/cm\n".encode("latin-1"))
    assert set(_values(oracle.collect())) == {keys[0]}
    [whole] = _rejected(oracle)
    bad_byte = len(HEADER) + 2 * 27 + len(keys[2]) + 3  # where the ü is, counted from the file's start
    assert whole["row"] == "" and f"not UTF-8 text (byte {bad_byte})" in whole["reason"]
    oracle.collect()
    assert len(_rejected(oracle)) == 1


def test_a_crash_between_listing_and_saving_the_state_loses_nothing(queue, monkeypatch):
    oracle, keys, inbox = queue
    (inbox / "lab.csv").write_text(HEADER + f"{keys[0]},1e-4,S/cm\n{keys[1]},bad,S/cm\n")

    def crash(state):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(oracle, "_save_state", crash)
    with pytest.raises(KeyboardInterrupt):
        oracle.collect()
    assert len(_rejected(oracle)) == 1 and not oracle.state_path.exists()
    after = QueueOracle(oracle.folder.parent, {"conductivity": "S/cm"})
    assert _values(after.collect()) == {keys[0]: 1e-4}  # read again: the result is there
    assert len(_rejected(after)) == 1 and after.drain_notes() == []  # and the rejection is not listed twice
    assert after.state_path.exists()
    (oracle.folder / "rejected.csv").unlink()  # a person clears the list: what is still wrong is listed again
    assert _values(after.collect()) == {keys[0]: 1e-4} and len(_rejected(after)) == 1


def test_reading_a_big_inbox_streams_it(queue):
    oracle, keys, inbox = queue
    path = inbox / "big.csv"
    with path.open("w") as f:
        f.write(HEADER + f"{keys[0]},1e-4,S/cm\n")
        f.writelines(f"{keys[0]},{'x' if i % 3 else i + 1},S/cm\n" for i in range(60_000))  # bad, or a second
    tracemalloc.start()
    try:
        results = oracle.collect()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert _values(results) == {keys[0]: 1e-4}
    assert len(_rejected(oracle)) == 60_000
    assert peak < path.stat().st_size / 2  # rows and rejections pass through, never held all at once


def test_a_result_taken_back_is_found_again_in_another_file(queue):
    oracle, keys, inbox = queue
    (inbox / "a.csv").write_text(HEADER + f"{keys[0]},1e-4,S/cm\n")
    (inbox / "b.csv").write_text(HEADER + f"{keys[1]},2e-4,S/cm\n{keys[0]},3e-4,S/cm\n")
    assert _values(oracle.collect()) == {keys[0]: 1e-4, keys[1]: 2e-4}
    assert "a second result" in _rejected(oracle)[0]["reason"]
    (inbox / "a.csv").unlink()  # the first result withdrawn: the one rejected as second is the result now
    assert _values(oracle.collect()) == {keys[0]: 3e-4, keys[1]: 2e-4}
