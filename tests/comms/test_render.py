"""The messages layer: every template renders real values, in English and in French, or refuses."""

from __future__ import annotations

import math
import re
from pathlib import Path

import jinja2
import pytest

from launchdeck.comms.render import (
    EVENTS,
    MissingValueError,
    Renderer,
    available_locales,
    available_templates,
    make_context,
    ms,
    pct,
    redact,
    weight,
)
from launchdeck.errors import NotifyError, UsageError

NAMED = ("launch-success", "executive-summary", "deployment-starting", "launch-announcement")
#: Notices in their own format (tests/comms/test_incidents.py): not "[launchdeck] …" lines.
NOTICES = ("incident-p0", "incident-p1", *(f"status-page.{e}" for e in (
    "release.started", "gate.fired", "incident.opened", "rollback.started", "rollback.completed",
    "incident.resolved", "release.completed")))
ALL_TEMPLATES = sorted((*EVENTS, *NAMED))
LOCALES = ("en", "fr")
SHOWS_GATE = {"gate.fired", "decision.requested", "rollback.started", "escalation", "status.cadence",
              "checkpoint.passed", "checkpoint.failed", "executive-summary"}
SHOWS_NUMBERS = set(ALL_TEMPLATES) - {"release.started", "preflight.failed", "approval.granted",
                                      "deployment-starting", "launch-announcement", "incident.opened",
                                      "incident.resolved"}
LEFTOVERS = ("{{", "}}", "{%", "%}")
EMPTY_WORDS = re.compile(r"\b(None|nan|NaN|Undefined)\b")


def full_context(event: str = "gate.fired", **changes: object) -> dict:
    values: dict = dict(
        event=event, release="checkout-spring", tenant="acme", service="payments-api",
        version="v2.4.0", previous_version="v2.3.9", stage=2, stages=4, weight=25.0,
        outcome="rolled_back", reason="Error rate on v2.4.0 stayed above 2% for 5 minutes.",
        gate={"name": "error-rate", "metric": "error_rate", "severity": "immediate",
              "value": 0.0312, "threshold": 0.02, "baseline": 0.004},
        numbers={"v2.4.0": {"error_rate": 0.0312, "p95_ms": 231.4, "requests": 1240},
                 "v2.3.9": {"error_rate": 0.004, "p95_ms": 198.0, "requests": 3720}},
        who="Dana Reyes", role="launch-commander", roles=["launch-commander", "senior-engineer"],
        window_closes_in="10m", default="rollback", evidence="evidence/checkout-spring/stage-2.json",
        next="Post-incident review at 15:00.", at="2026-02-03T14:05:00Z",
        started_at="2026-02-03T13:00:00Z", duration="1h05m",
    )
    values.update(changes)
    return make_context(**values)


def minimal_context(event: str = "gate.fired") -> dict:
    return make_context(event=event, release="checkout-spring", version="v2.4.0", stages=3,
                        weight=5.0, at="2026-02-03T14:05:00Z")


def assert_clean(text: str) -> None:
    for leftover in LEFTOVERS:
        assert leftover not in text, f"{leftover!r} left in:\n{text}"
    assert not EMPTY_WORDS.search(text), text


def test_both_locales_ship_every_event_and_named_template() -> None:
    assert available_locales() == ["en", "fr"]
    for locale in LOCALES:
        assert available_templates(locale) == sorted((*ALL_TEMPLATES, *NOTICES))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_every_template_renders_a_fully_populated_context_with_real_values(locale: str, name: str) -> None:
    event = name if name in EVENTS else "release.completed"
    ctx = full_context(event)
    text = Renderer(locale).render(event, ctx, template=None if name in EVENTS else name)
    assert_clean(text)
    title = text.splitlines()[0]
    assert title.startswith("[launchdeck] ")
    assert "v2.4.0" in title
    assert "payments-api" in title
    if name != "launch-announcement":
        assert "checkout-spring" in title
    if name in SHOWS_GATE:
        assert "3.12%" in text and "2.00%" in text, text
    if name in SHOWS_NUMBERS:
        assert "231 ms" in text and "1240" in text, text
        if name != "executive-summary":  # the summary keeps to the new version's numbers
            assert "198 ms" in text and "0.40%" in text and "3720" in text, text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_every_template_renders_a_minimal_context_without_placeholders(locale: str, name: str) -> None:
    event = name if name in EVENTS else "release.completed"
    text = Renderer(locale).render(event, minimal_context(event), template=None if name in EVENTS else name)
    assert_clean(text)
    assert text.startswith("[launchdeck] ")
    assert "v2.4.0" in text.splitlines()[0]
    assert "\n\n" not in text


