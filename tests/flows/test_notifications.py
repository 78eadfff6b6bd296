"""Webhook notifications through the real flow: a batch waiting for approval and the end of a run
each POST a JSON message to a local 127.0.0.1 receiver; an unreachable webhook only leaves a
warning in the event log."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from amala.flows.campaign_flow import campaign_flow
from amala.loop.campaign import Campaign
from amala.loop.config import load_config

pytestmark = [pytest.mark.slow, pytest.mark.flow]


class Receiver(BaseHTTPRequestHandler):
    posts: list = []

    def do_POST(self):
        Receiver.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def _config(path, webhook):
    path.write_text(yaml.safe_dump({
        "name": "pinged", "data": {"dataset": "htpmd", "subset": 50}, "budget": {"initial": 4, "max_evaluations": 8},
        "approval": {"mode": "batch", "timeout_seconds": 1, "poll_seconds": 1, "on_timeout": "stop"},
        "notify": {"webhook": webhook}}))
    return path


def test_approval_and_run_notifications(data_env, prefect_server):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = _config(data_env / "pinged.yaml", f"http://127.0.0.1:{server.server_address[1]}/hook")
        result = campaign_flow(str(path))
    finally:
        server.shutdown()
    assert not result["final"]
    assert [p["event"] for p in Receiver.posts] == ["approval", "run"]
    assert Receiver.posts[0]["text"].startswith("[amala pinged] batch 0 (4 candidates) waits for approval")
    assert "waiting for approval" in Receiver.posts[1]["text"] and Receiver.posts[1]["final"] is False

    dead = _config(data_env / "pinged.yaml", "http://127.0.0.1:9/hook")  # nothing listens there
    assert not campaign_flow(str(dead))["final"]
    campaign = Campaign(load_config(dead))
    warnings = [e.message for e in campaign.store.events(campaign.id) if e.kind == "notify"]
    assert len(warnings) == 2 and all("not delivered" in w for w in warnings)
