"""GET /api/v1/releases/{name}/messages: every message, its channel, when it was sent or that it is pending,
and each delivery attempt."""

from __future__ import annotations

from ld_server import Api

from launchdeck.store.repo import NewMessage


def test_messages_say_sent_pending_and_every_attempt(api: Api) -> None:
    started = api.start("messages-v2")
    assert started.status_code == 201, started.text
    release = api.store.require(name="messages-v2")
    api.store.save(release_id=release.id, state=release.state, plan_clock=0.0, outcome=None, decisions=[],
                   messages=[NewMessage("ops", "gate.fired", "gate fired", "gate fired\nmore", "en", broadcast=True),
                             NewMessage("ops", "rollback.started", "rolling back", "rolling back", "en")])
    first, second = api.store.pending_messages(release_id=release.id)
    api.store.mark_failed(message_id=first.id, error="HTTP 503 receiver restarting")
    api.store.mark_sent(message_id=first.id)
    api.store.mark_failed(message_id=second.id, error="HTTP 503 receiver restarting")

    answered = api.get("/api/v1/releases/messages-v2/messages")
    assert answered.status_code == 200, answered.text
    sent, pending = answered.json()
    assert sent["pending"] is False and sent["sentAt"] and sent["broadcast"] is True
    assert [a["error"] for a in sent["deliveryAttempts"]] == ["HTTP 503 receiver restarting", None]
    assert pending["pending"] is True and pending["sentAt"] is None and pending["attempts"] == 1
    assert [a["error"] for a in pending["deliveryAttempts"]] == ["HTTP 503 receiver restarting"]
