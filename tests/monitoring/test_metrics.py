"""Pushed metrics (``POST /api/v1/monitoring/metrics/``) and the rules that watch them.

Samples come in batches, from a metrics integration's token or an agent's API token; a bad sample
is a 400 naming it (``samples[3].value``) and nothing of the batch is stored. After they are
stored, the rules watching each series run (once per series): a threshold rule fires when the value
has been beyond its threshold for ``for_minutes`` and resolves when it is back; a baseline rule
flags a value more than ``mad_factor`` scaled MADs from the median of its window as a warning —
and leaves normal noise alone. The figures below are worked out by hand."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Alert, MetricSample
from monitoring.services import metrics, rules
from tests.factories import CIFactory
from tests.itom.notifying import eager_celery  # noqa: F401
from tests.monitoring.factories import MetricRuleFactory
from tests.monitoring.ingest_helpers import METRICS, client_for, integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def t0():
    """A whole minute half an hour ago: the samples' clock."""
    return timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=30)


@pytest.fixture
def db01():
    return CIFactory(name="db-01", fqdn="db-01.example.com")


def push(ci, name, points, start):
    """Store ``points`` (``[(minutes after start, value)]``) as samples of ``ci``'s ``name``."""
    rows = [
        {"ci": ci.pk, "name": name, "value": v, "time": (start + timedelta(minutes=m)).isoformat()} for m, v in points
    ]
    return metrics.ingest(rows)


def firing(fingerprint):
    return Alert.objects.filter(fingerprint=fingerprint, status="firing").first()


# --- pushing samples ---------------------------------------------------------------------------


def test_an_agent_pushes_a_batch_of_samples(alice_api, db01, t0):
    web = CIFactory(name="web-01")
    samples = [
        {"ci": db01.pk, "name": "cpu.percent", "value": 42.5, "unit": "%", "time": t0.isoformat()},
        {
            "ci": "db-01",
            "name": "cpu.percent",
            "value": 43,
            "unit": "%",
            "time": (t0 + timedelta(minutes=1)).isoformat(),
        },
        {"ci": "db-01.example.com", "name": "disk.used_bytes", "value": 1.5e12, "unit": "bytes"},
        {"ci": str(web.pk), "name": "http.latency_ms", "value": 12, "time": t0.timestamp()},
    ]
    response = alice_api.post(METRICS, {"samples": samples}, format="json")
    assert response.status_code == 202, response.content
    assert response.json() == {"stored": 4}
    rows = list(MetricSample.objects.order_by("name", "time").values_list("ci__name", "name", "value", "unit", "time"))
    assert rows[0] == ("db-01", "cpu.percent", 42.5, "%", t0)
    assert rows[1] == ("db-01", "cpu.percent", 43.0, "%", t0 + timedelta(minutes=1))
    assert rows[2][:4] == ("db-01", "disk.used_bytes", 1.5e12, "bytes")
    assert rows[3] == ("web-01", "http.latency_ms", 12.0, "", t0)


def test_a_metrics_integration_pushes_samples_and_another_kind_cannot(db01):
    _, token = integration("metrics")
    sample = {"samples": [{"ci": db01.pk, "name": "cpu.percent", "value": 1}]}
    assert client_for(token).post(METRICS, sample, format="json").status_code == 202
    _, events_token = integration("events")
    assert client_for(events_token).post(METRICS, sample, format="json").status_code == 403
    assert client_for(token).get(METRICS).status_code == 403  # an integration pushes; people read
    assert MetricSample.objects.count() == 1


def test_viewers_read_samples_but_cannot_push(victor_api, db01, t0):
    push(db01, "cpu.percent", [(0, 10), (1, 20), (2, 30)], t0)
    push(CIFactory(), "cpu.percent", [(0, 99)], t0)
    sample = {"samples": [{"ci": db01.pk, "name": "cpu.percent", "value": 1}]}
    assert victor_api.post(METRICS, sample, format="json").status_code == 403
    params = {"ci": db01.pk, "name": "cpu.percent", "since": (t0 + timedelta(minutes=1)).isoformat()}
    body = victor_api.get(METRICS, params).json()
    assert [row["value"] for row in body["results"]] == [30.0, 20.0]


