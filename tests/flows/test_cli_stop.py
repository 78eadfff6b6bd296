"""Stopping `amala run` with SIGTERM (a scheduler, `kill`, systemd): the run ends within seconds,
says so in one line without a traceback, leaves the campaign `interrupted` (not `running`), and
takes its temporary Prefect API server down with it. The next `amala status` tells the truth.

The run waits on the file-queue oracle (a lab that has not answered yet), a real wait in the
flow's own process, which is where a person's Ctrl-C or a SIGTERM lands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.flow]

AMALA = str(Path(sys.executable).with_name("amala"))


def _waiting_run(tmp_path, table):
    """`amala run` of a campaign waiting on the file queue, once its requests are written: the
    process, its environment, and the URL of its temporary Prefect API (answering)."""
    config = tmp_path / "lab.yaml"
    config.write_text(yaml.safe_dump({
        "name": "lab", "data": {"dataset": "htpmd", "path": str(table)},
        "oracle": {"kind": "queue", "wait_seconds": 600, "poll_seconds": 0.5},
        "budget": {"initial": 3, "max_evaluations": 3}}))
    env = {**os.environ, "AMALA_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    env.pop("AMALA_DB_URL", None)
    run = subprocess.Popen([AMALA, "run", str(config), "--no-progress"], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outbox = tmp_path / "runs" / "lab" / "queue" / "outbox"
    deadline = time.time() + 240
    while not (outbox.is_dir() and any(outbox.glob("*.csv"))):
        assert run.poll() is None and time.time() < deadline, run.communicate()
        time.sleep(0.5)
    api_url = json.loads((tmp_path / "home" / "campaigns.json").read_text())["lab"]["api_url"]
    assert httpx.get(f"{api_url}/health", timeout=5).status_code == 200
    return run, env, api_url


def test_sigterm_stops_a_run_at_once_and_status_says_interrupted(tmp_path, synthetic_htpmd):
    run, env, api_url = _waiting_run(tmp_path, synthetic_htpmd)

    start = time.time()
    run.send_signal(signal.SIGTERM)
    out, err = run.communicate(timeout=60)
    assert time.time() - start < 30 and run.returncode == 130, (out, err)
    assert "Traceback" not in err and "interrupted" in err.splitlines()[-1], err
    with pytest.raises(httpx.HTTPError):  # the temporary API went with the run
        httpx.get(f"{api_url}/health", timeout=2)

    status = subprocess.run([AMALA, "status", "lab", "--json"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60)
    assert json.loads(status.stdout)["state"] == "interrupted", status


def test_a_run_killed_with_sigkill_leaves_no_prefect_api_behind(tmp_path, synthetic_htpmd):
    """kill -9 gives the run no chance to clean up; its watcher stops the temporary API."""
    run, _, api_url = _waiting_run(tmp_path, synthetic_htpmd)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            httpx.get(f"{api_url}/health", timeout=2)
        except httpx.HTTPError:
            break
        time.sleep(1)
    else:
        raise AssertionError(f"the temporary Prefect API at {api_url} outlived the killed run")


def _sigint_at_default():
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_to_the_whole_process_group_stops_within_seconds(tmp_path, synthetic_htpmd):
    """A terminal's Ctrl-C signals the foreground process group (so does `kill -TERM -PGID`). The
    temporary API used to be in that group and died first; the run then retried Prefect calls for
    70-140 s and ended with a ConnectError (exit 1). Now the API answers while the run stops."""
    config = tmp_path / "busy.yaml"
    config.write_text(yaml.safe_dump({
        "name": "busy", "data": {"dataset": "htpmd", "path": str(synthetic_htpmd)},
        "acquisition": {"strategy": "qlognei", "batch_size": 10},
        "budget": {"initial": 20, "max_evaluations": 390}}))
    env = {**os.environ, "AMALA_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    env.pop("AMALA_DB_URL", None)
    # like a program started from a terminal, the run starts with Ctrl-C at its default: a test suite started
    # in the background of a non-interactive shell (`make test &`) ignores SIGINT, and children inherit that
    run = subprocess.Popen([AMALA, "run", str(config), "--no-progress"], cwd=tmp_path, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                           preexec_fn=_sigint_at_default)
    database, deadline = tmp_path / "runs" / "busy" / "amala.db", time.time() + 240
    while _evaluations(database) < 25:  # into the second batch: Prefect tasks are running
        assert run.poll() is None and time.time() < deadline, run.communicate()
        time.sleep(0.2)
    api_url = json.loads((tmp_path / "home" / "campaigns.json").read_text())["busy"]["api_url"]

    start = time.time()
    os.killpg(run.pid, signal.SIGINT)
    out, err = run.communicate(timeout=300)
    assert time.time() - start < 15 and run.returncode == 130, (time.time() - start, run.returncode, err[-2000:])
    assert "Traceback" not in err and "ConnectError" not in err, err[-2000:]
    assert "interrupted" in err.splitlines()[-1], err[-2000:]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{api_url}/health", timeout=2)
    status = subprocess.run([AMALA, "status", "busy", "--json"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60)
    assert json.loads(status.stdout)["state"] == "interrupted", status


def _evaluations(database: Path) -> int:
    import sqlite3

    try:
        with sqlite3.connect(database, timeout=5) as connection:
            return connection.execute("select count(*) from evaluation").fetchone()[0]
    except sqlite3.Error:
        return 0


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the API's process")
def test_a_run_killed_while_its_prefect_api_starts_leaves_no_server_behind(tmp_path, synthetic_htpmd):
    """kill -9 while the temporary API is still starting (before it answers): its process must not
    outlive the run (it used to stay for good, parent 1, ~180 MB)."""
    config = tmp_path / "lab.yaml"
    config.write_text(yaml.safe_dump({"name": "lab", "data": {"dataset": "htpmd", "path": str(synthetic_htpmd)},
                                      "budget": {"initial": 3, "max_evaluations": 3}}))
    env = {**os.environ, "AMALA_HOME": str(tmp_path / "home"), "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    env.pop("AMALA_DB_URL", None)
    run = subprocess.Popen([AMALA, "run", str(config), "--no-progress"], cwd=tmp_path, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, server = time.time() + 120, None
    while server is None:
        assert run.poll() is None and time.time() < deadline, "the run ended before starting its API"
        for child in _children(run.pid):
            try:
                if b"uvicorn" in (Path("/proc") / str(child) / "cmdline").read_bytes():
                    server = child
            except OSError:
                continue
        time.sleep(0.05)
    run.kill()
    run.wait(timeout=30)
    deadline = time.time() + 30
    while _alive(server) and time.time() < deadline:
        time.sleep(0.5)
    assert not _alive(server), f"the temporary Prefect API (pid {server}) outlived the killed run"
