"""Escalating an incident to a vendor from the incident page, and the escalation's page (vendor
clocks; the vendor's response, resolution, a withdrawal) with Django's client — agents may,
viewers may not; a refused escalation is said on its field with nothing written."""

import datetime as dt
import html

import pytest
from django.utils import timezone

from incidents.models import Incident
from tests.factories import CIFactory, open_incident
from tests.vendors.escalating import contract as make_contract
from tests.vendors.escalating import incident_on
from vendors.models import VendorEscalation

pytestmark = pytest.mark.django_db


def text_of(response):
    return html.unescape(response.content.decode())


def support_contract(cis):
    """A support contract in force today covering ``cis``, in office hours, with terms."""
    today = timezone.localdate()
    return make_contract(cis, start=today - dt.timedelta(days=30), end=today + dt.timedelta(days=335))


def covered_incident():
    ci = CIFactory()
    return incident_on(ci), support_contract([ci])


def escalate(client, incident, contract, **fields):
    data = {"incident": incident.pk, "contract": contract.pk, "vendor_ticket": "ACME-42", "note": ""}
    data.update(fields)
    return client.post("/vendors/escalations/new/", data)


def test_the_incident_page_offers_escalate_to_vendor_to_agents_only(client, alice, victor):
    incident, _ = covered_incident()
    client.force_login(alice)
    assert f"/vendors/escalations/new/?incident={incident.pk}" in text_of(client.get(incident.get_absolute_url()))
    client.force_login(victor)
    assert "/vendors/escalations/new/" not in text_of(client.get(incident.get_absolute_url()))
    assert client.get(f"/vendors/escalations/new/?incident={incident.pk}").status_code == 403


def test_the_form_offers_the_contracts_that_cover_the_incidents_cis(client, alice):
    incident, contract = covered_incident()
    support_contract([CIFactory()])  # covers another CI
    client.force_login(alice)
    response = client.get(f"/vendors/escalations/new/?incident={incident.pk}")
    assert [c.pk for c in response.context["contracts"]] == [contract.pk]
    assert [value for value, _ in response.context["form"].fields["contract"].widget.choices] == [contract.pk]


def test_an_incident_no_contract_covers_is_said_so(client, alice):
    incident = open_incident(None, affected_cis=[CIFactory()])
    client.force_login(alice)
    response = client.get(f"/vendors/escalations/new/?incident={incident.pk}")
    assert "No active support contract covers" in text_of(response)


def test_an_agent_escalates_and_the_incident_waits_for_the_vendor(client, alice):
    incident, contract = covered_incident()
    client.force_login(alice)
    response = escalate(client, incident, contract)
    assert response["Location"] == incident.get_absolute_url()
    escalation = VendorEscalation.objects.get()
    assert (escalation.contract, escalation.vendor_ticket, escalation.state) == (contract, "ACME-42", "open")
    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == ("on_hold", "awaiting_vendor")
    page = client.get(incident.get_absolute_url())
    assert f"/vendors/escalations/{escalation.pk}/" in text_of(page)
    detail = client.get(f"/vendors/escalations/{escalation.pk}/")
    assert {clock.metric for clock in detail.context["clocks"]} == {"response", "resolution"}
    assert [action["key"] for action in detail.context["actions"]] == ["responded", "resolved", "withdraw"]


def test_a_contract_that_does_not_cover_the_incident_is_refused_on_its_field(client, alice):
    incident, _ = covered_incident()
    other = support_contract([CIFactory()])
    client.force_login(alice)
    response = escalate(client, incident, other)
    assert response.status_code == 400
    assert "covers none of" in response.context["form"].errors["contract"][0]
    assert not VendorEscalation.objects.exists()
    assert Incident.objects.get(pk=incident.pk).state != "on_hold"


def test_escalating_twice_under_one_contract_is_refused(client, alice):
    incident, contract = covered_incident()
    client.force_login(alice)
    escalate(client, incident, contract)
    response = escalate(client, incident, contract)
    assert response.status_code == 409
    assert response.context["form"].non_field_errors()
    assert VendorEscalation.objects.count() == 1


def test_a_closed_incident_cannot_be_escalated(client, alice):
    incident, _ = covered_incident()
    Incident.objects.filter(pk=incident.pk).update(state="closed")
    client.force_login(alice)
    response = client.get(f"/vendors/escalations/new/?incident={incident.pk}")
    assert response["Location"] == incident.get_absolute_url()


def test_the_vendor_responds_then_resolves(client, alice):
    incident, contract = covered_incident()
    client.force_login(alice)
    escalate(client, incident, contract)
    escalation = VendorEscalation.objects.get()
    url = f"/vendors/escalations/{escalation.pk}/"
    assert client.post(url + "responded/", {"note": "They called back"})["Location"] == url
    escalation.refresh_from_db()
    assert escalation.state == "responded"
    client.post(url + "resolved/", {"note": "Replaced the line card"})
    escalation.refresh_from_db()
    assert escalation.state == "resolved"
    assert Incident.objects.get(pk=incident.pk).state == "in_progress"
    assert client.get(url).context["actions"] == []


def test_a_withdrawal_needs_a_reason(client, alice):
    incident, contract = covered_incident()
    client.force_login(alice)
    escalate(client, incident, contract)
    escalation = VendorEscalation.objects.get()
    response = client.post(f"/vendors/escalations/{escalation.pk}/withdraw/", {"note": ""})
    assert response.status_code == 400
    withdrawal = next(action for action in response.context["actions"] if action["key"] == "withdraw")
    assert withdrawal["form"].errors["note"] == ["Say why the escalation is withdrawn."]
    escalation.refresh_from_db()
    assert escalation.state == "open"
    client.post(f"/vendors/escalations/{escalation.pk}/withdraw/", {"note": "Our own fault"})
    escalation.refresh_from_db()
    assert escalation.state == "canceled"


def test_viewers_read_an_escalation_but_may_not_act_on_it(client, alice, victor):
    incident, contract = covered_incident()
    client.force_login(alice)
    escalate(client, incident, contract)
    escalation = VendorEscalation.objects.get()
    client.force_login(victor)
    response = client.get(f"/vendors/escalations/{escalation.pk}/")
    assert response.status_code == 200 and response.context["actions"] == []
    assert client.post(f"/vendors/escalations/{escalation.pk}/responded/", {}).status_code == 403
