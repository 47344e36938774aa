"""Problems and known errors in a real browser: an agent opens a problem through the form (the
assignee list follows the team, a CI added with the search), links two incidents by number,
moves it to root cause analysis, records the root cause, posts a workaround that reaches the
open incidents, records the problem as a known error and finds it again by searching the
known errors; a refused move is explained on the page."""

import re

import pytest
from playwright.sync_api import expect

from incidents.choices import TimelineKind
from incidents.models import KnownError, Problem, TimelineEntry
from itom.roles import AGENT
from tests.e2e.conftest import sign_in
from tests.factories import CIFactory, IncidentFactory, TeamFactory, UserFactory, ci_class

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/itom-problems-{}.png"


@pytest.fixture
def agent(transactional_db):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Agent", roles=[AGENT])
    TeamFactory(name="Network", lead=alice, members=[alice])
    return alice


def test_an_agent_works_a_problem_through_to_a_known_error(page, agent):
    CIFactory(name="web-01", ci_class=ci_class("application"))
    CIFactory(name="web-02", ci_class=ci_class("application"))
    slow = IncidentFactory(title="Shop slow", state="in_progress", priority=3)
    down = IncidentFactory(title="Shop down", state="new", priority=1)
    done = IncidentFactory(title="Shop slow yesterday", state="closed")
    sign_in(page, "alice")

    # The problem list, then the form.
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Problems").click()
    expect(page).to_have_url("/problems/")
    page.get_by_role("link", name="Add problem").click()
    page.get_by_label(re.compile(r"^Title")).fill("Shop workers exhaust the connection pool")
    page.get_by_label(re.compile(r"^Priority")).select_option("2")
    assignee = page.get_by_label("Assignee")
    expect(assignee.locator("option")).to_have_text(["— Pick a team first —"])
    page.get_by_label(re.compile(r"^Assignment team")).select_option(label="Network")
    expect(assignee.locator("option", has_text="Alice Agent")).to_have_count(1)
    assignee.select_option(label="Alice Agent (alice)")
    page.get_by_label("Add a CI").fill("web-0")
    page.get_by_role("option", name=re.compile(r"^web-02")).click()
    expect(page.get_by_label("Affected CIs")).to_have_value("web-02 (Application)")
    page.screenshot(path=SCREENSHOTS.format("form"), full_page=True)
    page.get_by_role("button", name="Save").click()

    problem = Problem.objects.get()
    expect(page).to_have_url(f"/problems/{problem.pk}/")
    expect(page.get_by_role("alert")).to_contain_text(f"Saved problem “{problem}”.")
    expect(page.locator("#problem-cis")).to_have_text("web-02")
    assert problem.assignee == agent and problem.priority == 2

    # Link the incidents by number.
    page.get_by_label("Incidents").fill(f"{slow.number}, {down.number} {done.number}")
    page.get_by_role("button", name="Link").click()
    expect(page.get_by_role("alert")).to_contain_text(f"Linked {slow.number}, {down.number}, {done.number}")
    expect(page.locator("#problem-incidents tr.linked-incident")).to_have_count(3)
    expect(page.locator("#problem-incident-count")).to_have_text("3")
    # The most urgent first.
    expect(page.locator("#problem-incidents tr.linked-incident").first).to_contain_text("Shop down")

    # A move that needs the root cause is refused, saying so, with the note kept.
    actions = page.locator("#problem-actions")
    actions.get_by_label("Move to").select_option(label="Root cause analysis")
    actions.get_by_role("button", name="Move").click()
    expect(page.locator("#problem-state")).to_have_text("Root cause analysis")
    actions = page.locator("#problem-actions")
    actions.get_by_label("Move to").select_option(label="Fix in progress")
    actions.get_by_label("Note").fill("Patch ready.")
    actions.get_by_role("button", name="Move").click()
    expect(actions.get_by_role("alert")).to_contain_text(
        "Record the root cause before moving the problem to fix in progress."
    )
    expect(actions.get_by_label("Note")).to_have_value("Patch ready.")
    expect(page.locator("#problem-state")).to_have_text("Root cause analysis")

    # Record the root cause with Edit.
    page.get_by_role("link", name="Edit", exact=True).click()
    page.get_by_label("Root cause").fill("Workers never return connections after a timeout.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#problem-root-cause")).to_contain_text("never return connections")

    # The workaround reaches the two open incidents (not the closed one).
    page.locator("#workaround-form").get_by_label("Workaround").fill("Restart the shop workers every hour.")
    page.get_by_role("button", name="Post workaround").click()
    expect(page.get_by_role("alert")).to_contain_text("sent to 2 open incidents")
    expect(page.locator("#problem-workaround")).to_contain_text("Restart the shop workers every hour.")
    timeline = page.locator("#problem-timeline")
    expect(timeline.locator(".timeline-entry[data-kind='workaround']")).to_contain_text("sent to 2 open incidents")
    notes = TimelineEntry.objects.filter(kind=TimelineKind.WORK_NOTE)
    assert {note.incident_id for note in notes} == {slow.pk, down.pk}

    # Now the move is allowed.
    actions = page.locator("#problem-actions")
    actions.get_by_label("Move to").select_option(label="Fix in progress")
    actions.get_by_role("button", name="Move").click()
    expect(page.locator("#problem-state")).to_have_text("Fix in progress")
    page.screenshot(path=SCREENSHOTS.format("detail"), full_page=True)

    # Record it as a known error, then find it again by searching.
    page.get_by_role("button", name="Record as known error").click()
    known_error = KnownError.objects.get()
    expect(page).to_have_url(f"/problems/known-errors/{known_error.pk}/")
    expect(page.locator("#known-error-workaround")).to_contain_text("Restart the shop workers every hour.")
    expect(page.locator("#known-error-problem")).to_have_text(problem.number)
    page.get_by_role("navigation", name="Problem sections").get_by_role("link", name="Known errors").click()
    page.get_by_label("Search").fill("workers timeout")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#object-table tbody tr")).to_have_count(1)
    expect(page.locator("#object-table")).to_contain_text(known_error.number)
    page.get_by_label("Search").fill("printer")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#object-table")).to_contain_text("No known errors match.")
    page.screenshot(path=SCREENSHOTS.format("known-errors"), full_page=True)
