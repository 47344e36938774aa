"""``/api/v1/vendors/escalations/``: agents escalate an incident to a vendor under a contract that
covers its CIs; the incident goes on hold awaiting the vendor and the escalation embeds its vendor
clocks. Every bad input of the issue is a 400 naming the field and writes nothing."""

import datetime as dt

import pytest

from incidents.models import Incident
from incidents.services import incidents as incident_services
from itom.models import ObjectChange
from slas.models import SLAClock
from tests.api_testing import EVERYONE, APIEndpointTests
from tests.factories import CIFactory, open_incident
from tests.vendors.api_helpers import ESCALATIONS, covered_incident, support_contract, today
from vendors.api.views import VendorEscalationViewSet
from vendors.models import VendorEscalation

pytestmark = pytest.mark.django_db

AGENTS_AND_UP = ("alice", "bob", "maria", "root")


def _escalation_data():
    incident, contract = covered_incident()
    return {"incident": incident.number, "contract": contract.number, "vendor_ticket": "ACME-1234", "note": "Disk"}


def _escalation():
    from vendors.services.escalations import escalate

    incident, contract = covered_incident()
    return escalate(incident, user=None, contract=contract, vendor_ticket="ACME-1")


def written():
    """What a refused request must leave untouched."""
    return (VendorEscalation.objects.count(), SLAClock.objects.count(), ObjectChange.objects.count())


class TestVendorEscalationAPI(APIEndpointTests):
    viewset = VendorEscalationViewSet
    url_name = "api:vendor-escalation"
    make_object = staticmethod(_escalation)
    create_data = staticmethod(_escalation_data)
    update_data = {"vendor_ticket": "ACME-9999"}
    invalid_data = {"incident": "INC9999999"}
    writers = AGENTS_AND_UP
    max_list_queries = 14

    def test_writers_can_update_and_the_change_is_audited(self, people, make_api_client):
        """Escalations are not edited (405): the vendor's answers have actions of their own."""
        obj = self.make_object()
        for name in self.writers:
            response = make_api_client(people[name]).patch(
                self.detail_url(obj), self.data("update_data"), format="json"
            )
            assert response.status_code == 405, (name, response.content)
            assert "withdraw" in response.json()["detail"]
        assert VendorEscalation.objects.get(pk=obj.pk).vendor_ticket == "ACME-1"

    def test_a_stale_if_match_is_a_412_and_a_fresh_one_succeeds(self, people, make_api_client):
        obj = self.make_object()
        client = make_api_client(people["alice"])
        etag = client.get(self.detail_url(obj))["ETag"]
        url = f"{self.detail_url(obj)}responded/"
        assert client.post(url, {}, format="json", HTTP_IF_MATCH='"0-0"').status_code == 412
        fresh = client.post(url, {}, format="json", HTTP_IF_MATCH=etag)
        assert fresh.status_code == 200, fresh.content
        assert fresh["ETag"] != etag

    def test_writers_can_delete_and_the_deletion_is_audited(self, people, make_api_client):
        """Escalations are withdrawn, never deleted: 405 for those holding the delete permission,
        403 for agents who don't."""
        obj = self.make_object()
        for name in self.writers:
            expected = 405 if name in ("maria", "root") else 403
            assert make_api_client(people[name]).delete(self.detail_url(obj)).status_code == expected, name
        assert VendorEscalation.objects.filter(pk=obj.pk).exists()

    def test_other_roles_cannot_update_or_delete(self, people, make_api_client):
        obj = self.make_object()
        for name in set(EVERYONE) - set(self.writers):
            client = make_api_client(people[name])
            assert client.patch(self.detail_url(obj), self.data("update_data"), format="json").status_code == 403
            assert client.delete(self.detail_url(obj)).status_code == 403
            assert client.post(f"{self.detail_url(obj)}withdraw/", {"note": "no"}, format="json").status_code == 403
        assert VendorEscalation.objects.get(pk=obj.pk).state == "open"


# --- escalating ---------------------------------------------------------------------------------


def test_an_agent_escalates_and_the_incident_waits_for_the_vendor_with_vendor_clocks(alice_api):
    incident, contract = covered_incident()
    payload = {"incident": incident.number, "contract": contract.number, "vendor_ticket": "ACME-77", "note": "RAID"}
    response = alice_api.post(ESCALATIONS, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["incident"]["number"] == incident.number
    assert body["contract"]["number"] == contract.number
    assert body["vendor"] == {"id": contract.vendor_id, "name": contract.vendor.name}
    assert (body["vendor_ticket"], body["state"], body["priority"]) == ("ACME-77", "open", incident.priority)
    assert sorted(clock["metric"] for clock in body["sla"]) == ["resolution", "response"]
    assert all(clock["due_at"] and clock["calendar"]["id"] == contract.support_calendar_id for clock in body["sla"])
    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == ("on_hold", "awaiting_vendor")


def test_a_contract_that_covers_none_of_the_incidents_cis_is_a_400_on_contract(alice_api):
    _, contract = covered_incident()
    elsewhere = open_incident(None, affected_cis=[CIFactory()])
    before = written()
    response = alice_api.post(ESCALATIONS, {"incident": elsewhere.pk, "contract": contract.pk}, format="json")
    assert response.status_code == 400
    assert "covers none" in response.json()["contract"][0]
    assert written() == before
    assert Incident.objects.get(pk=elsewhere.pk).state == elsewhere.state


def test_an_expired_contract_is_a_400_on_contract_naming_its_end(alice_api):
    ended = today() - dt.timedelta(days=3)
    incident, contract = covered_incident(start=today() - dt.timedelta(days=400), end=ended)
    before = written()
    response = alice_api.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk}, format="json")
    assert response.status_code == 400
    assert ended.isoformat() in response.json()["contract"][0]
    assert written() == before
    assert Incident.objects.get(pk=incident.pk).state == incident.state


