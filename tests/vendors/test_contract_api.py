"""``/api/v1/vendors/contracts/``: everyone reads, only managers write contracts and their costs;
every bad input of the issue is a 400 naming the field and writes nothing; documents; renewals."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from itom.models import ObjectChange
from tests.api_testing import APIEndpointTests
from tests.factories import CIFactory, business_calendar, open_incident
from tests.vendors.api_helpers import CONTRACTS, ESCALATIONS, support_contract, today
from tests.vendors.factories import ContractFactory, VendorFactory
from vendors.api.views import ContractViewSet
from vendors.models import Contract, ContractDocument, ContractTerm

pytestmark = pytest.mark.django_db


def _contract_data():
    start = today()
    return {
        "vendor": VendorFactory().pk,
        "title": "Storage array support",
        "type": "support",
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=365)).isoformat(),
        "cost_amount": "1200.00",
        "currency": "EUR",
        "billing_period": "yearly",
        "terms": [{"priority": 1, "response_minutes": 60, "resolution_minutes": 240}],
    }


def written():
    """What a refused request must leave untouched."""
    return (Contract.objects.count(), ContractTerm.objects.count(), ObjectChange.objects.count())


class TestContractAPI(APIEndpointTests):
    viewset = ContractViewSet
    url_name = "api:vendor-contract"
    make_object = staticmethod(lambda: support_contract(terms={}))
    create_data = staticmethod(_contract_data)
    update_data = {"title": "Storage array support (gold)"}
    invalid_data = {"currency": "XYZ"}
    max_list_queries = 10


# --- writing ------------------------------------------------------------------------------------


def test_a_contract_is_written_with_its_terms_cis_owner_and_calendar(maria_api, alice):
    db, web = CIFactory(name="db-01"), CIFactory(name="web-01")
    calendar = business_calendar(name="Vendor hours")
    payload = {
        **_contract_data(),
        "currency": "usd",
        "owner": alice.username,
        "covered_cis": [web.pk, db.pk],
        "support_calendar": calendar.name,
        "terms": [
            {"priority": 2, "response_minutes": 120, "resolution_minutes": 480},
            {"priority": 1, "response_minutes": 30, "resolution_minutes": None},
        ],
    }
    response = maria_api.post(CONTRACTS, payload, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("CTR")
    assert body["currency"] == "USD"
    assert body["owner"]["username"] == alice.username
    assert [ci["name"] for ci in body["covered_cis"]] == ["db-01", "web-01"]
    assert body["support_calendar"] == {"id": calendar.pk, "name": "Vendor hours"}
    assert sorted((t["priority"], t["response_minutes"], t["resolution_minutes"]) for t in body["terms"]) == [
        (1, 30, None),
        (2, 120, 480),
    ]
    assert body["active"] is True
    assert dt.date.fromisoformat(body["notice_deadline"]) == dt.date.fromisoformat(body["end_date"]) - dt.timedelta(
        days=body["notice_days"]
    )


def test_terms_given_on_an_edit_replace_the_terms(maria_api):
    contract = support_contract()
    terms = [{"priority": 3, "response_minutes": 15, "resolution_minutes": 60}]
    response = maria_api.patch(f"{CONTRACTS}{contract.pk}/", {"terms": terms}, format="json")
    assert response.status_code == 200, response.content
    assert [(t.priority, t.response_minutes) for t in contract.terms.all()] == [(3, 15)]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_date": (dt.date(2026, 1, 1)).isoformat(), "start_date": "2026-06-01"}, "end_date"),
        ({"end_date": "2026-06-01", "start_date": "2026-06-01"}, "end_date"),
        ({"cost_amount": "-5.00"}, "cost_amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"terms": [{"priority": 1, "response_minutes": 60}, {"priority": 1, "response_minutes": 30}]}, "terms"),
        ({"terms": [{"priority": 9, "response_minutes": 60}]}, "terms"),
        ({"type": "handshake"}, "type"),
        ({"billing_period": "hourly"}, "billing_period"),
        ({"vendor": 999999}, "vendor"),
        ({"covered_cis": [999999]}, "covered_cis"),
    ],
)
def test_bad_input_on_creation_is_a_400_naming_the_field_and_writes_nothing(maria_api, change, field):
    payload = {**_contract_data(), **change}
    before = written()
    response = maria_api.post(CONTRACTS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert written() == before


def test_an_unknown_currency_says_what_is_expected(maria_api):
    response = maria_api.post(CONTRACTS, {**_contract_data(), "currency": "XYZ"}, format="json")
    assert "ISO 4217" in response.json()["currency"][0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"end_date": "2000-01-01"}, "end_date"),
        ({"cost_amount": "-0.01"}, "cost_amount"),
        ({"currency": "ABC"}, "currency"),
        ({"vendor": "Someone else"}, "vendor"),
    ],
)
def test_bad_input_on_an_edit_is_a_400_naming_the_field_and_changes_nothing(maria_api, change, field):
    contract = support_contract(cost_amount=100, currency="EUR")
    VendorFactory(name="Someone else")
    before = written()
    response = maria_api.patch(f"{CONTRACTS}{contract.pk}/", change, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert written() == before
    fresh = Contract.objects.get(pk=contract.pk)
    assert (fresh.end_date, fresh.cost_amount, fresh.currency, fresh.vendor_id) == (
        contract.end_date,
        contract.cost_amount,
        contract.currency,
        contract.vendor_id,
    )


def test_a_missing_field_on_creation_is_a_400_naming_it(maria_api):
    data = _contract_data()
    del data["end_date"], data["title"]
    response = maria_api.post(CONTRACTS, data, format="json")
    assert response.status_code == 400
    assert {"end_date", "title"} <= set(response.json())


def test_agents_cannot_create_edit_or_delete_contracts_or_change_their_costs(alice_api, bob_api):
    contract = support_contract(cost_amount=100)
    payload = _contract_data()
    before = written()
    for client in (alice_api, bob_api):
        assert client.post(CONTRACTS, payload, format="json").status_code == 403
        assert client.patch(f"{CONTRACTS}{contract.pk}/", {"cost_amount": "1.00"}, format="json").status_code == 403
        assert client.delete(f"{CONTRACTS}{contract.pk}/").status_code == 403
    assert written() == before


@pytest.fixture
def bob_api(bob):
    from tests.conftest import token_client

    return token_client(bob)


def test_a_contract_escalations_refer_to_cannot_be_deleted(maria_api, alice_api):
    ci = CIFactory()
    contract = support_contract([ci])
    incident = open_incident(None, affected_cis=[ci])
    assert alice_api.post(ESCALATIONS, {"incident": incident.pk, "contract": contract.pk}).status_code == 201
    response = maria_api.delete(f"{CONTRACTS}{contract.pk}/")
    assert response.status_code == 409
    assert Contract.objects.filter(pk=contract.pk).exists()


# --- reading and filters ------------------------------------------------------------------------


def test_contracts_filter_by_vendor_type_activity_end_ci_and_owner(victor_api, alice):
    ci = CIFactory()
    vendor = VendorFactory(name="Acme")
    running = support_contract([ci], vendor=vendor, title="Running", owner=alice)
    ended = support_contract(
        title="Ended", start=today() - dt.timedelta(days=400), end=today() - dt.timedelta(days=10), calendar=False
    )
    licence = ContractFactory(
        title="Licence",
        type="licence",
        start_date=today() - dt.timedelta(days=10),
        end_date=today() + dt.timedelta(days=20),
    )

    def numbers(params):
        body = victor_api.get(CONTRACTS, params).json()
        return sorted(c["number"] for c in body["results"])

    assert numbers({"vendor": vendor.pk}) == [running.number]
    assert numbers({"type": "licence"}) == [licence.number]
    assert running.number in numbers({"active": "true"}) and ended.number not in numbers({"active": "true"})
    assert numbers({"active": "false", "q": "Ended"}) == [ended.number]
    soon = (today() + dt.timedelta(days=30)).isoformat()
    assert numbers({"ending_before": soon, "ending_after": today().isoformat()}) == [licence.number]
    assert numbers({"ci": ci.pk}) == [running.number]
    assert numbers({"owner": alice.pk}) == [running.number]


def test_a_malformed_filter_is_a_400_naming_it(victor_api):
    response = victor_api.get(CONTRACTS, {"ending_before": "soon"})
    assert response.status_code == 400
    assert "ending_before" in response.json()


# --- documents ----------------------------------------------------------------------------------


def test_managers_attach_documents_and_everyone_downloads_them(maria_api, victor_api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    contract = support_contract()
    upload = SimpleUploadedFile("terms.pdf", b"%PDF-1.4 signed terms", content_type="application/pdf")
    response = maria_api.post(f"{CONTRACTS}{contract.pk}/documents/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    document = response.json()
    assert (document["name"], document["content_type"], document["size"]) == ("terms.pdf", "application/pdf", 21)
    listed = victor_api.get(f"{CONTRACTS}{contract.pk}/documents/").json()
    assert [d["id"] for d in listed["results"]] == [document["id"]]
    download = victor_api.get(document["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 signed terms"
    assert victor_api.get(f"{CONTRACTS}{contract.pk}/documents/999999/").status_code == 404


def test_a_document_of_a_refused_type_or_from_an_agent_is_not_stored(maria_api, alice_api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    contract = support_contract()
    script = SimpleUploadedFile("run.sh", b"#!/bin/sh\nrm -rf /", content_type="application/x-sh")
    response = maria_api.post(f"{CONTRACTS}{contract.pk}/documents/", {"file": script}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()
    pdf = SimpleUploadedFile("terms.pdf", b"%PDF-1.4", content_type="application/pdf")
    assert alice_api.post(f"{CONTRACTS}{contract.pk}/documents/", {"file": pdf}, format="multipart").status_code == 403
    assert not ContractDocument.objects.exists()


# --- renewals -----------------------------------------------------------------------------------


def test_renewals_lists_contracts_whose_notice_deadline_is_near_soonest_first(victor_api):
    later = support_contract(title="Later", end=today() + dt.timedelta(days=80), notice_days=30, calendar=False)
    sooner = support_contract(title="Sooner", end=today() + dt.timedelta(days=40), notice_days=30, calendar=False)
    support_contract(title="Far", end=today() + dt.timedelta(days=400), notice_days=30, calendar=False)
    body = victor_api.get(f"{CONTRACTS}renewals/").json()
    assert [c["number"] for c in body["results"]] == [sooner.number, later.number]
    narrow = victor_api.get(f"{CONTRACTS}renewals/", {"days": 20}).json()
    assert [c["number"] for c in narrow["results"]] == [sooner.number]


@pytest.mark.parametrize("days", ["-1", "soon", "99999"])
def test_a_malformed_renewal_window_is_a_400_on_days(victor_api, days):
    response = victor_api.get(f"{CONTRACTS}renewals/", {"days": days})
    assert response.status_code == 400
    assert "days" in response.json()
