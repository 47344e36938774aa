"""Change management in a real browser:

1. the loop: an agent requests a change from an incident (the incident goes on hold), edits it,
   assesses it, answers the risk questionnaire and requests approval; the approver finds it on
   the home page and approves it on its page (it is scheduled); the agent implements and closes
   it, and the incident shows resolved; the History tab lists the edits;
2. the calendar shows the change (month and week, the subscribe box) and the CAB page lists an
   emergency change awaiting the emergency CAB;
3. templates: an agent writes a draft, another manager approves it, and "Use" in the catalogue
   makes a standard change that is scheduled at once;
4. blackout windows: a manager adds one through the form, the calendar shades it, a standard
   change can't be scheduled into it (the window is named), then the manager deletes it.
"""

import datetime as dt
import importlib
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Team
from changes.models import BlackoutWindow, ChangeRequest, StandardChangeTemplate
from changes.services import changes as services
from incidents.services import incidents as incident_services
from itom.roles import AGENT, APPROVER, MANAGER
from tests.e2e.conftest import sign_in
from tests.factories import CIFactory, TeamFactory, TemplateFactory, UserFactory, ci_class, new_change

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/itom-changes-{}.png"


@pytest.fixture(autouse=True)
def change_defaults(transactional_db):
    """The risk questionnaire, the CABs and the approval policies come from a data migration that
    an earlier transactional test's flush emptied: seed them again (the seeding is idempotent)."""
    from django.apps import apps

    importlib.import_module("changes.migrations.0002_defaults").seed(apps, None)


@pytest.fixture
def agent(transactional_db):
    return UserFactory(username="alice", first_name="Alice", last_name="Agent", roles=[AGENT])


@pytest.fixture
def approver(transactional_db):
    return UserFactory(username="nina", first_name="Nina", last_name="Approver", roles=[APPROVER])


@pytest.fixture
def team(agent, approver):
    return TeamFactory(name="Network", lead=agent, members=[agent, approver])


def sign_out_and_in(page, username):
    page.context.clear_cookies()
    sign_in(page, username)
    page.wait_for_url("/")


def local(value):
    return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")


def test_request_approve_schedule_implement_close_resolves_the_incident(page, agent, approver, team):
    router = CIFactory(name="edge-router-01", ci_class=ci_class("network-device"))
    incident = incident_services.create_incident(
        user=agent,
        title="Packet loss to the branch office",
        impact=2,
        urgency=3,
        assignment_team=team,
        affected_cis=[router],
    )
    assert incident.priority > 2  # a normal change is proposed
    sign_in(page, "alice")
    page.wait_for_url("/")

    # Request the change from the incident: the form comes pre-filled.
    page.goto(f"/incidents/{incident.pk}/")
    page.get_by_role("link", name="Request change").click()
    expect(page.get_by_role("heading", name=f"Request a change for {incident.number}")).to_be_visible()
    expect(page.get_by_label(re.compile(r"^Title"))).to_have_value(
        f"Fix for {incident.number}: Packet loss to the branch office"
    )
    expect(page.locator("#ci-picked")).to_contain_text("edge-router-01")
    start = (timezone.now() + dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    page.get_by_label(re.compile(r"^Planned start")).fill(local(start))
    page.get_by_label(re.compile(r"^Planned end")).fill(local(start + dt.timedelta(hours=2)))
    page.get_by_label(re.compile(r"^Implementation plan")).fill("Replace the SFP on port 7.")
    page.get_by_label(re.compile(r"^Backout plan")).fill("Put the old SFP back.")
    page.screenshot(path=SCREENSHOTS.format("request"), full_page=True)
    page.get_by_role("button", name="Request change").click()

    change = ChangeRequest.objects.get()
    expect(page).to_have_url(f"/changes/{change.pk}/")
    expect(page.locator("#change-badges .state-badge")).to_have_text("New")
    expect(page.locator("#linked-incidents")).to_contain_text(incident.number)
    expect(page.locator("#affected-cis")).to_contain_text("edge-router-01")

    # Edit it: assign it to a person.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Assignee").select_option(label="Alice Agent (alice)")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#change-assignee")).to_contain_text("Alice Agent")

    # Assess, answer the questionnaire, request approval.
    page.get_by_role("button", name="Start assessment").click()
    expect(page.locator("#change-badges .state-badge")).to_have_text("Assess")
    page.get_by_role("button", name="Request approval").click()
    expect(page.locator("#change-actions [role=alert]")).to_contain_text("Answer the risk questionnaire first")
    page.locator("#risk-questionnaire-link").click()
    for question in page.locator(".risk-question").all():
        question.get_by_role("radio").first.check()
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_role("alert").first).to_contain_text("Risk of")
    page.get_by_role("button", name="Request approval").click()
    expect(page.locator("#change-badges .state-badge")).to_have_text("Authorize")
    expect(page.locator("#approval-stages")).to_contain_text("Technical review")
    expect(page.locator("#why-not-decide")).to_contain_text("You can't approve")
    page.screenshot(path=SCREENSHOTS.format("authorize"), full_page=True)

    # The approver finds it on the home page and approves it.
    sign_out_and_in(page, "nina")
    page.locator("#awaiting-my-approval").get_by_role("link", name=change.number).click()
    decision = page.get_by_role("form", name="Decide")
    decision.get_by_label(re.compile(r"comment")).fill("SFP swap is routine; go ahead.")
    decision.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert").first).to_contain_text(f"You approved {change.number}; it is now scheduled.")
    expect(page.locator("#change-badges .state-badge")).to_have_text("Scheduled")
    expect(page.locator(".approval-decision")).to_contain_text("SFP swap is routine")

    # The agent implements and closes it.
    sign_out_and_in(page, "alice")
    page.goto(f"/changes/{change.pk}/")
    page.get_by_role("button", name="Start implementation").click()
    expect(page.locator("#change-badges .state-badge")).to_have_text("Implement")
    page.get_by_role("button", name="Close…").click()
    close = page.get_by_role("form", name="Close")
    close.get_by_label(re.compile(r"^Close code")).select_option(label="Successful")
    close.get_by_label("Close notes").fill("Swapped; no loss since.")
    close.get_by_role("button", name="Close change").click()
    expect(page.locator("#change-badges .state-badge")).to_have_text("Closed")
    expect(page.locator("#change-close-notes")).to_contain_text("Swapped; no loss since.")
    page.screenshot(path=SCREENSHOTS.format("closed"), full_page=True)

    # The incident is resolved by the change.
    page.locator("#linked-incidents").get_by_role("link", name=incident.number).click()
    expect(page.locator("#incident-badges .state-badge")).to_have_text("Resolved")
    expect(page.locator("#timeline")).to_contain_text(change.number)

    # The change's History tab lists the edits.
    page.goto(f"/changes/{change.pk}/")
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator(".change-entry").first).to_be_visible()


