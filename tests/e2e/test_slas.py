"""The SLA pages in a real browser: a manager builds a calendar (weekday hours added with one
button), pre-fills a country's public holidays, removes and adds one, then creates a policy with
targets on that calendar and finds both from the section navigation; an agent only reads."""

import re

import pytest
from playwright.sync_api import expect

from itom.roles import AGENT
from slas.models import BusinessCalendar, Holiday, SLAPolicy
from tests.e2e.conftest import sign_in
from tests.factories import UserFactory, business_calendar, sla_policy

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/itom-slas-{}.png"


def test_a_manager_builds_a_calendar_with_holidays_and_a_policy_on_it(page, signed_in_manager):
    page.goto("/sla/calendars/")
    expect(page.get_by_role("navigation", name="SLA sections").get_by_role("link", name="Calendars")).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_role("link", name="Add business calendar").click()
    page.get_by_label("Name").fill("Lyon desk")
    page.get_by_label("Time zone").select_option("Europe/Paris")
    # The empty first row is filled and four rows are added: Monday to Friday, 08:00–18:00.
    page.get_by_role("button", name="Add Monday–Friday").click()
    expect(page.locator("#hours-rows .hours-row")).to_have_count(5)
    expect(page.locator('[name="hours-4-weekday"]')).to_have_value("4")
    expect(page.locator('[name="hours-4-end"]')).to_have_value("18:00")
    page.locator('[name="hours-2-start"]').fill("09:30")
    page.screenshot(path=SCREENSHOTS.format("calendar-form"), full_page=True)
    page.get_by_role("button", name="Save").click()

    calendar = BusinessCalendar.objects.get(name="Lyon desk")
    expect(page).to_have_url(f"/sla/calendars/{calendar.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("Saved calendar “Lyon desk”.")
    hours = page.locator("#working-hours")
    expect(hours.locator("tr", has_text="Monday")).to_contain_text("08:00–18:00")
    expect(hours.locator("tr", has_text="Wednesday")).to_contain_text("09:30–18:00")
    expect(hours.locator("tr", has_text="Sunday")).to_contain_text("closed")

    # Public holidays of France for 2027, from the pre-fill form.
    prefill = page.locator("#prefill")
    prefill.get_by_label("Country").select_option("FR")
    prefill.get_by_label("Year").fill("2027")
    prefill.get_by_role("button", name="Add public holidays").click()
    expect(page.get_by_role("alert")).to_contain_text("Added 11 public holidays of France for 2027.")
    table = page.locator("#holiday-table")
    expect(table.locator("tr.holiday-row")).to_have_count(11)
    expect(table).to_contain_text("Christmas Day")
    page.screenshot(path=SCREENSHOTS.format("calendar-detail"), full_page=True)

    # Remove one, add a company day off.
    table.get_by_role("button", name="Remove Armistice Day (2027-11-11)").click()
    expect(page.get_by_role("alert")).to_contain_text("Removed holiday 11 Nov 2027")
    expect(table.locator("tr.holiday-row")).to_have_count(10)
    page.get_by_label("Holiday date").fill("2027-12-24")
    page.get_by_label("Holiday name").fill("Company day off")
    page.get_by_role("button", name="Add holiday").click()
    expect(table.locator("tr.holiday-row")).to_have_count(11)
    expect(table.locator("tr", has_text="Company day off")).to_contain_text("Fri 24 Dec 2027")
    assert Holiday.objects.filter(calendar=calendar).count() == 11

    # A policy on this calendar, for P1 and P2, with three targets.
    page.get_by_role("navigation", name="SLA sections").get_by_role("link", name="SLA policies").click()
    expect(page).to_have_url("/sla/policies/")
    page.get_by_role("link", name="Add SLA policy").click()
    page.get_by_label("Name").fill("Lyon critical")
    page.get_by_label("Calendar").select_option(label="Lyon desk")
    page.get_by_label("P1", exact=True).check()
    page.get_by_label("P2", exact=True).check()
    page.get_by_label("Response P1 (minutes)").fill("15")
    page.get_by_label("Resolution P1 (minutes)").fill("240")
    page.get_by_label("Response P2 (minutes)").fill("30")
    page.screenshot(path=SCREENSHOTS.format("policy-form"), full_page=True)
    page.get_by_role("button", name="Save").click()

    policy = SLAPolicy.objects.get(name="Lyon critical")
    expect(page).to_have_url(f"/sla/policies/{policy.pk}/")
    targets = page.locator("#policy-targets")
    expect(targets.locator("tr", has_text="Response")).to_contain_text("15 min")
    expect(targets.locator("tr", has_text="Resolution")).to_contain_text("4 h")
    expect(page.locator("#policy-criteria")).to_contain_text("P1, P2")
    assert policy.priorities == [1, 2] and policy.calendar == calendar

    page.get_by_role("link", name="Lyon desk").first.click()
    expect(page.locator("#calendar-policies")).to_contain_text("Lyon critical")


def test_an_agent_reads_the_policies_but_is_offered_no_changes(page, transactional_db):
    policy = sla_policy(name="Standard", calendar=business_calendar())
    UserFactory(username="alice", roles=[AGENT])
    sign_in(page, "alice")
    page.goto("/sla/policies/")
    expect(page.get_by_role("link", name="Standard")).to_be_visible()
    expect(page.get_by_role("link", name="Add SLA policy")).to_have_count(0)
    page.get_by_role("link", name="Standard").click()
    expect(page).to_have_url(re.compile(rf"/sla/policies/{policy.pk}/$"))
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)
    page.get_by_role("link", name="Office hours").first.click()
    expect(page.locator("#prefill")).to_have_count(0)
    expect(page.get_by_role("button", name="Add holiday")).to_have_count(0)
