"""Monitoring in a real browser:

1. the overview shows a down check first and follows the database live (htmx polling): a check
   that goes down while the page is open joins the problems, the counts follow;
2. an agent writes a TCP check against a real local listener (a socket the test opens), presses
   "Test now" and sees "Up" with the latency; the listener closes, "Test now" again says "Down";
   bad input is said on its field; the check is saved;
3. a check's page draws its latency chart (Chart.js) and shows its uptime figures;
4. an agent adds a maintenance window for a CI picked from the CMDB search; it runs now;
5. a heartbeat check's page shows copy-paste curl lines — running the first one pings it up.
"""

import datetime as dt
import re
import shlex
import subprocess

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from itom.roles import AGENT
from monitoring.models import Check, CheckResult, MaintenanceWindow
from monitoring.views.overview import OverviewView
from tests.e2e.conftest import sign_in
from tests.factories import CIFactory, UserFactory
from tests.monitoring.factories import CheckFactory, default_zone
from tests.monitoring.servers import TCPServer

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/itom-monitoring-{}.png"


@pytest.fixture
def agent(transactional_db):
    default_zone()  # seeded by a migration that an earlier transactional test's flush emptied
    return UserFactory(username="alice", first_name="Alice", last_name="Agent", roles=[AGENT])


@pytest.fixture
def signed_in_agent(page, agent):
    sign_in(page, agent.username)
    page.wait_for_url("/")
    return agent


def ago(minutes):
    return timezone.now() - dt.timedelta(minutes=minutes)