def test_the_calendar_shows_a_change_and_the_cab_page_lists_an_emergency(page, agent, team):
    erin = UserFactory(username="erin", roles=[APPROVER])
    Team.objects.get(name="Emergency CAB").members.add(erin)
    day = timezone.localdate() + dt.timedelta(days=3)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(20)))
    change = new_change(
        agent,
        title="Hotfix the payment gateway",
        type="emergency",
        assignment_team=team,
        planned_start=start,
        planned_end=start + dt.timedelta(hours=2),
        implementation_plan="Deploy 4.2.1.",
        backout_plan="Redeploy 4.2.0.",
    )
    services.transition(change, "authorize", user=agent)
    sign_in(page, "alice")
    page.wait_for_url("/")

    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Changes").click()
    expect(page.locator("#change-table")).to_contain_text(change.number)
    page.get_by_role("link", name="Change calendar").click()
    expect(page.locator("#calendar")).to_have_attribute("data-view", "month")
    if day.month != timezone.localdate().month:
        page.get_by_role("link", name="Next ›").click()
    cell = page.locator(f'td[data-date="{day.isoformat()}"]')
    expect(cell.locator(".cal-change")).to_contain_text(change.number)
    expect(cell.locator(".cal-change")).to_have_class(re.compile(r"cal-state-authorize"))
    expect(page.locator("#feed-url")).to_have_value(re.compile(r"/changes/calendar/feed/.+\.ics$"))
    page.screenshot(path=SCREENSHOTS.format("calendar"), full_page=True)
    cell.get_by_role("link", name=re.compile(r"^Week of")).click()
    expect(page.locator("#calendar")).to_have_attribute("data-view", "week")
    expect(page.locator(f'td[data-date="{day.isoformat()}"] .cal-change')).to_contain_text("20:00–22:00")

    page.get_by_role("link", name="CAB", exact=True).click()
    expect(page.locator("#cab-meeting")).to_contain_text("Next meeting")
    awaiting = page.locator("#cab-awaiting-table")
    expect(awaiting).to_contain_text(change.number)
    expect(awaiting).to_contain_text("Emergency CAB")
    page.screenshot(path=SCREENSHOTS.format("cab"), full_page=True)


