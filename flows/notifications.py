"""Optional notifications: a JSON POST to a webhook when a batch waits for approval and when a run
ends, so nobody has to watch an overnight campaign.

The body carries a `text` line (what Slack, Mattermost and Teams incoming webhooks display) plus
the event, campaign and details for other receivers. A notification that cannot be delivered is a
warning in the campaign's event log, never a failed run.
"""

from __future__ import annotations

import httpx

from amala.loop.campaign import Campaign


def notify(campaign: Campaign, event: str, text: str, **details) -> bool:
    spec = campaign.config.notify
    if spec.webhook is None or event not in spec.on:
        return False
    body = {"text": f"[amala {campaign.config.name}] {text}", "event": event, "campaign": campaign.config.name,
            **details}
    try:
        response = httpx.post(spec.webhook, json=body, timeout=spec.timeout_seconds)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        campaign.store.log(campaign.id, "notify", f"webhook notification ({event}) not delivered: "
                                                  f"{type(exc).__name__}", level="warning")
        return False
    return True
