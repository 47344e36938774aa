"""The monitoring overview, its live part, the home-page panel, the navigation entry and the CI
page's checks: everyone who sees checks reads them; problems come first, worst state first and
the latest change first; anonymous people are sent to sign in."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.monitoring.factories import AlertFactory, CheckFactory
from tests.monitoring.pages import assert_sends_to_sign_in, text_of

pytestmark = pytest.mark.django_db


def ago(minutes):
    return timezone.now() - dt.timedelta(minutes=minutes)


def problem_names(response):
    return [check.name for check in response.context["problems"]]


def test_the_overview_counts_checks_by_state_and_lists_problems_worst_first(client, victor):
    CheckFactory(name="web ping", state="up")
    CheckFactory(name="old warning", state="warning", last_state_change_at=ago(60))
    CheckFactory(name="db port", state="down", last_state_change_at=ago(30))
    CheckFactory(name="dns answer", state="down", last_state_change_at=ago(5))
    CheckFactory(name="behind the router", state="unreachable", last_state_change_at=ago(1))
    CheckFactory(name="cert expiry", state="unknown", last_state_change_at=ago(2))
    CheckFactory(name="switched off", state="down", enabled=False)
    client.force_login(victor)
    response = client.get("/monitoring/")
    assert response.status_code == 200
    assert problem_names(response) == ["dns answer", "db port", "cert expiry", "old warning", "behind the router"]
    counts = {state: count for state, _, count in response.context["counts"]}
    assert counts["down"] == 2 and counts["up"] == 1 and counts["unreachable"] == 1 and counts["pending"] == 0
    assert [state for state, _, _ in response.context["counts"]][:2] == ["down", "unknown"]
    assert response.context["problem_total"] == 5
    body = text_of(response)
    assert 'hx-trigger="every 10s"' in body and "/monitoring/overview/live/" in body
    assert "New check" not in body  # viewers read


def test_the_live_part_answers_the_counts_and_problems_alone(client, victor):
    check = CheckFactory(name="db port", state="up")
    client.force_login(victor)
    assert problem_names(client.get("/monitoring/overview/live/")) == []
    check.state = "down"
    check.save()
    response = client.get("/monitoring/overview/live/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert problem_names(response) == ["db port"]
    body = text_of(response)
    assert body.lstrip().startswith('<div id="overview-live"') and "<html" not in body


def test_the_overview_lists_the_firing_alerts_newest_first(client, victor):
    AlertFactory(name="Old storm", last_seen=ago(50), first_seen=ago(60))
    AlertFactory(name="Disk full", last_seen=ago(1), first_seen=ago(10))
    AlertFactory(name="Long gone", status="resolved", resolved_at=ago(5))
    client.force_login(victor)
    response = client.get("/monitoring/")
    assert [alert.name for alert in response.context["alerts"]] == ["Disk full", "Old storm"]
    assert response.context["firing_total"] == 2


def test_agents_are_offered_to_add_checks_and_windows(client, alice):
    client.force_login(alice)
    body = text_of(client.get("/monitoring/"))
    assert 'href="/monitoring/checks/new/"' in body and 'href="/monitoring/maintenance/new/"' in body


def test_anonymous_people_are_sent_to_sign_in(client):
    assert_sends_to_sign_in(client, "/monitoring/", "/monitoring/overview/live/")


def test_the_navigation_has_monitoring_and_the_home_page_a_problems_panel(client, victor):
    CheckFactory(name="db port", state="down")
    CheckFactory(name="web ping", state="up")
    client.force_login(victor)
    response = client.get("/")
    body = text_of(response)
    assert 'href="/monitoring/"' in body
    assert 'id="panel-monitoring_problems"' in body and "Monitoring problems" in body
    panel = {panel.key: context for panel, context in response.context["panels"]}["monitoring_problems"]
    assert [check.name for check in panel["problems"]] == ["db port"]
    assert "db port" in body


def test_the_ci_page_lists_its_checks_with_their_state(client, victor):
    check = CheckFactory(name="db port", state="down")
    CheckFactory(name="db ping", state="up", ci=check.ci)
    client.force_login(victor)
    body = text_of(client.get(check.ci.get_absolute_url()))
    assert "Monitoring checks" in body
    assert "db port · Down" in body and "db ping · Up" in body
    assert f'href="/monitoring/checks/{check.pk}/"' in body
    assert f'href="/monitoring/checks/?ci={check.ci.pk}"' in body


def test_the_overview_costs_a_bounded_number_of_queries(client, victor, django_assert_max_num_queries):
    for i in range(30):
        check = CheckFactory(name=f"check {i}", state="down" if i % 2 else "warning", last_state_change_at=ago(i))
        AlertFactory(name=f"alert {i}", ci=check.ci, monitor=check)
    client.force_login(victor)
    with django_assert_max_num_queries(12):
        response = client.get("/monitoring/")
    assert len(response.context["problems"]) == 30 and len(response.context["alerts"]) == 10
    with django_assert_max_num_queries(8):
        client.get("/monitoring/overview/live/")
