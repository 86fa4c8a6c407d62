"""Incident notices (P0/P1, English and French) and the status page's public wording."""

from __future__ import annotations

import pytest
from test_render import assert_clean, full_context, minimal_context

from launchdeck.comms.render import Renderer, available_templates
from launchdeck.controller.messages import Dispatcher
from launchdeck.core.engine import Decision
from launchdeck.plan import model

INTERNAL = ("checkout-spring", "payments-api", "v2.4.0", "v2.3.9", "error-rate", "launch-commander", "acme")


def incident_context(level: str) -> dict:
    gate = {"name": "error-rate", "metric": "error_rate", "severity": level, "value": 0.0312, "threshold": 0.02,
            "baseline": 0.004}
    return full_context("incident.opened", gate=gate)


def test_the_french_p0_notice_is_rendered_with_no_placeholder_left() -> None:
    text = Renderer("fr").render("incident.opened", incident_context("P0"), template="incident-p0")
    assert_clean(text)
    assert text.startswith("🚨 INCIDENT P0 - checkout-spring · payments-api v2.4.0")
    assert "⏰ Détecté : 14:05 UTC" in text and "3.12%" in text and "seuil 2.00%" in text
    assert "launch-commander" in text and "Détails dans le fil" in text
    assert "Error rate on" not in text  # the English reason stays out of a French notice


@pytest.mark.parametrize("locale", ["en", "fr"])
@pytest.mark.parametrize("level", ["p0", "p1"])
def test_incident_notices_render_from_the_fewest_values(locale: str, level: str) -> None:
    text = Renderer(locale).render("incident.opened", minimal_context("incident.opened"), template=f"incident-{level}")
    assert_clean(text)
    assert level.upper() in text.splitlines()[0]


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_the_status_page_names_nothing_internal(locale: str) -> None:
    public = [t for t in available_templates(locale) if t.startswith("status-page.")]
    assert {"status-page.incident.opened", "status-page.rollback.started", "status-page.rollback.completed"} <= set(public)
    for name in public:
        event = name.removeprefix("status-page.")
        text = Renderer(locale).render(event, incident_context("P0"), template=name)
        assert_clean(text)
        assert not [word for word in INTERNAL if word in text], (name, text)
        assert len(text) < 400


def spec(routes: list[dict]) -> model.ReleaseSpec:
    return model.ReleaseSpec.model_validate({
        "stages": [{"weight": "100%"}],
        "notifications": {"channels": {"incidents": {"type": "console"}, "status": {"type": "console"}},
                          "routes": routes}})


def compose(routes: list[dict], level: str) -> dict[str, str]:
    from pathlib import Path

    d = Decision(0.0, "incident.opened", "P0 incident opened by error-rate", "incident.opened", "error-rate",
                 {"level": level, "roles": ["sre"]})
    ctx = {k: v for k, v in incident_context(level).items() if k not in ("event", "reason")}
    return {m.channel: m.text for m in Dispatcher(spec(routes), workdir=Path(".")).compose([d], ctx)}


def test_an_opened_incident_takes_the_notice_of_its_level_and_the_status_page_its_public_words() -> None:
    texts = compose([{"on": ["incident.opened"], "to": ["incidents"]},
                     {"on": ["incident.opened"], "to": ["status"], "audience": "status-page"}], "P1")
    assert texts["incidents"].startswith("⚠️ P1 Issue - checkout-spring")
    assert texts["status"].startswith("Investigating degraded performance")


def test_a_routes_template_overrides_the_incident_notice() -> None:
    texts = compose([{"on": ["incident.opened"], "to": ["incidents"], "template": "gate.fired"}], "P0")
    assert "gate error-rate fired" in texts["incidents"] and "🚨" not in texts["incidents"]


def test_a_level_without_a_notice_of_its_own_gets_the_plain_incident_message() -> None:
    texts = compose([{"on": ["incident.opened"], "to": ["incidents"]}], "P3")
    assert "incident opened (P3)" in texts["incidents"]