def test_a_template_is_drafted_approved_and_used_for_a_standard_change(page, agent, team):
    UserFactory(username="maria", roles=[MANAGER])
    sign_in(page, "alice")
    page.wait_for_url("/")

    page.goto("/changes/templates/")
    page.get_by_role("link", name="New template").click()
    page.get_by_label(re.compile(r"^Name")).fill("Restart a web node")
    page.get_by_label(re.compile(r"^Team")).select_option(label="Network")
    page.get_by_label(re.compile(r"^Implementation plan")).fill("Drain, restart, undrain.")
    page.get_by_label(re.compile(r"^Backout plan")).fill("Nothing to back out.")
    page.get_by_role("button", name="Create draft").click()
    template = StandardChangeTemplate.objects.get()
    expect(page).to_have_url(f"/changes/templates/{template.pk}/")
    expect(page.locator("#template-state")).to_have_text("Draft")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label(re.compile(r"^Test plan")).fill("Curl the health page.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#template-plans")).to_contain_text("Curl the health page.")
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator(".change-entry").first).to_be_visible()

    sign_out_and_in(page, "maria")
    page.goto(f"/changes/templates/{template.pk}/")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#template-state")).to_have_text("Approved")

    sign_out_and_in(page, "alice")
    page.goto("/changes/templates/")
    page.get_by_role("link", name="Use Restart a web node").click()
    expect(page.get_by_role("heading", name="New standard change")).to_be_visible()
    expect(page.locator("#change-form")).to_contain_text("Drain, restart, undrain.")  # the template's plans
    start = (timezone.now() + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    page.get_by_label(re.compile(r"^Planned start")).fill(local(start))
    page.get_by_label(re.compile(r"^Planned end")).fill(local(start + dt.timedelta(hours=1)))
    page.get_by_role("button", name="Create change").click()
    change = ChangeRequest.objects.get()
    expect(page).to_have_url(f"/changes/{change.pk}/")
    assert change.type == "standard" and change.template == template
    expect(page.locator("#change-implementation-plan")).to_have_text("Drain, restart, undrain.")
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#change-badges .state-badge")).to_have_text("Scheduled")
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Dashboard").click()
    expect(page.locator("#upcoming-changes")).to_contain_text(change.number)


def test_a_manager_adds_a_blackout_that_blocks_scheduling_then_deletes_it(page, agent, team):
    UserFactory(username="maria", roles=[MANAGER])
    TemplateFactory(name="Patch a Linux host", assignment_team=team)
    day = timezone.localdate() + dt.timedelta(days=5)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(0)))
    sign_in(page, "maria")
    page.wait_for_url("/")
    # The manager's home page draws the change KPIs chart.
    expect(page.locator("#change-kpis")).to_be_visible()
    assert page.evaluate("() => Chart.getChart(document.getElementById('change-kpi-chart')).data.datasets.length") == 3

    page.goto("/changes/blackouts/")
    page.get_by_role("link", name="Add blackout window").click()
    page.get_by_label(re.compile(r"^Name")).fill("Quarter-end close")
    page.get_by_label(re.compile(r"^Start")).fill(local(start))
    page.get_by_label(re.compile(r"^End")).fill(local(start - dt.timedelta(hours=1)))
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".invalid-feedback")).to_contain_text("The end must be after the start.")
    page.get_by_label(re.compile(r"^End")).fill(local(start + dt.timedelta(days=2)))
    page.get_by_role("button", name="Save").click()
    window = BlackoutWindow.objects.get()
    expect(page).to_have_url(f"/changes/blackouts/{window.pk}/")
    expect(page.locator("#blackout-scope")).to_have_text("Global")

    page.goto(f"/changes/calendar/?date={day.isoformat()}")
    expect(page.locator(f'td[data-date="{day.isoformat()}"]')).to_have_class(re.compile(r"cal-blackout"))

    sign_out_and_in(page, "alice")
    template = StandardChangeTemplate.objects.get()
    change = new_change(
        agent,
        title="Patch web-01",
        template=template,
        type="standard",
        planned_start=start + dt.timedelta(hours=10),
        planned_end=start + dt.timedelta(hours=11),
    )
    page.goto(f"/changes/{change.pk}/")
    expect(page.locator("#conflicts")).to_contain_text("Quarter-end close")
    page.get_by_role("button", name="Schedule").click()
    expect(page.locator("#change-actions [role=alert]")).to_contain_text("Quarter-end close")
    expect(page.locator("#change-badges .state-badge")).to_have_text("New")

    sign_out_and_in(page, "maria")
    page.goto(f"/changes/blackouts/{window.pk}/")
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label(re.compile(r"^Reason")).fill("The books close.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#blackout-details")).to_contain_text("The books close.")
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.locator(".change-entry").first).to_be_visible()
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url("/changes/blackouts/")
    assert not BlackoutWindow.objects.exists()
