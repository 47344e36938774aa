"""Monitoring's remaining pages in a real browser, each with what it is for:

1. a manager makes an Alertmanager integration and copies its token from the page; Alertmanager
   (httpx, over real HTTP to the live server) sends a firing alert with it; the alert is on the
   alerts list, its page shows its labels and the incident it opened; rotating the token makes
   the old one answer 401;
2. an agent writes a threshold metric rule for a CI; samples pushed with a metrics integration's
   token are on the rule's page and, once the worker's evaluation has run, so is its alert;
3. the zones page gives each zone its worker command;
4. an agent renames a check, reads the change on its History tab, then deletes it.
"""

import re

import httpx
import pytest
from playwright.sync_api import expect

from incidents.models import Incident
from itom.roles import AGENT
from monitoring.models import Alert, Check, Integration, MetricRule
from monitoring.services import metrics
from tests.e2e.conftest import sign_in
from tests.factories import CIFactory, UserFactory
from tests.monitoring.factories import CheckFactory, ZoneFactory, default_zone
from tests.monitoring.ingest_helpers import am_alert, am_payload, integration

pytestmark = pytest.mark.browser


@pytest.fixture
def signed_in_agent(page, transactional_db):
    default_zone()  # seeded by a migration that an earlier transactional test's flush emptied
    agent = UserFactory(username="alice", first_name="Alice", last_name="Agent", roles=[AGENT])
    sign_in(page, agent.username)
    page.wait_for_url("/")
    return agent


def post(live_server, path, token, payload):
    return httpx.post(
        f"{live_server.url}{path}", json=payload, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_a_manager_makes_an_alertmanager_integration_whose_alerts_open_an_incident(
    page, signed_in_manager, live_server
):
    CIFactory(name="web-01")
    page.goto("/monitoring/integrations/")
    page.get_by_role("link", name="New integration").click()
    page.get_by_label(re.compile(r"^Name")).fill("prometheus")
    page.get_by_label(re.compile(r"^Kind")).select_option("alertmanager")
    page.get_by_role("button", name="Save").click()

    integration = Integration.objects.get()
    expect(page.locator("h1")).to_contain_text("prometheus")
    token = page.locator("#token-value").inner_text().strip()
    assert token.startswith(f"itomi_{integration.token_prefix}_")
    expect(page.locator("#integration-url")).to_have_text(f"{live_server.url}/api/v1/monitoring/ingest/alertmanager/")

    path = "/api/v1/monitoring/ingest/alertmanager/"
    sent = post(live_server, path, token, am_payload(am_alert("a1b2c3", alertname="DiskFull", instance="web-01")))
    assert sent.status_code == 202, sent.text
    assert sent.json()["incidents_opened"] == 1
    alert = Alert.objects.get()
    incident = Incident.objects.get()
    assert (alert.incident_id, alert.ci.name) == (incident.pk, "web-01")

    # The alert is on the alerts list; its page shows its labels and its incident.
    page.goto("/monitoring/alerts/")
    row = page.locator("#alert-table .alert-row", has_text="DiskFull")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-status", "firing")
    row.get_by_role("link", name="DiskFull").click()
    expect(page).to_have_url(f"/monitoring/alerts/{alert.pk}/")
    expect(page.locator("#alert-labels .label-pair", has_text="instance=web-01")).to_have_count(1)
    expect(page.locator("#alert-occurrences")).to_have_text("1")
    page.locator("#alert-incident").get_by_role("link", name=incident.number).click()
    expect(page).to_have_url(incident.get_absolute_url())

    # Rotating the token: the page shows the new one once; the old one is refused.
    page.goto(integration.get_absolute_url())
    expect(page.locator("#token-value")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate token").click()
    new_token = page.locator("#token-value").inner_text().strip()
    assert new_token != token
    assert post(live_server, path, token, am_payload(am_alert("a1b2c3"))).status_code == 401
    again = post(live_server, path, new_token, am_payload(am_alert("a1b2c3", alertname="DiskFull", instance="web-01")))
    assert again.status_code == 202, again.text
    assert Incident.objects.count() == 1
    assert Alert.objects.get().occurrences == 2


def test_an_agent_writes_a_threshold_rule_and_sees_pushed_samples_and_its_alert(page, signed_in_agent, live_server):
    CIFactory(name="db-01")
    page.goto("/monitoring/rules/")
    page.get_by_role("link", name="New metric rule").click()
    page.get_by_label(re.compile(r"^Name")).fill("db load high")
    page.get_by_label(re.compile(r"^Metric")).fill("cpu.load")
    page.locator("#id_ci_search").press_sequentially("db-0", delay=20)
    page.locator("#rule-ci-results").get_by_role("option", name=re.compile(r"^db-01")).click()
    page.get_by_label(re.compile(r"^Kind")).select_option("threshold")
    expect(page.locator('[data-rule-kind="baseline"]')).to_be_hidden()
    page.get_by_label(re.compile(r"^Operator")).select_option("above")
    page.get_by_label(re.compile(r"^Threshold")).fill("0.9")
    page.get_by_label(re.compile(r"^For minutes")).fill("0")
    page.get_by_role("button", name="Save").click()

    rule = MetricRule.objects.get()
    expect(page).to_have_url(rule.get_absolute_url())
    expect(page.locator("#rule-condition")).to_contain_text("0.9")
    assert (rule.metric, rule.ci.name, rule.operator, float(rule.threshold)) == ("cpu.load", "db-01", "above", 0.9)

    _, token = integration("metrics")
    sample = {"ci": "db-01", "name": "cpu.load", "value": 3.5}
    pushed = post(live_server, "/api/v1/monitoring/metrics/", token, {"samples": [sample]})
    assert (pushed.status_code, pushed.json()) == (202, {"stored": 1}), pushed.text
    metrics.evaluate(rule.ci_id, "cpu.load")  # what the worker's evaluate_metric_rules task runs

    page.reload()
    expect(page.locator("#rule-samples tbody tr", has_text="db-01")).to_contain_text("3.5")
    alert = Alert.objects.get(rule=rule)
    expect(page.locator("#rule-alerts").get_by_role("link", name="db load high")).to_have_attribute(
        "href", alert.get_absolute_url()
    )


def test_the_zones_page_gives_each_zone_its_worker_command(page, signed_in_agent):
    ZoneFactory(name="dmz", description="The DMZ, polled from inside it")
    CheckFactory(name="dmz web", zone=default_zone())
    page.goto("/monitoring/zones/")
    dmz = page.locator('#zone-table .zone-row[data-zone="dmz"]')
    expect(dmz).to_contain_text("The DMZ, polled from inside it")
    expect(dmz.locator(".worker-command")).to_contain_text("-Q poll.dmz")
    expect(page.locator('#zone-table .zone-row[data-zone="default"] .worker-command')).to_contain_text(
        "-Q poll.default"
    )


def test_an_agent_renames_a_check_reads_its_history_and_deletes_it(page, signed_in_agent):
    check = CheckFactory(name="web port")
    page.goto(check.get_absolute_url())
    page.get_by_role("link", name="Edit").click()
    page.get_by_label(re.compile(r"^Name \*")).fill("web port 443")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(check.get_absolute_url())
    expect(page.locator("h1")).to_contain_text("web port 443")

    page.get_by_role("link", name="History").click()
    entry = page.locator(".change-entry").first
    expect(entry.locator("tr", has_text="Name").locator(".diff-after")).to_have_text("web port 443")

    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url("/monitoring/checks/")
    expect(page.get_by_role("alert")).to_contain_text("web port 443")
    assert not Check.objects.filter(pk=check.pk).exists()
