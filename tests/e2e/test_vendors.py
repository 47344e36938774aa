"""Vendor management in a real browser:

1. an agent escalates an incident to the vendor whose contract covers its CI (the incident goes
   on hold awaiting the vendor), records the vendor's response on the escalation's page, and the
   vendor's scorecard counts the escalation and the response target met;
2. a manager adds a vendor and a contact, writes a contract through its form (terms as rows, a
   covered CI picked from the CMDB search), uploads its document, and finds it among the renewals
   due; the production CIs without support leave out the CI it covers.
"""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from incidents.services import incidents as incident_services
from itom.roles import AGENT
from tests.e2e.conftest import sign_in
from tests.factories import CIFactory, UserFactory, business_calendar
from vendors.models import Contract, ContractTerm, Vendor

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/itom-vendors-{}.png"


@pytest.fixture
def agent(transactional_db):
    return UserFactory(username="alice", first_name="Alice", last_name="Agent", roles=[AGENT])


def covering_contract(ci, vendor_name="Acme Networks"):
    today = timezone.localdate()
    vendor = Vendor.objects.create(name=vendor_name)
    contract = Contract.objects.create(
        vendor=vendor,
        title="Core network support",
        type="support",
        start_date=today - dt.timedelta(days=30),
        end_date=today + dt.timedelta(days=335),
        support_calendar=business_calendar(),
    )
    contract.covered_cis.set([ci])
    for priority in range(1, 6):
        ContractTerm.objects.create(contract=contract, priority=priority, response_minutes=240, resolution_minutes=960)
    return contract


def score(page, name):
    return page.locator(f'#scorecard [data-score="{name}"]')


def test_escalating_an_incident_moves_the_vendors_scorecard(page, agent):
    switch = CIFactory(name="core-switch-01", environment="production")
    contract = covering_contract(switch)
    incident = incident_services.create_incident(
        user=agent, title="Core switch drops packets", impact=2, urgency=2, affected_cis=[switch]
    )
    sign_in(page, "alice")
    page.wait_for_url("/")

    # The scorecard before: nothing escalated yet.
    page.get_by_role("link", name="Vendors", exact=True).click()
    page.get_by_role("link", name="Acme Networks").click()
    expect(score(page, "escalations")).to_have_text("0")
    expect(score(page, "response_met_pct")).to_have_text("—")

    # Escalate from the incident page.
    page.goto(f"/incidents/{incident.pk}/")
    page.get_by_role("link", name="Escalate to vendor").click()
    expect(page.get_by_role("heading", name=f"Escalate {incident.number} to a vendor")).to_be_visible()
    page.get_by_label("Contract").select_option(value=str(contract.pk))
    page.get_by_label("Vendor ticket").fill("ACME-4711")
    page.get_by_label("Note").fill("Port 7 flaps every few minutes.")
    page.get_by_role("button", name="Escalate").click()
    expect(page).to_have_url(f"/incidents/{incident.pk}/")
    expect(page.get_by_role("alert").first).to_contain_text(f"Escalated {incident.number} to Acme Networks")
    page.screenshot(path=SCREENSHOTS.format("escalated"), full_page=True)

    # The vendor responds: recorded on the escalation's page.
    page.get_by_role("link", name="Vendor escalation").click()
    expect(page.locator("#escalation-state")).to_have_text("Awaiting the vendor")
    expect(page.locator("#vendor-clocks .vendor-clock")).to_have_count(2)
    responded = page.locator("#action-responded")
    responded.get_by_label("Note").fill("They called back.")
    responded.get_by_role("button", name="Vendor responded").click()
    expect(page.locator("#escalation-state")).to_have_text("Vendor responded")

    # The scorecard after.
    page.get_by_role("link", name="Acme Networks").click()
    expect(score(page, "escalations")).to_have_text("1")
    expect(score(page, "response_met_pct")).to_have_text("100 %")
    expect(page.locator("#vendor-scorecard-chart")).to_be_visible()
    page.screenshot(path=SCREENSHOTS.format("scorecard"), full_page=True)


