"""Monitoring in the admin console: managers browse every model; checks are saved through the
check service (bad parameters show on the form and write nothing); results, rollups, alerts and
samples are read-only; integrations are created on their page (the token is shown once there),
never in the admin; zones are written through the zone service (the default zone keeps its name
and stays); deleting a check here ends its firing alert as elsewhere; other roles are kept out."""

import pytest
from django.utils import timezone

from monitoring.models import Alert, Check, MetricRule, Zone
from monitoring.services import alerts
from tests.factories import CIFactory
from tests.monitoring.factories import (
    AlertFactory,
    CheckFactory,
    IntegrationFactory,
    MaintenanceWindowFactory,
    MetricRuleFactory,
    ZoneFactory,
    default_zone,
)

pytestmark = pytest.mark.django_db

MODELS = [
    "zone",
    "check",
    "checkresult",
    "checkrollup",
    "alert",
    "maintenancewindow",
    "integration",
    "metricrule",
    "metricsample",
]


@pytest.mark.parametrize("model", MODELS)
def test_a_manager_opens_each_changelist(maria_client, model):
    assert maria_client.get(f"/admin/monitoring/{model}/").status_code == 200


def test_a_manager_opens_the_change_pages(maria_client):
    check = CheckFactory()
    alert = AlertFactory(monitor=check, ci=check.ci)
    window = MaintenanceWindowFactory(cis=[check.ci])
    for path in (
        f"/admin/monitoring/check/{check.pk}/change/",
        f"/admin/monitoring/alert/{alert.pk}/change/",
        f"/admin/monitoring/maintenancewindow/{window.pk}/change/",
        f"/admin/monitoring/zone/{default_zone().pk}/change/",
        "/admin/monitoring/check/add/",
    ):
        assert maria_client.get(path).status_code == 200, path


@pytest.mark.parametrize("model", ["checkresult", "checkrollup", "alert", "metricsample", "integration"])
def test_rows_written_by_the_poller_or_with_a_token_cannot_be_added(maria_client, model):
    assert maria_client.get(f"/admin/monitoring/{model}/add/").status_code == 403


def check_form(ci, **fields):
    data = {
        "name": "Made in the admin",
        "ci": ci.pk,
        "kind": "tcp",
        "target": "127.0.0.1",
        "port": "5432",
        "params": "{}",
        "zone": default_zone().pk,
        "enabled": "on",
        "interval": "60",
        "timeout": "5",
        "max_attempts": "3",
        "retry_interval": "30",
        "recovery_threshold": "2",
        "auto_resolve": "on",
        "severity": "major",
        "results-TOTAL_FORMS": "0",
        "results-INITIAL_FORMS": "0",
    }
    return data | fields


def test_a_check_added_in_the_admin_goes_through_the_service(maria_client):
    ci = CIFactory()
    response = maria_client.post("/admin/monitoring/check/add/", check_form(ci))
    assert response.status_code == 302, response.content.decode()[:2000]
    check = Check.objects.get(name="Made in the admin")
    assert check.next_due_at is not None  # set by the service: the first run is scheduled


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"port": "70000"}, "port"), ({"interval": "1"}, "interval"), ({"target": "169.254.169.254"}, "target")],
)
def test_bad_parameters_show_on_the_admin_form_and_write_nothing(maria_client, fields, field):
    ci = CIFactory()
    response = maria_client.post("/admin/monitoring/check/add/", check_form(ci, **fields))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Check.objects.filter(name="Made in the admin").exists()


@pytest.mark.parametrize("who", ["alice", "victor"])
def test_agents_and_viewers_are_kept_out(client, people, who):
    client.force_login(people[who])
    for model in MODELS:
        response = client.get(f"/admin/monitoring/{model}/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"], model


def test_a_zone_added_in_the_admin_goes_through_the_service(maria_client):
    response = maria_client.post("/admin/monitoring/zone/add/", {"name": "dmz", "description": "The DMZ."})
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Zone.objects.get(name="dmz").description == "The DMZ."


def test_the_default_zone_keeps_its_name_in_the_admin_and_cannot_be_deleted_there(maria_client):
    zone = default_zone()
    response = maria_client.post(f"/admin/monitoring/zone/{zone.pk}/change/", {"name": "main", "description": ""})
    assert response.status_code == 200
    assert "keeps its name" in str(response.context["adminform"].form.errors["name"])
    assert maria_client.get(f"/admin/monitoring/zone/{zone.pk}/delete/").status_code == 403
    assert maria_client.post(f"/admin/monitoring/zone/{zone.pk}/delete/", {"post": "yes"}).status_code == 403
    assert b"delete_selected" not in maria_client.get("/admin/monitoring/zone/").content
    assert Zone.objects.filter(pk=zone.pk, name="default").exists()


def test_another_empty_zone_is_deleted_in_the_admin(maria_client):
    zone = ZoneFactory(name="lab")
    assert maria_client.post(f"/admin/monitoring/zone/{zone.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Zone.objects.filter(pk=zone.pk).exists()


def test_deleting_failing_checks_in_the_admin_ends_their_alerts_and_keeps_their_incidents(maria_client):
    one, two = CheckFactory(), CheckFactory()
    for check in (one, two):
        alerts.check_problem(check, status="down", message="Refused.", at=timezone.now())

    assert maria_client.post(f"/admin/monitoring/check/{one.pk}/delete/", {"post": "yes"}).status_code == 302
    response = maria_client.post(
        "/admin/monitoring/check/", {"action": "delete_selected", "_selected_action": [two.pk], "post": "yes"}
    )
    assert response.status_code == 302

    assert not Check.objects.exists()
    assert list(Alert.objects.values_list("status", flat=True)) == ["resolved", "resolved"]
    assert all(alert.incident.state == "new" for alert in Alert.objects.select_related("incident"))


def test_disabling_a_firing_rule_in_the_admin_ends_its_alert(maria_client):
    rule = MetricRuleFactory(name="CPU hot", metric="cpu.load")
    alert = AlertFactory(fingerprint=f"rule:{rule.pk}:ci:1", source="metric", rule=rule)
    form = {
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
    }  # "enabled" left out: unticked

    response = maria_client.post(f"/admin/monitoring/metricrule/{rule.pk}/change/", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert MetricRule.objects.get(pk=rule.pk).enabled is False


def test_an_integration_edited_in_the_admin_goes_through_the_service(maria_client):
    integration = IntegrationFactory(name="prometheus")
    form = {
        "name": "prometheus-eu",
        "enabled": "",
        "requests_per_minute": "10",
        "items_per_minute": "100",
        "default_severity": "minor",
    }
    response = maria_client.post(f"/admin/monitoring/integration/{integration.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    integration.refresh_from_db()
    assert (integration.name, integration.enabled, integration.requests_per_minute) == ("prometheus-eu", False, 10)
    url = f"/admin/monitoring/integration/{integration.pk}/change/"
    bad = maria_client.post(url, {**form, "items_per_minute": "0"})
    assert "items_per_minute" in bad.context["adminform"].form.errors
