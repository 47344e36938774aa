"""The incident pages in a real browser: an agent opens an incident through the form (the
priority follows impact and urgency live, a CI is picked by search), assigns it (the assignee
list follows the team), puts it on hold, is told what a resolution needs, resolves it, and sees
the SLA badges change at each step; then the SLA and History tabs. A second test works the
queue: its tabs, a filter, and the bulk bar assigning the ticked incidents; and the home page's
incident panels."""

import re

import pytest
from playwright.sync_api import expect

from incidents.models import Incident
from incidents.services import incidents as services
from itom.roles import AGENT
from slas.models import BusinessCalendar
from tests.e2e.conftest import sign_in
from tests.factories import CIFactory, TeamFactory, UserFactory, ci_class, sla_policy

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/itom-incidents-{}.png"


@pytest.fixture
def agent(transactional_db):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Martin", roles=[AGENT])
    TeamFactory(name="Network", lead=alice, members=[alice])
    return alice


@pytest.fixture
def round_the_clock(transactional_db):
    """A 24 × 7 policy: the clocks count now, whatever the hour the test runs."""
    calendar = BusinessCalendar.objects.create(name="24 × 7", always_open=True, time_zone="Europe/Paris")
    return sla_policy(name="Round the clock", calendar=calendar)


def test_an_agent_opens_assigns_holds_and_resolves_an_incident_and_the_sla_badges_follow(page, agent, round_the_clock):
    CIFactory(name="mail-01", ci_class=ci_class("application"))
    sign_in(page, "alice")
    page.wait_for_url("/")

    # Open it: the priority badge follows impact × urgency as they change (htmx).
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Incidents").click()
    expect(page).to_have_url(re.compile(r"/incidents/$"))
    page.get_by_role("link", name="New incident").click()
    page.get_by_label(re.compile(r"^Title")).fill("Mail is down for the sales floor")
    page.get_by_label(re.compile(r"^Description")).fill("Outlook says the server is unavailable.")
    priority = page.locator("#incident-priority")
    expect(priority).to_contain_text("P5 · Planning")
    page.get_by_label(re.compile(r"^Impact")).select_option(label="1 - High")
    expect(priority).to_contain_text("P3 · Moderate")
    page.get_by_label(re.compile(r"^Urgency")).select_option(label="1 - High")
    expect(priority).to_contain_text("P1 · Critical")
    # Pick the affected CI from the CMDB search.
    page.get_by_label("Add a CI").press_sequentially("mail", delay=20)
    page.locator("#ci-search-results").get_by_role("option", name=re.compile(r"^mail-01")).click()
    expect(page.locator("#ci-picked .ci-chip")).to_have_count(1)
    expect(page.locator("#ci-picked")).to_contain_text("mail-01")
    page.screenshot(path=SCREENSHOTS.format("form"), full_page=True)
    page.get_by_role("button", name="Create incident").click()

    incident = Incident.objects.get()
    expect(page).to_have_url(f"/incidents/{incident.pk}/")
    assert incident.priority == 1 and list(incident.affected_cis.values_list("name", flat=True)) == ["mail-01"]
    badges = page.locator("#incident-sla-badges")
    response = badges.locator('[data-sla-metric="response"]')
    resolution = badges.locator('[data-sla-metric="resolution"]')
    expect(response).to_have_attribute("data-sla-state", "running")
    expect(resolution).to_have_attribute("data-sla-state", "running")
    expect(resolution).to_contain_text("On track")
    expect(page.locator("#affected-cis")).to_contain_text("mail-01")

    # Assign it: choosing the team brings its members into the assignee list.
    page.get_by_role("button", name="Assign…").click()
    assign = page.get_by_role("form", name="Assign")
    expect(assign.get_by_label("Assignee")).to_contain_text("Pick a team first")
    assign.get_by_label(re.compile(r"^Team")).select_option(label="Network")
    expect(assign.get_by_label("Assignee").locator("option", has_text="Alice Martin")).to_have_count(1)
    assign.get_by_label("Assignee").select_option(label="Alice Martin (alice)")
    assign.get_by_role("button", name="Save assignment").click()
    expect(page.get_by_role("alert")).to_contain_text(f"{incident.number} is assigned to alice")
    expect(page.locator("#incident-assignee")).to_contain_text("Alice Martin")
    # Taking it on is the first response: that clock stops, met.
    expect(response).to_have_attribute("data-sla-state", "met")
    expect(response).to_contain_text("Met")
    expect(resolution).to_have_attribute("data-sla-state", "running")

    # Put it on hold: the resolution clock pauses.
    page.get_by_role("button", name="Put on hold…").click()
    hold = page.get_by_role("form", name="Put on hold")
    hold.get_by_label(re.compile(r"^Hold reason")).select_option(label="Awaiting caller")
    hold.get_by_label("Note").fill("Asked Sam for the error screenshot.")
    hold.get_by_role("button", name="Put on hold").click()
    expect(page.locator("#incident-badges .state-badge")).to_have_text("On hold")
    expect(resolution).to_have_attribute("data-sla-state", "paused")
    expect(resolution).to_contain_text("Paused")
    expect(page.locator("#timeline")).to_contain_text("Asked Sam for the error screenshot.")

    # A resolution without notes is refused on its form, which stays open, and nothing changes.
    page.get_by_role("button", name="Resolve…").click()
    resolve = page.get_by_role("form", name="Resolve")
    resolve.get_by_label(re.compile(r"^Resolution code")).select_option(label="Solved (workaround)")
    resolve.get_by_role("button", name="Resolve incident").click()
    resolve = page.get_by_role("form", name="Resolve")
    expect(resolve).to_be_visible()
    expect(resolve).to_contain_text("Resolving needs resolution notes")
    expect(resolution).to_have_attribute("data-sla-state", "paused")
    incident.refresh_from_db()
    assert incident.state == "on_hold"
    page.screenshot(path=SCREENSHOTS.format("refused"), full_page=True)

    # With notes it resolves: the resolution clock stops, met.
    resolve.get_by_label(re.compile(r"^Resolution code")).select_option(label="Solved (workaround)")
    resolve.get_by_label(re.compile(r"^Resolution notes")).fill("Restarted the mail relay; root cause to follow.")
    resolve.get_by_role("button", name="Resolve incident").click()
    expect(page.get_by_role("alert")).to_contain_text(f"{incident.number} is now resolved.")
    expect(page.locator("#incident-badges .state-badge")).to_have_text("Resolved")
    expect(resolution).to_have_attribute("data-sla-state", "met")
    expect(resolution).to_contain_text("Met")
    expect(page.locator("#incident-resolution")).to_contain_text("Restarted the mail relay")
    expect(page.get_by_role("button", name="Reopen…")).to_be_visible()
    page.screenshot(path=SCREENSHOTS.format("resolved"), full_page=True)

    # A work note, then the SLA tab explains both clocks and History lists the changes.
    page.get_by_label("Work note (internal)").check()
    page.locator("#comment-form textarea").fill("Relay config saved in the wiki.")
    page.get_by_role("button", name="Add", exact=True).click()
    note = page.locator('#timeline-entries [data-kind="work_note"]')
    expect(note).to_contain_text("Relay config saved in the wiki.")
    expect(note).to_contain_text("internal")

    page.get_by_role("link", name="SLA", exact=True).click()
    expect(page).to_have_url(f"/incidents/{incident.pk}/sla/")
    expect(page.locator(".sla-timeline")).to_have_count(2)
    expect(page.locator("#sla-timeline-resolution .sla-segment-paused")).to_have_count(1)
    page.screenshot(path=SCREENSHOTS.format("sla"), full_page=True)
    page.get_by_role("link", name="History", exact=True).click()
    expect(page).to_have_url(f"/incidents/{incident.pk}/history/")
    expect(page.locator(".change-entry").first).to_be_visible()