@pytest.mark.parametrize(
    ("sample", "field"),
    [
        ({"value": "high"}, "samples[3].value"),
        ({"value": None}, "samples[3].value"),
        ({"value": True}, "samples[3].value"),
        ({"ci": "no-such-ci"}, "samples[3].ci"),
        ({"ci": None}, "samples[3].ci"),
        ({"name": "cpu percent"}, "samples[3].name"),
        ({"name": ""}, "samples[3].name"),
        ({"time": "last tuesday"}, "samples[3].time"),
        ({"time": "2025-03-31T10:00:00"}, "samples[3].time"),
        ({"time": "2999-01-01T00:00:00Z"}, "samples[3].time"),
        ({"unit": "u" * 21}, "samples[3].unit"),
        ({"colour": "blue"}, "samples[3].colour"),
    ],
)
def test_a_bad_sample_is_a_400_naming_it_and_nothing_is_stored(alice_api, db01, sample, field):
    good = {"ci": db01.pk, "name": "cpu.percent", "value": 1.0}
    response = alice_api.post(METRICS, {"samples": [good, good, good, {**good, **sample}]}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == [field]
    assert not MetricSample.objects.exists()


def test_no_samples_is_a_400(alice_api):
    assert list(alice_api.post(METRICS, {"samples": []}, format="json").json()) == ["samples"]
    assert list(alice_api.post(METRICS, {"samples": "cpu=1"}, format="json").json()) == ["samples"]


# --- threshold rules ---------------------------------------------------------------------------


def test_a_value_above_the_threshold_for_n_minutes_fires_and_back_below_resolves(db01, t0):
    rule = MetricRuleFactory(name="CPU hot", metric="cpu.percent", threshold=90, for_minutes=5, severity="major")
    key = metrics.fingerprint(rule.pk, db01.pk)
    push(db01, "cpu.percent", [(m, 95) for m in range(5)], t0)  # minutes 0-4: 4 minutes above
    assert metrics.evaluate(db01.pk, "cpu.percent") == {rule.pk: "no verdict"}
    assert firing(key) is None
    push(db01, "cpu.percent", [(5, 96)], t0)  # minute 5: above since minute 0, five minutes
    assert metrics.evaluate(db01.pk, "cpu.percent") == {rule.pk: "firing"}
    alert = firing(key)
    assert (alert.source, alert.severity, alert.ci, alert.rule) == ("metric", "major", db01, rule)
    assert alert.summary == "cpu.percent = 96: above 90 for 5 minutes or more."
    assert alert.incident is not None
    push(db01, "cpu.percent", [(6, 80)], t0)
    assert metrics.evaluate(db01.pk, "cpu.percent") == {rule.pk: "resolved"}
    assert firing(key) is None
    assert Alert.objects.get(fingerprint=key).status == "resolved"


def firing_rule(db01, t0, **fields):
    """A threshold rule on db-01's cpu.percent that fires, with its alert's incident."""
    rule = MetricRuleFactory(name="CPU hot", metric="cpu.percent", threshold=90, for_minutes=0, **fields)
    push(db01, "cpu.percent", [(0, 95)], t0)
    assert metrics.evaluate(db01.pk, "cpu.percent") == {rule.pk: "firing"}
    return rule, firing(metrics.fingerprint(rule.pk, db01.pk))


def test_disabling_a_firing_rule_ends_its_alert_and_leaves_the_incident_open_with_a_note(db01, t0, alice):
    rule, alert = firing_rule(db01, t0)

    rules.update_rule(rule, user=alice, enabled=False)

    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert alert.incident.state == "new"
    notes = alert.incident.timeline.filter(kind="work_note").values_list("body", flat=True)
    assert any("the metric rule was disabled by alice" in body for body in notes)
    # Nothing evaluates a disabled rule: a new sample leaves it be.
    push(db01, "cpu.percent", [(1, 97)], t0)
    assert metrics.evaluate(db01.pk, "cpu.percent") == {}
    assert firing(alert.fingerprint) is None


def test_deleting_a_firing_rule_ends_its_alert(db01, t0, alice):
    rule, alert = firing_rule(db01, t0)

    rules.delete_rule(rule, user=alice)

    alert.refresh_from_db()
    assert (alert.status, alert.rule, alert.incident.state) == ("resolved", None, "new")


def test_editing_a_firing_rule_that_stays_enabled_keeps_its_alert(db01, t0, alice):
    rule, alert = firing_rule(db01, t0)

    rules.update_rule(rule, user=alice, name="CPU very hot", threshold=92)

    alert.refresh_from_db()
    assert alert.status == "firing"


def test_a_dip_below_the_threshold_restarts_the_count(db01, t0):
    rule = MetricRuleFactory(metric="cpu.percent", threshold=90, for_minutes=5)
    push(db01, "cpu.percent", [(0, 95), (1, 95), (2, 85), (3, 95), (4, 95), (5, 95)], t0)
    assert metrics.evaluate(db01.pk, "cpu.percent") == {rule.pk: "no verdict"}
    push(db01, "cpu.percent", [(7, 95), (8, 95)], t0)  # above since minute 3: five minutes at minute 8
    assert metrics.evaluate(db01.pk, "cpu.percent") == {rule.pk: "firing"}


def test_a_below_rule_fires_on_low_values(db01, t0):
    rule = MetricRuleFactory(metric="memory.free_mb", operator="below", threshold=100, for_minutes=2)
    push(db01, "memory.free_mb", [(0, 80), (1, 50), (2, 40)], t0)
    assert metrics.evaluate(db01.pk, "memory.free_mb") == {rule.pk: "firing"}
    assert "below 100 for 2 minutes" in firing(metrics.fingerprint(rule.pk, db01.pk)).summary


def test_a_rule_for_one_ci_leaves_the_others_alone_and_a_rule_for_none_watches_every_ci(db01, t0):
    web = CIFactory(name="web-01")
    only_web = MetricRuleFactory(metric="cpu.percent", threshold=90, for_minutes=0, ci=web)
    everywhere = MetricRuleFactory(metric="cpu.percent", threshold=50, for_minutes=0)
    push(db01, "cpu.percent", [(0, 95)], t0)
    assert metrics.evaluate(db01.pk, "cpu.percent") == {everywhere.pk: "firing"}
    assert firing(metrics.fingerprint(only_web.pk, db01.pk)) is None


@pytest.mark.usefixtures("eager_celery")
def test_pushed_samples_run_the_rules_once_per_series_after_the_commit(
    alice_api, db01, t0, django_capture_on_commit_callbacks
):
    rule = MetricRuleFactory(metric="cpu.percent", threshold=90, for_minutes=2)
    MetricRuleFactory(metric="disk.percent", threshold=90, for_minutes=0, enabled=False)
    samples = [
        {"ci": db01.pk, "name": "cpu.percent", "value": 97, "time": (t0 + timedelta(minutes=m)).isoformat()}
        for m in range(3)
    ] + [{"ci": db01.pk, "name": "disk.percent", "value": 99}, {"ci": db01.pk, "name": "load", "value": 9}]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = alice_api.post(METRICS, {"samples": samples}, format="json")
    assert response.status_code == 202, response.content
    assert len(callbacks) == 1  # cpu.percent of db-01: the only watched series
    assert firing(metrics.fingerprint(rule.pk, db01.pk)) is not None
    assert Alert.objects.count() == 1


# --- baseline rules ----------------------------------------------------------------------------

# Ten earlier values: sorted 97 98 99 99 100 100 101 101 102 103 → median 100. Their distances
# from it: 0 2 2 1 1 3 3 0 1 1 → sorted 0 0 1 1 1 1 2 2 3 3 → median 1, so MAD = 1.4826 × 1.
# 110 is 10 / 1.4826 = 6.74 MADs away (over 5: an anomaly); 106 is 6 / 1.4826 = 4.05 (noise).
BASELINE = [100, 102, 98, 101, 99, 103, 97, 100, 101, 99]


def baseline_rule(**fields):
    defaults = {"metric": "http.latency_ms", "kind": "baseline", "threshold": None, "mad_factor": 5}
    defaults.update(window_minutes=60, min_samples=10, severity="critical")
    return MetricRuleFactory(**{**defaults, **fields})


def test_a_value_far_from_the_median_is_flagged_as_a_warning(db01, t0):
    rule = baseline_rule()
    push(db01, "http.latency_ms", [*enumerate(BASELINE), (10, 110)], t0)
    assert metrics.evaluate(db01.pk, "http.latency_ms") == {rule.pk: "firing"}
    alert = firing(metrics.fingerprint(rule.pk, db01.pk))
    assert alert.severity == "warning"  # a baseline anomaly is a warning, whatever the rule's severity
    assert alert.summary == (
        "http.latency_ms = 110: 6.7 MADs from the median 100 of the last 60 minutes (MAD 1.483, limit 5)."
    )
    assert alert.incident.urgency == 3


def test_normal_noise_is_not_flagged_and_a_value_back_in_line_resolves(db01, t0):
    rule = baseline_rule()
    push(db01, "http.latency_ms", [*enumerate(BASELINE), (10, 106)], t0)
    assert metrics.evaluate(db01.pk, "http.latency_ms") == {rule.pk: "resolved"}
    assert not Alert.objects.exists()
    push(db01, "http.latency_ms", [(11, 110)], t0)  # the 106 joins the baseline: median 100, MAD still 1.4826
    assert metrics.evaluate(db01.pk, "http.latency_ms") == {rule.pk: "firing"}
    push(db01, "http.latency_ms", [(12, 101)], t0)
    assert metrics.evaluate(db01.pk, "http.latency_ms") == {rule.pk: "resolved"}
    assert Alert.objects.get().status == "resolved"


def test_a_low_outlier_is_flagged_too(db01, t0):
    rule = baseline_rule()
    push(db01, "http.latency_ms", [*enumerate(BASELINE), (10, 90)], t0)
    assert metrics.evaluate(db01.pk, "http.latency_ms") == {rule.pk: "firing"}


def test_too_few_samples_or_a_flat_series_give_no_verdict(db01, t0):
    rule = baseline_rule()
    push(db01, "http.latency_ms", [*enumerate(BASELINE[:9]), (9, 500)], t0)  # nine earlier values
    assert metrics.evaluate(db01.pk, "http.latency_ms") == {rule.pk: "no verdict"}
    flat = CIFactory()
    push(flat, "http.latency_ms", [*((m, 100) for m in range(12)), (12, 500)], t0)
    assert metrics.evaluate(flat.pk, "http.latency_ms") == {rule.pk: "no verdict"}
    assert not Alert.objects.exists()


def test_only_the_window_counts_for_the_baseline(db01, t0):
    rule = baseline_rule(window_minutes=15)
    old = [(m, 1000 + 50 * (m % 3)) for m in range(10)]  # minutes 0-9: another regime, outside the window
    recent = [(20 + m, v) for m, v in enumerate(BASELINE)]  # minutes 20-29
    push(db01, "http.latency_ms", [*old, *recent, (30, 110)], t0)
    assert metrics.evaluate(db01.pk, "http.latency_ms") == {rule.pk: "firing"}


def test_the_median_and_mad_are_as_worked_out_by_hand():
    rule = baseline_rule()
    assert metrics.baseline_verdict(rule, 110, BASELINE)[0] is True
    assert metrics.baseline_verdict(rule, 106, BASELINE) == (False, "")
    assert metrics.baseline_verdict(rule, 107.4, BASELINE)[0] is False  # 7.4 / 1.4826 = 4.99
    assert metrics.baseline_verdict(rule, 107.5, BASELINE)[0] is True  # 7.5 / 1.4826 = 5.06