@pytest.mark.parametrize("locale", LOCALES)
def test_stage_messages_say_which_stage_and_weight(locale: str) -> None:
    renderer = Renderer(locale)
    started = renderer.render("stage.started", full_context("stage.started"))
    assert "2/4" in started.splitlines()[0] and "25%" in started.splitlines()[0]
    assert "v2.3.9" in started


@pytest.mark.parametrize("locale", LOCALES)
def test_gate_message_carries_name_metric_value_threshold_severity_and_reason(locale: str) -> None:
    text = Renderer(locale).render("gate.fired", full_context())
    for part in ("error-rate", "error_rate", "3.12%", "2.00%", "0.40%"):
        assert part in text
    assert ("immediate" if locale == "en" else "immédiate") in text
    # The reason is the decision log's English sentence: English messages carry it, French ones say it
    # with the structured values above.
    reason = "Error rate on v2.4.0 stayed above 2% for 5 minutes."
    assert (reason in text) == (locale == "en")


#: Words of launchdeck's English reasons and templates that must not reach a French message.
ENGLISH = re.compile(r"\b(passed|held|every gate|within limits|within the gate|serves|rolled back|rollback|"
                     r"stage|canary|waits|sign-off|nobody|breach\w*|threshold|baseline|evidence|the|and|for)\b",
                     re.IGNORECASE)
ENGINE_REASONS = {
    "stage.passed": "stage 2 passed: held 86483s, every gate within limits, signed by product-owner",
    "stage.started": "stage 2/4: canary to 25% for at least 1200s of plan time",
    "approval.requested": "stage 2 is healthy and waits for sign-off from product-owner",
    "hold.started": "3 windows (900s) without enough data; canary held at 25%, a person must continue or roll "
                    "back (run ends held in 1800s)",
    "rollback.started": "rolling back: kill switch pulled by dana (launch-commander)",
    "release.completed": "release rolled back: error-rate: canary error_rate 3.12% >= 2.00%; breaches the gate",
}


def launchdeck_context(event: str, **changes: object) -> dict:
    """A context as a run builds it: the engine's English reason, durations in seconds, a command."""
    values: dict = dict(reason=ENGINE_REASONS.get(event, "error-rate: canary error_rate 3.12% >= 2.00%; "
                                                          "breaches the gate over 1240 canary requests for 308.404s"),
                        next=None, evidence="preuves/checkout-spring.bundle.json", hold=86483.0, deadline="14:32 UTC",
                        deadline_in=720.0, cause="kill-switch",
                        numbers={"canary": {"error_rate": 0.0312, "p95_ms": 231.4, "requests": 1240},
                                 "stable": {"error_rate": 0.004, "p95_ms": 198.0, "requests": 3720}},
                        command="launchdeck approve checkout-spring --stage 2 --role product-owner --as NAME")
    values.update(changes)
    return full_context(event, **values)


@pytest.mark.parametrize("name", ALL_TEMPLATES)
def test_french_messages_are_french_throughout(name: str) -> None:
    event = name if name in EVENTS else "release.completed"
    text = Renderer("fr").render(event, launchdeck_context(event), template=None if name in EVENTS else name)
    said = "\n".join(line for line in text.splitlines() if not line.startswith(("Commande : ", "Détails : ")))
    assert not ENGLISH.search(said), f"English in a French message: {ENGLISH.search(said)}\n{text}"
    assert not re.search(r"\d+s\b", said), text


@pytest.mark.parametrize("locale", LOCALES)
def test_durations_read_as_people_write_them_in_messages(locale: str) -> None:
    renderer = Renderer(locale)
    assert "24 h 1 min" in renderer.render("stage.passed", launchdeck_context("stage.passed"))
    assert "20 min" in renderer.render("stage.started", launchdeck_context("stage.started", hold=1200.0))
    asked = renderer.render("approval.requested", launchdeck_context("approval.requested"))
    assert "14:32 UTC" in asked and "12 min" in asked