def test_the_queue_tabs_filter_and_bulk_assign_and_the_home_panels(page, agent, round_the_clock):
    urgent = services.create_incident(user=agent, title="Payroll export fails", impact=1, urgency=1)
    minor = services.create_incident(user=agent, title="Printer toner low", impact=3, urgency=3)
    done = services.create_incident(user=agent, title="Old VPN issue", impact=3, urgency=2)
    services.transition(done, "canceled", user=agent, note="Duplicate")
    sign_in(page, "alice")
    page.wait_for_url("/")

    page.goto("/incidents/")
    rows = page.locator("#incident-table .incident-row")
    expect(rows).to_have_count(2)  # All open: the canceled one is left out
    expect(page.locator("#incident-queues .active")).to_have_text("All open")
    page.get_by_role("link", name="Unassigned").click()
    expect(page).to_have_url(re.compile(r"queue=unassigned"))
    expect(rows).to_have_count(2)
    page.get_by_role("link", name="All", exact=True).click()
    expect(rows).to_have_count(3)

    # Search narrows the table in place (htmx).
    page.get_by_label("Search").fill("payroll")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(urgent.number)
    page.get_by_role("link", name="Reset").click()

    # Tick both open incidents and assign them to the team in one go.
    page.get_by_role("link", name="All open").click()
    expect(rows).to_have_count(2)
    bar = page.get_by_role("form", name="Bulk actions")
    expect(bar.get_by_role("button", name="Assign", exact=True)).to_be_disabled()
    page.get_by_label("Select every incident on this page").check()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    bar.get_by_label("Team").select_option(label="Network")
    expect(bar.get_by_label("Assignee").locator("option", has_text="Alice Martin")).to_have_count(1)
    bar.get_by_label("Assignee").select_option(label="Alice Martin (alice)")
    bar.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Assigned 2 incidents to alice.")
    expect(page).to_have_url(re.compile(r"/incidents/\?queue=open"))
    assert set(Incident.objects.exclude(pk=done.pk).values_list("assignee__username", flat=True)) == {"alice"}
    page.get_by_role("link", name="My work").click()
    expect(rows).to_have_count(2)
    page.screenshot(path=SCREENSHOTS.format("queue"), full_page=True)

    # A state change the incident can't make is listed with the reason, the others done.
    page.get_by_role("link", name="All", exact=True).click()
    page.get_by_label("Select every incident on this page").check()
    bar.get_by_label("New state").select_option(label="In progress")
    bar.get_by_role("button", name="Change state").click()
    alerts = page.get_by_role("alert")
    expect(alerts.filter(has_text="Moved 2 incidents to in progress.")).to_have_count(1)
    expect(alerts.filter(has_text=f"{done.number}:")).to_have_count(1)

    # "Create problem" posts the ticked incidents to the problem page.
    page.get_by_role("link", name="All open").click()
    page.get_by_label(f"Select {urgent.number}").check()
    page.get_by_label(f"Select {minor.number}").check()
    bar.get_by_role("button", name="Create problem").click()
    expect(page).to_have_url(re.compile(r"/problems/\d+/$"))
    urgent.refresh_from_db()
    minor.refresh_from_db()
    assert urgent.problem is not None and urgent.problem == minor.problem

    # The home page: my work, and the open incidents by priority.
    page.goto("/")
    expect(page.locator("#panel-incidents_mine")).to_contain_text(urgent.number)
    expect(page.locator("#panel-incidents_mine")).to_contain_text(minor.number)
    expect(page.locator('#open-by-priority a[data-priority="1"] .priority-count-value')).to_have_text("1")
    expect(page.locator('#open-by-priority a[data-priority="5"] .priority-count-value')).to_have_text("1")
    page.locator('#open-by-priority a[data-priority="1"]').click()
    expect(page).to_have_url(re.compile(r"/incidents/\?queue=open&priority=1"))
    expect(rows).to_have_count(1)
