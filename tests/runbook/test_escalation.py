from __future__ import annotations

from launchdeck.runbook.escalation import Matrix, Raise, Step, advance, next_due, open_incident, resolve

MATRIX = Matrix(
    open={"immediate": "P1", "urgent": "P2"},
    levels={"P1": (Step("launch-commander", ("oncall",), 0),),
            "P2": (Step("engineering-lead", ("war-room",), 0), Step("product-owner", ("war-room",), 900))},
    raises=(Raise("P2", "P1", 1800),),
)


def test_fired_gate_opens_incident_at_the_mapped_level() -> None:
    incident = open_incident(MATRIX, severity="urgent", gate="latency", reason="p95 +40%", now=100)
    assert incident is not None and incident.level == "P2"
    assert open_incident(MATRIX, severity="conditional", gate="x", reason="", now=0) is None


def test_notifications_go_out_when_their_delay_has_passed_and_only_once() -> None:
    incident = open_incident(MATRIX, severity="urgent", gate="latency", reason="", now=0)
    assert incident is not None
    incident, first = advance(MATRIX, incident, 0)
    assert [n.step.notify for n in first] == ["engineering-lead"]
    incident, none = advance(MATRIX, incident, 600)
    assert none == []
    incident, later = advance(MATRIX, incident, 900)
    assert [n.step.notify for n in later] == ["product-owner"]


def test_unresolved_incident_is_raised_and_the_new_level_is_notified() -> None:
    incident = open_incident(MATRIX, severity="urgent", gate="latency", reason="", now=0)
    assert incident is not None
    incident, _ = advance(MATRIX, incident, 900)
    incident, notices = advance(MATRIX, incident, 1800)
    assert incident.level == "P1" and [n.step.notify for n in notices] == ["launch-commander"]
    assert "raised to P1" in notices[0].reason


def test_resolved_incident_sends_nothing_more() -> None:
    incident = open_incident(MATRIX, severity="urgent", gate="latency", reason="", now=0)
    assert incident is not None
    incident = resolve(incident, 10, "rolled back")
    assert advance(MATRIX, incident, 5000) == (incident, [])


def test_next_due_is_when_the_next_notification_or_raise_goes_out() -> None:
    """Advancing only at ``next_due`` sends what advancing every second sends, at the same times."""
    def notices(*, sparse: bool) -> list[tuple[float, str, str]]:
        incident = open_incident(MATRIX, severity="urgent", gate="latency", reason="", now=0)
        assert incident is not None
        sent, t = [], 0.0
        while t is not None and t <= 4000:
            incident, out = advance(MATRIX, incident, t)
            sent += [(t, n.level, n.step.notify) for n in out]
            t = next_due(MATRIX, incident) if sparse else t + 1
        return sent

    every_second = notices(sparse=False)
    assert notices(sparse=True) == every_second
    assert every_second == [(0, "P2", "engineering-lead"), (900, "P2", "product-owner"),
                            (1800, "P1", "launch-commander")]


def test_nothing_is_due_once_resolved_or_when_the_top_level_has_told_everyone() -> None:
    incident = open_incident(MATRIX, severity="immediate", gate="errors", reason="", now=0)
    assert incident is not None
    incident, _ = advance(MATRIX, incident, 0)
    assert next_due(MATRIX, incident) is None  # P1 told its one step, and nothing raises P1
    assert next_due(MATRIX, resolve(incident, 5, "rolled back")) is None