def test_english_reasons_have_their_seconds_written_as_people_do() -> None:
    text = Renderer("en").render("gate.fired", launchdeck_context("gate.fired"))
    assert "for 5 min" in text and "308.404s" not in text
    held = Renderer("en").render("stage.passed", launchdeck_context("stage.passed", hold=None))
    assert "held 24 h 1 min, every gate within limits" in held


@pytest.mark.parametrize("locale", LOCALES)
def test_a_request_for_sign_off_says_who_until_when_and_the_command(locale: str) -> None:
    text = Renderer(locale).render("approval.requested", launchdeck_context("approval.requested",
                                                                            roles=["product-owner"]))
    assert "product-owner" in text and "14:32 UTC" in text
    assert "launchdeck approve checkout-spring --stage 2 --role product-owner --as NAME" in text


@pytest.mark.parametrize("locale", LOCALES)
def test_the_last_stage_at_100_percent_leaves_nothing_to_the_previous_version(locale: str) -> None:
    text = Renderer(locale).render("stage.started", launchdeck_context("stage.started", weight=100.0, stage=4))
    assert "serves the rest" not in text and "sert le reste" not in text
    assert ("all traffic" if locale == "en" else "tout le trafic") in text


def test_a_relative_latency_gate_shows_its_threshold_as_written_and_values_in_ms() -> None:
    gate = {"name": "api-p95-regression", "metric": "latency_p95_ms", "severity": "urgent",
            "value": 312.0, "threshold": "+20%", "baseline": 240.0}
    text = Renderer("en").render("gate.fired", full_context(gate=gate))
    assert "312 ms" in text and "+20%" in text and "240 ms" in text


def test_a_gate_without_baseline_omits_it() -> None:
    gate = {"name": "error-rate", "metric": "error_rate", "severity": "immediate",
            "value": 0.05, "threshold": 0.02, "baseline": None}
    text = Renderer("en").render("gate.fired", full_context(gate=gate))
    assert "5.00%" in text and "baseline" not in text


def test_missing_per_version_numbers_read_as_not_available() -> None:
    numbers = {"v2.4.0": {"error_rate": None, "p95_ms": None, "requests": 0}}
    text = Renderer("en").render("status.cadence", full_context(numbers=numbers))
    assert "errors n/a · p95 n/a · 0 requests" in text
    assert_clean(text)


def test_release_completed_reads_differently_per_outcome() -> None:
    renderer = Renderer("en")
    promoted = renderer.render("release.completed", full_context(outcome="promoted"))
    assert "promoted" in promoted.splitlines()[0]
    assert "v2.4.0 serves all traffic" in promoted
    success = renderer.render("release.completed", full_context(outcome="promoted"), template="launch-success")
    assert "live in production" in success.splitlines()[0]
    failed = renderer.render("release.completed", full_context(outcome="rolled_back"), template="launch-success")
    assert "did not go live" in failed.splitlines()[0]


def test_french_messages_are_written_in_french() -> None:
    fr = Renderer("fr")
    stage = fr.render("stage.started", full_context("stage.started"))
    assert "étape 2/4" in stage and "du trafic" in stage
    done = fr.render("release.completed", full_context(outcome="promoted"))
    assert "déploiement terminé" in done and "version promue" in done
    rollback = fr.render("rollback.started", full_context())
    assert "retour arrière" in rollback and "Garde-fou" in rollback
    english = Renderer("en").render("stage.started", full_context("stage.started"))
    assert "étape" not in english and "stage 2/4" in english


def test_message_title_is_the_first_line() -> None:
    message = Renderer("fr").message("hold.started", full_context("hold.started"), channel="tech")
    assert message.channel == "tech" and message.locale == "fr" and message.event == "hold.started"
    assert message.title == message.text.splitlines()[0]
    assert "déploiement suspendu à 25%" in message.title


def test_a_missing_context_key_is_caught_by_strict_undefined() -> None:
    ctx = full_context()
    del ctx["weight"]
    with pytest.raises(MissingValueError) as caught:
        Renderer("en").render("gate.fired", ctx)
    assert isinstance(caught.value, NotifyError)
    assert isinstance(caught.value, jinja2.UndefinedError)
    assert "weight" in str(caught.value)


