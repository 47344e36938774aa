"""The metric-rule pages: viewers read them (the rule, its latest samples, its alerts); agents add
threshold and baseline rules (for one CI picked by search, or every CI), edit and delete them; a
threshold rule without a threshold is refused on its field with nothing written."""

import pytest
from django.utils import timezone

from monitoring.models import MetricRule, MetricSample
from tests.factories import CIFactory
from tests.monitoring.factories import AlertFactory, MetricRuleFactory
from tests.monitoring.pages import assert_refused, assert_sends_to_sign_in, names, text_of

pytestmark = pytest.mark.django_db


RULE = {
    "name": "CPU hot",
    "metric": "cpu.load",
    "kind": "threshold",
    "operator": "above",
    "threshold": "90",
    "for_minutes": "5",
    "window_minutes": "60",
    "mad_factor": "5",
    "min_samples": "10",
    "severity": "major",
    "enabled": "on",
}


def test_viewers_list_rules_and_read_one(client, victor):
    web = CIFactory(name="web-01")
    rule = MetricRuleFactory(name="CPU hot", metric="cpu.load", ci=web)
    MetricSample.objects.create(ci=web, name="cpu.load", value=97.5, time=timezone.now())
    AlertFactory(name="CPU hot on web-01", rule=rule, ci=web, source="metric")
    client.force_login(victor)
    response = client.get("/monitoring/rules/")
    assert names(response) == ["CPU hot"] and "New metric rule" not in text_of(response)
    body = text_of(client.get(f"/monitoring/rules/{rule.pk}/"))
    assert "97.5" in body and "CPU hot on web-01" in body and "cpu.load" in body
    assert f"/monitoring/rules/{rule.pk}/edit/" not in body


def test_an_agent_adds_a_threshold_rule_for_a_ci_and_a_baseline_rule_for_all(client, alice):
    web = CIFactory(name="web-01")
    client.force_login(alice)
    assert client.get("/monitoring/rules/new/").status_code == 200
    response = client.post("/monitoring/rules/new/", {**RULE, "ci": web.pk, "ci_search": "web-01"})
    rule = MetricRule.objects.get()
    assert response["Location"] == f"/monitoring/rules/{rule.pk}/"
    assert (rule.ci, rule.threshold, rule.for_minutes) == (web, 90.0, 5)
    assert "above 90 for 5 min" in text_of(client.get(rule.get_absolute_url()))
    client.post("/monitoring/rules/new/", {**RULE, "name": "Odd latency", "kind": "baseline", "threshold": ""})
    baseline = MetricRule.objects.get(name="Odd latency")
    assert baseline.ci is None and baseline.kind == "baseline"


def test_a_threshold_rule_without_a_threshold_is_refused_on_the_field(client, alice):
    client.force_login(alice)
    response = client.post("/monitoring/rules/new/", {**RULE, "threshold": ""})
    assert response.status_code == 200
    assert response.context["form"].errors["threshold"] == ["A threshold rule needs its threshold."]
    bad_ci = client.post("/monitoring/rules/new/", {**RULE, "ci_search": "no-such-ci"})
    assert "ci_search" in bad_ci.context["form"].errors
    assert not MetricRule.objects.exists()


def test_an_agent_edits_and_deletes_a_rule(client, alice):
    rule = MetricRuleFactory(name="CPU hot", metric="cpu.load")
    client.force_login(alice)
    response = client.post(f"/monitoring/rules/{rule.pk}/edit/", {**RULE, "threshold": "95"})
    assert response["Location"] == f"/monitoring/rules/{rule.pk}/"
    rule.refresh_from_db()
    assert rule.threshold == 95.0
    assert client.get(f"/monitoring/rules/{rule.pk}/history/").context["changes"]
    client.post(f"/monitoring/rules/{rule.pk}/delete/")
    assert not MetricRule.objects.exists()


def test_viewers_may_not_write_rules(client, victor):
    rule = MetricRuleFactory(name="CPU hot")
    client.force_login(victor)
    assert_refused(
        client,
        get=["/monitoring/rules/new/"],
        post=[(f"/monitoring/rules/{rule.pk}/edit/", RULE), f"/monitoring/rules/{rule.pk}/delete/"],
    )
    assert MetricRule.objects.get().name == "CPU hot"


def test_the_list_costs_a_bounded_number_of_queries(client, victor, django_assert_max_num_queries):
    for i in range(20):
        MetricRuleFactory(name=f"Rule {i}", ci=CIFactory())
    client.force_login(victor)
    with django_assert_max_num_queries(10):
        assert len(client.get("/monitoring/rules/").context["rows"]) == 20


def test_anonymous_people_are_sent_to_sign_in(client):
    rule = MetricRuleFactory()
    assert_sends_to_sign_in(client, "/monitoring/rules/", f"/monitoring/rules/{rule.pk}/", "/monitoring/rules/new/")


def test_disabling_a_firing_rule_on_its_page_ends_its_alert(client, alice):
    rule = MetricRuleFactory(name="CPU hot", metric="cpu.load")
    alert = AlertFactory(fingerprint=f"rule:{rule.pk}:ci:1", source="metric", rule=rule)
    client.force_login(alice)

    response = client.post(f"/monitoring/rules/{rule.pk}/edit/", {**RULE, "enabled": ""})

    assert response["Location"] == f"/monitoring/rules/{rule.pk}/"
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert MetricRule.objects.get(pk=rule.pk).enabled is False