def test_the_overview_shows_a_down_check_first_and_follows_the_database_live(page, signed_in_agent, monkeypatch):
    monkeypatch.setattr(OverviewView, "refresh_seconds", 1)  # the live server runs in this process
    CheckFactory(name="cache latency", state="warning", last_state_change_at=ago(1))
    CheckFactory(name="db port", state="down", last_state_change_at=ago(20))
    web = CheckFactory(name="web ping", state="up", last_state_change_at=ago(60))

    page.get_by_role("link", name="Monitoring", exact=True).click()
    expect(page).to_have_url("/monitoring/")
    rows = page.locator("#problems .problem-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("db port")
    expect(rows.first.locator(".state-badge")).to_have_text("Down")
    expect(page.locator('#state-counts [data-state="down"] .count')).to_have_text("1")

    # The poller marks the web check down: the open page follows without a reload.
    Check.objects.filter(pk=web.pk).update(state="down", last_state_change_at=timezone.now(), last_message="timed out")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("web ping")
    expect(rows.first).to_contain_text("timed out")
    expect(rows.nth(1)).to_contain_text("db port")
    expect(rows.nth(2)).to_contain_text("cache latency")
    expect(page.locator('#state-counts [data-state="down"] .count')).to_have_text("2")
    page.screenshot(path=SCREENSHOTS.format("overview"), full_page=True)


def test_an_agent_tests_a_tcp_check_against_a_real_listener_then_saves_it(page, signed_in_agent):
    CIFactory(name="db-01")
    listener = TCPServer()
    try:
        page.goto("/monitoring/checks/")
        page.get_by_role("link", name="New check").click()
        expect(page).to_have_url("/monitoring/checks/new/")
        page.get_by_label(re.compile(r"^Name \*")).fill("db port")
        page.locator("#id_ci_search").press_sequentially("db-0", delay=20)
        page.locator("#check-ci-results").get_by_role("option", name=re.compile(r"^db-01")).click()
        expect(page.locator("#id_ci_search")).to_have_value("db-01")
        page.get_by_label(re.compile(r"^Kind")).select_option("tcp")
        expect(page.locator('.kind-params[data-kind="tcp"]')).to_be_visible()
        expect(page.locator('.kind-params[data-kind="http"]')).to_be_hidden()
        page.get_by_label(re.compile(r"^Target")).fill("127.0.0.1")
        page.get_by_label(re.compile(r"^Port")).fill(str(listener.port))

        page.get_by_role("button", name="Test now").click()
        result = page.locator("#test-result .test-result")
        expect(result).to_have_attribute("data-outcome", "up")
        expect(result.locator(".status-badge")).to_have_text("Up")
        expect(result.locator(".test-latency")).to_have_text(re.compile(r"^\d+(\.\d)? ms$"))
        page.screenshot(path=SCREENSHOTS.format("test-up"), full_page=True)
    finally:
        listener.close()

    page.get_by_role("button", name="Test now").click()
    expect(result).to_have_attribute("data-outcome", "down")
    expect(result.locator(".status-badge")).to_have_text("Down")

    # A bad port is said on its field, nothing is run.
    page.get_by_label(re.compile(r"^Port")).fill("70000")
    page.get_by_role("button", name="Test now").click()
    expect(page.locator("#test-result .test-result")).to_have_attribute("data-outcome", "refused")
    expect(page.locator("#errors-port")).to_contain_text("65535")
    assert not Check.objects.exists()

    page.get_by_label(re.compile(r"^Port")).fill(str(listener.port))
    page.get_by_role("button", name="Create check").click()
    check = Check.objects.get()
    expect(page).to_have_url(f"/monitoring/checks/{check.pk}/")
    expect(page.locator("h1")).to_contain_text("db port")
    assert (check.kind, check.target, check.port, check.ci.name) == ("tcp", "127.0.0.1", listener.port, "db-01")


def test_a_checks_page_draws_its_latency_chart_and_shows_its_uptime(page, signed_in_agent):
    check = CheckFactory(name="web ping", state="up", last_checked_at=timezone.now(), last_latency_ms=14.2)
    for minutes, status, latency in ((40, "up", 12.0), (30, "up", 18.5), (20, "down", None), (10, "up", 14.2)):
        CheckResult.objects.create(monitor=check, at=ago(minutes), status=status, latency_ms=latency)
    page.goto(f"/monitoring/checks/{check.pk}/")
    expect(page.locator("#latency-chart")).to_be_visible()
    assert page.evaluate("() => Chart.getChart('latency-chart').data.datasets[0].data.length") == 3
    for period in ("24h", "7d", "30d"):
        expect(page.locator(f'#uptime [data-uptime="{period}"]')).to_have_text("75.00 %")
    expect(page.locator("#check-results .result-row")).to_have_count(4)
    page.screenshot(path=SCREENSHOTS.format("check"), full_page=True)


def test_an_agent_adds_a_maintenance_window_for_a_ci(page, signed_in_agent):
    CIFactory(name="web-01")
    start = timezone.localtime() - dt.timedelta(minutes=5)
    page.goto("/monitoring/maintenance/")
    page.get_by_role("link", name="New maintenance window").click()
    page.get_by_label(re.compile(r"^Name")).fill("Patch night")
    page.get_by_label(re.compile(r"^Start\b")).fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label(re.compile(r"^End\b")).fill((start + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Add a CI").press_sequentially("web", delay=20)
    page.locator("#ci-search-results").get_by_role("option", name=re.compile(r"^web-01")).click()
    expect(page.locator("#ci-picked .ci-chip")).to_have_count(1)
    page.get_by_role("button", name="Create window").click()
    window = MaintenanceWindow.objects.get()
    expect(page).to_have_url(f"/monitoring/maintenance/{window.pk}/")
    expect(page.locator("#window-running")).to_have_text("running now")
    expect(page.locator("#window-cis")).to_contain_text("web-01")
    assert [ci.name for ci in window.cis.all()] == ["web-01"]


def test_a_heartbeat_check_shows_curl_lines_that_ping_it(page, signed_in_agent, live_server):
    CIFactory(name="backup-01")
    page.goto("/monitoring/checks/new/")
    page.get_by_label(re.compile(r"^Name \*")).fill("nightly backup")
    page.locator("#id_ci_search").fill("backup-01")
    page.get_by_label(re.compile(r"^Kind")).select_option("heartbeat")
    expect(page.get_by_label(re.compile(r"^Target"))).to_be_hidden()
    page.get_by_label(re.compile(r"^Period")).fill("3600")
    page.get_by_role("button", name="Create check").click()
    check = Check.objects.get()
    expect(page).to_have_url(f"/monitoring/checks/{check.pk}/")

    setup = page.locator("#heartbeat-setup")
    url = f"{live_server.url}/ping/{check.uuid}"
    expect(setup.locator("#curl-success")).to_have_value(f"curl -fsS -m 10 --retry 5 -o /dev/null {url}")
    expect(setup.locator("#curl-start")).to_have_value(f"curl -fsS -m 10 --retry 5 -o /dev/null {url}/start")
    expect(setup.locator("#curl-fail")).to_have_value(f"curl -fsS -m 10 --retry 5 -o /dev/null {url}/fail")
    page.screenshot(path=SCREENSHOTS.format("heartbeat"), full_page=True)

    # The job runs the line: the check is pinged up.
    line = setup.locator("#curl-success").input_value()
    subprocess.run(shlex.split(line), check=True, timeout=30)
    page.reload()
    expect(page.locator("#check-state .state-badge")).to_have_text("Up")
    check.refresh_from_db()
    assert check.last_ping_at is not None