def test_a_missing_per_version_key_is_caught_too() -> None:
    ctx = full_context(numbers={"v2.4.0": {"requests": 10}})
    with pytest.raises(NotifyError, match="error_rate"):
        Renderer("en").render("stage.passed", ctx)


def test_unknown_locale_is_a_usage_error_listing_the_available_ones() -> None:
    with pytest.raises(UsageError) as caught:
        Renderer("de")
    assert "de" in caught.value.message and "en, fr" in caught.value.hint
    with pytest.raises(UsageError):
        available_templates("de")


def test_unknown_template_is_a_usage_error_listing_the_available_ones() -> None:
    with pytest.raises(UsageError) as caught:
        Renderer("en").render("release.completed", full_context(), template="launch-sucess")
    assert "launch-sucess" in caught.value.message
    assert "launch-success" in caught.value.hint and "executive-summary" in caught.value.hint


def test_unknown_event_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="release.exploded"):
        Renderer("en").render("release.exploded", full_context())


def test_make_context_rejects_unknown_keys_and_fills_optional_ones() -> None:
    with pytest.raises(UsageError, match="colour"):
        make_context(event="x", release="r", version="v", stages=1, weight=0.0, at="t", colour="red")
    with pytest.raises(UsageError, match="version"):
        make_context(event="x", release="r", stages=1, weight=0.0, at="t")
    ctx = minimal_context()
    assert ctx["numbers"] == {} and ctx["roles"] == [] and ctx["gate"] is None


def _custom(tmp_path: Path, body: str) -> Renderer:
    folder = tmp_path / "xx"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stage.started.j2").write_text(body, encoding="utf-8")
    return Renderer("xx", templates_dir=tmp_path)


def test_a_none_printed_where_a_value_should_be_is_refused(tmp_path: Path) -> None:
    renderer = _custom(tmp_path, "[launchdeck] {{ release }} owned by {{ who }}\n")
    with pytest.raises(NotifyError) as caught:
        renderer.render("stage.started", minimal_context())
    assert "xx/stage.started" in caught.value.message and "None" in caught.value.message


def test_a_nan_printed_where_a_value_should_be_is_refused(tmp_path: Path) -> None:
    renderer = _custom(tmp_path, "[launchdeck] weight {{ weight }}\n")
    with pytest.raises(NotifyError, match="nan"):
        renderer.render("stage.started", full_context(weight=math.nan))


def test_a_leftover_placeholder_in_the_output_is_refused(tmp_path: Path) -> None:
    renderer = _custom(tmp_path, "[launchdeck] {{ release }} at {{ '{{' }} weight }}\n")
    with pytest.raises(NotifyError) as caught:
        renderer.render("stage.started", minimal_context())
    assert "stage.started" in caught.value.message and "{{ weight }}" in caught.value.message


def test_literal_none_in_template_text_is_refused(tmp_path: Path) -> None:
    renderer = _custom(tmp_path, "[launchdeck] {{ release }}\nOwner: None\n")
    with pytest.raises(NotifyError, match="Owner: None"):
        renderer.render("stage.started", minimal_context())


def test_a_reason_that_happens_to_say_none_is_not_a_leftover() -> None:
    ctx = full_context("stage.passed", reason="None of the gates fired in 20 minutes.")
    text = Renderer("en").render("stage.passed", ctx)
    assert "None of the gates fired in 20 minutes." in text


def test_filters_format_fractions_latencies_and_weights() -> None:
    assert pct(0.0213) == "2.13%"
    assert pct(0.02) == "2.00%"
    assert pct(None) == "n/a" and pct(math.nan) == "n/a"
    assert ms(123.4) == "123 ms" and ms(None) == "n/a"
    assert weight(25.0) == "25%" and weight(2.5) == "2.5%" and weight(100) == "100%"


def test_redact_replaces_every_secret_value() -> None:
    text = "posting to https://hooks.example/T0/abc123 with token s3cr3t and s3cr3t again"
    out = redact(text, ["abc123", "s3cr3t", "", None])
    assert "abc123" not in out and "s3cr3t" not in out
    assert out.count("[redacted]") == 3
    assert redact("nothing here", []) == "nothing here"


def test_redact_prefers_the_longest_overlapping_secret() -> None:
    assert redact("key=abcdef", ["abc", "abcdef"]) == "key=[redacted]"