def test_a_manager_writes_a_vendor_and_its_contract(page, signed_in_manager, tmp_path):
    calendar = business_calendar()
    CIFactory(name="mail-01", environment="production")
    CIFactory(name="bare-db-01", environment="production")

    # A vendor and a contact.
    page.get_by_role("link", name="Vendors", exact=True).click()
    page.get_by_role("link", name="Add vendor").click()
    page.get_by_label(re.compile(r"^Name")).fill("Initech")
    page.get_by_role("button", name="Save").click()
    vendor = Vendor.objects.get(name="Initech")
    expect(page).to_have_url(f"/vendors/{vendor.pk}/")
    page.get_by_role("link", name="Add contact").click()
    page.get_by_label(re.compile(r"^Name")).fill("Peter Gibbons")
    page.get_by_label(re.compile(r"^Email")).fill("peter@initech.example")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#contacts")).to_contain_text("Peter Gibbons")

    # A contract: a bad currency is said on its field, then fixed.
    page.get_by_role("link", name="Add contract").click()
    page.get_by_label(re.compile(r"^Title")).fill("Mail hosting")
    today = timezone.localdate()
    page.get_by_label(re.compile(r"^Start date")).fill(today.isoformat())
    page.get_by_label(re.compile(r"^End date")).fill((today + dt.timedelta(days=60)).isoformat())
    page.get_by_label(re.compile(r"^Currency")).fill("XYZ")
    page.get_by_label(re.compile(r"^Support hours")).select_option(value=str(calendar.pk))
    page.get_by_label("P1 response (minutes)").fill("60")
    page.get_by_label("P1 resolution (minutes)").fill("240")
    page.get_by_label("Add a CI").press_sequentially("mail", delay=20)
    page.locator("#ci-search-results").get_by_role("option", name=re.compile(r"^mail-01")).click()
    expect(page.locator("#ci-picked .ci-chip")).to_have_count(1)
    page.get_by_role("button", name="Create contract").click()
    expect(page.locator("#contract-form")).to_contain_text("Unknown currency “XYZ”")
    assert not Contract.objects.exists()
    page.get_by_label(re.compile(r"^Currency")).fill("usd")
    page.get_by_role("button", name="Create contract").click()
    contract = Contract.objects.get()
    expect(page).to_have_url(f"/vendors/contracts/{contract.pk}/")
    expect(page.locator("#terms")).to_contain_text("60 min")
    expect(page.locator("#covered-cis")).to_contain_text("mail-01")

    # Its document.
    document = tmp_path / "contract.pdf"
    document.write_bytes(b"%PDF-1.4 the signed contract")
    page.locator("#document-form").get_by_label("Document").set_input_files(str(document))
    page.locator("#document-form").get_by_role("button", name="Upload").click()
    expect(page.locator("#documents")).to_contain_text("contract.pdf")
    page.screenshot(path=SCREENSHOTS.format("contract"), full_page=True)

    # Its notice deadline is 30 days away: among the renewals due. Only the bare CI lacks support.
    page.locator("#vendor-subnav").get_by_role("link", name="Renewals due").click()
    expect(page.locator("#renewals")).to_contain_text(contract.number)
    page.locator("#vendor-subnav").get_by_role("link", name="Production CIs without support").click()
    expect(page.locator("#unsupported-cis")).to_contain_text("bare-db-01")
    expect(page.locator("#unsupported-cis")).not_to_contain_text("mail-01")

    # The contract list finds it; the contract's and the vendor's History tabs list the writes.
    page.locator("#vendor-subnav").get_by_role("link", name="Contracts").click()
    page.get_by_label("Search").fill("Mail hosting")
    page.get_by_label("Search").press("Enter")
    expect(page.locator("#object-table")).to_contain_text(contract.number)
    page.get_by_role("link", name=contract.number).click()
    page.get_by_role("link", name="History", exact=True).click()
    expect(page).to_have_url(f"/vendors/contracts/{contract.pk}/history/")
    expect(page.locator(".change-entry").first).to_contain_text("maria")
    page.goto(f"/vendors/{vendor.pk}/")
    page.get_by_role("link", name="History", exact=True).click()
    expect(page).to_have_url(f"/vendors/{vendor.pk}/history/")
    expect(page.locator(".change-entry").first).to_contain_text("maria")
