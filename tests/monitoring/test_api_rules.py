"""``/api/v1/monitoring/rules/``: everyone reads the metric rules, agents write them; a threshold
rule needs its threshold."""

import pytest

from monitoring.api.views import MetricRuleViewSet
from monitoring.models import MetricRule
from tests.api_testing import APIEndpointTests
from tests.factories import CIFactory
from tests.monitoring.factories import AlertFactory, MetricRuleFactory

pytestmark = pytest.mark.django_db

RULES = "/api/v1/monitoring/rules/"
AGENTS_AND_UP = ("alice", "bob", "maria", "root")


class TestMetricRuleAPI(APIEndpointTests):
    viewset = MetricRuleViewSet
    url_name = "api:monitoring-rule"
    make_object = staticmethod(lambda: MetricRuleFactory())
    create_data = {
        "name": "CPU hot",
        "metric": "cpu.percent",
        "kind": "threshold",
        "operator": "above",
        "threshold": 90.0,
        "for_minutes": 5,
    }
    update_data = {"threshold": 95.0}
    invalid_data = {"operator": "sideways"}
    writers = AGENTS_AND_UP


def test_a_threshold_rule_without_a_threshold_is_refused(alice_api):
    response = alice_api.post(RULES, {"name": "CPU", "metric": "cpu.percent", "kind": "threshold"}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["threshold"]
    assert not MetricRule.objects.exists()


def test_removing_the_threshold_of_a_threshold_rule_is_refused(alice_api):
    rule = MetricRuleFactory()
    response = alice_api.patch(f"{RULES}{rule.pk}/", {"threshold": None}, format="json")
    assert response.status_code == 400
    assert "threshold" in response.json()
    rule.refresh_from_db()
    assert rule.threshold == 90.0


def test_a_baseline_rule_for_one_ci_needs_no_threshold(alice_api):
    ci = CIFactory()
    data = {"name": "Latency odd", "metric": "http.latency_ms", "kind": "baseline", "ci": ci.pk, "mad_factor": 4}
    response = alice_api.post(RULES, data, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["ci"], response.json()["min_samples"]) == (ci.pk, 10)


def test_a_metric_name_with_spaces_is_refused(alice_api):
    data = {"name": "CPU", "metric": "cpu percent", "kind": "threshold", "threshold": 1}
    response = alice_api.post(RULES, data, format="json")
    assert response.status_code == 400
    assert "metric" in response.json()


def test_deleting_a_firing_rule_through_the_api_ends_its_alert(alice_api):
    rule = MetricRuleFactory(name="CPU hot", metric="cpu.load")
    alert = AlertFactory(fingerprint=f"rule:{rule.pk}:ci:1", source="metric", rule=rule)

    assert alice_api.delete(f"/api/v1/monitoring/rules/{rule.pk}/").status_code == 204

    alert.refresh_from_db()
    assert (alert.status, alert.rule) == ("resolved", None)