def test_a_contract_not_started_yet_is_a_400_on_contract(alice_api):
    incident, contract = covered_incident(start=today() + dt.timedelta(days=5), end=today() + dt.timedelta(days=90))
    before = written()
    response = alice_api.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk}, format="json")
    assert response.status_code == 400
    assert "contract" in response.json()
    assert written() == before


def test_a_contract_without_support_hours_is_a_400_on_contract(alice_api):
    incident, contract = covered_incident(calendar=False)
    before = written()
    response = alice_api.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk}, format="json")
    assert response.status_code == 400
    assert "support hours" in response.json()["contract"][0]
    assert written() == before


def test_escalating_twice_under_one_contract_is_a_409(alice_api):
    incident, contract = covered_incident()
    payload = {"incident": incident.pk, "contract": contract.pk}
    assert alice_api.post(ESCALATIONS, payload, format="json").status_code == 201
    before = written()
    assert alice_api.post(ESCALATIONS, payload, format="json").status_code == 409
    assert written() == before


def test_a_closed_incident_cannot_be_escalated(alice_api, alice):
    incident, contract = covered_incident()
    incident_services.transition(incident, "canceled", user=alice, note="Duplicate")
    before = written()
    response = alice_api.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk}, format="json")
    assert response.status_code == 409
    assert written() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"contract": "CTR9999999"}, "contract"),
        ({"incident": 999999}, "incident"),
        ({"vendor_ticket": "x" * 101}, "vendor_ticket"),
    ],
)
def test_unknown_references_are_a_400_naming_the_field(alice_api, payload, field):
    incident, contract = covered_incident()
    before = written()
    response = alice_api.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk, **payload}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert written() == before


def test_viewers_cannot_escalate(victor_api):
    incident, contract = covered_incident()
    before = written()
    response = victor_api.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk}, format="json")
    assert response.status_code == 403
    assert written() == before


# --- the vendor's answers -----------------------------------------------------------------------


def _escalated(client):
    incident, contract = covered_incident()
    response = client.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk}, format="json")
    assert response.status_code == 201, response.content
    return incident, response.json()["id"]


def test_the_vendor_responds_then_resolves_and_the_incident_is_worked_again(alice_api):
    incident, pk = _escalated(alice_api)
    responded = alice_api.post(f"{ESCALATIONS}{pk}/responded/", {"note": "Vendor called back"}, format="json")
    assert responded.status_code == 200, responded.content
    assert responded.json()["state"] == "responded"
    response_clock = next(c for c in responded.json()["sla"] if c["metric"] == "response")
    assert response_clock["state"] != "running" and response_clock["stopped_at"]
    resolved = alice_api.post(f"{ESCALATIONS}{pk}/resolved/", {"note": "Disk replaced"}, format="json")
    assert resolved.status_code == 200, resolved.content
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["resolved_at"]
    assert all(clock["stopped_at"] for clock in resolved.json()["sla"])
    incident.refresh_from_db()
    assert incident.state == "in_progress"


def test_a_withdrawn_escalation_cancels_its_clocks_and_takes_no_answer(alice_api):
    _, pk = _escalated(alice_api)
    response = alice_api.post(f"{ESCALATIONS}{pk}/withdraw/", {"note": "Fixed it ourselves"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "canceled"
    assert {clock["state"] for clock in response.json()["sla"]} == {"canceled"}
    before = written()
    assert alice_api.post(f"{ESCALATIONS}{pk}/resolved/", {}, format="json").status_code == 409
    assert written() == before


def test_a_malformed_answer_time_is_a_400_on_at(alice_api):
    _, pk = _escalated(alice_api)
    response = alice_api.post(f"{ESCALATIONS}{pk}/responded/", {"at": "soon"}, format="json")
    assert response.status_code == 400
    assert "at" in response.json()
    assert VendorEscalation.objects.get(pk=pk).state == "open"


# --- lists --------------------------------------------------------------------------------------


def test_escalations_filter_by_state_vendor_incident_and_ticket(victor_api, alice_api):
    incident, pk = _escalated(alice_api)
    _, other = _escalated(alice_api)
    alice_api.post(f"{ESCALATIONS}{other}/withdraw/", {"note": "No longer needed"}, format="json")
    escalation = VendorEscalation.objects.get(pk=pk)

    def ids(params):
        return [e["id"] for e in victor_api.get(ESCALATIONS, params).json()["results"]]

    assert ids({"open": "true"}) == [pk]
    assert ids({"state": "canceled"}) == [other]
    assert ids({"vendor": escalation.vendor_id}) == [pk]
    assert ids({"incident": incident.pk}) == [pk]
    assert ids({"q": incident.number}) == [pk]


def test_an_incident_with_no_term_for_its_priority_gets_no_vendor_clock(alice_api):
    ci = CIFactory()
    contract = support_contract([ci], terms={})
    incident = open_incident(None, affected_cis=[ci])
    response = alice_api.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["sla"] == []
