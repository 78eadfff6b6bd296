"""The loop's numerical work uses the cores that are free (a shared or busy machine ran the HTP-MD
retrospective 8x slower with one torch thread per core, 1.5x with one thread: docs/benchmarks/reliability.md)."""

from __future__ import annotations

import torch

from amala.loop import threads


def test_the_free_cores_are_used(monkeypatch):
    monkeypatch.delenv("AMALA_THREADS", raising=False)
    monkeypatch.setattr(threads, "cores", lambda: 8)
    assert threads.campaign_threads(others=0) == 8
    assert threads.campaign_threads(others=2.2) == 6
    assert threads.campaign_threads(others=20) == 1
    assert threads.campaign_threads(workers=6, others=0) == 2  # the campaign's own simulations hold 6 cores
    assert threads.campaign_threads(workers=6, others=7) == 1
    monkeypatch.setenv("AMALA_THREADS", "3")
    assert threads.campaign_threads(others=20) == 3


def test_running_elsewhere_does_not_count_the_caller(tmp_path):
    loadavg = tmp_path / "loadavg"
    loadavg.write_text("0.52 0.61 1.20 3/412 98765\n")  # 3 runnable threads, the caller among them
    assert threads.running_elsewhere(source=str(loadavg)) == 2.0
    assert threads.running_elsewhere() >= 0  # the real one reads


def test_a_campaign_chooses_its_batch_with_the_free_cores(monkeypatch, synthetic_htpmd):
    from amala.loop.campaign import Campaign
    from amala.loop.config import parse_config
    from amala.loop.store import Store

    monkeypatch.delenv("AMALA_THREADS", raising=False)
    monkeypatch.setattr(threads, "cores", lambda: 2)
    monkeypatch.setattr(threads, "running_elsewhere", lambda: 2.0)  # two busy processes on two cores
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        cfg = parse_config({"name": "busy", "data": {"dataset": "htpmd", "path": str(synthetic_htpmd)},
                            "budget": {"initial": 5, "max_evaluations": 10}})
        campaign = Campaign(cfg, store=Store("sqlite://"))
        assert campaign.select_batch(campaign.propose()) is not None
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
