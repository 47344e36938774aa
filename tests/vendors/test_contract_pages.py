"""The contract pages with Django's client: the list (filters, CSV), a contract's page (terms,
covered CIs, documents, reminders, escalations), the contract form (managers; terms as a row per
priority), document upload and download, the renewals due and the production CIs without
support — bad input shown on its field with nothing written."""

import datetime as dt
import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.factories import CIFactory, business_calendar
from tests.vendors.api_helpers import support_contract, today
from tests.vendors.factories import VendorFactory
from vendors.models import Contract, ContractDocument, ContractReminder

pytestmark = pytest.mark.django_db


def text_of(response):
    return html.unescape(response.content.decode())


def numbers(response):
    return [row[0].number for row in response.context["rows"]]


def contract_data(vendor, **overrides):
    data = {
        "vendor": vendor.pk,
        "title": "Core network support",
        "type": "support",
        "start_date": today().isoformat(),
        "end_date": (today() + dt.timedelta(days=365)).isoformat(),
        "renewal_months": 12,
        "notice_days": 30,
        "cost_amount": "1200.00",
        "currency": "eur",
        "billing_period": "yearly",
        "p1_response": 60,
        "p1_resolution": 240,
        "p3_response": 240,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_the_list_filters_by_vendor_and_running_today_and_exports_csv(client, alice):
    running = support_contract(title="Running")
    ended = support_contract(title="Ended", start=today() - dt.timedelta(days=400), end=today() - dt.timedelta(days=40))
    client.force_login(alice)
    response = client.get("/vendors/contracts/")
    assert response.status_code == 200
    assert sorted(numbers(response)) == sorted([running.number, ended.number])
    assert numbers(client.get("/vendors/contracts/", {"active": "true"})) == [running.number]
    assert numbers(client.get("/vendors/contracts/", {"vendor": ended.vendor_id})) == [ended.number]
    body = b"".join(client.get("/vendors/contracts/", {"export": "csv"}).streaming_content).decode()
    assert body.splitlines()[0].startswith("Number,Title,Vendor")
    assert running.number in body


def test_a_contract_page_shows_terms_covered_cis_documents_and_reminders(client, alice):
    contract = support_contract([CIFactory(name="core-switch-01")], title="Switch support")
    deadline = contract.notice_deadline
    ContractReminder.objects.create(contract=contract, kind="90", deadline=deadline, sent_at=timezone.now())
    client.force_login(alice)
    response = client.get(f"/vendors/contracts/{contract.pk}/")
    body = text_of(response)
    assert response.status_code == 200
    assert "core-switch-01" in body and "1 - Critical" in body and "60 min" in body
    assert "90 days before the notice deadline" in body
    assert f"/vendors/contracts/{contract.pk}/edit/" not in body and 'id="document-form"' not in body


def test_a_manager_creates_a_contract_with_terms_and_covered_cis(client, maria):
    vendor, ci = VendorFactory(), CIFactory()
    calendar = business_calendar()
    client.force_login(maria)
    assert client.get(f"/vendors/contracts/new/?vendor={vendor.pk}").context["form"]["vendor"].value() == vendor.pk
    response = client.post(
        "/vendors/contracts/new/", contract_data(vendor, covered_cis=[ci.pk], support_calendar=calendar.pk)
    )
    contract = Contract.objects.get()
    assert response["Location"] == f"/vendors/contracts/{contract.pk}/"
    assert contract.currency == "EUR" and list(contract.covered_cis.all()) == [ci]
    terms = {t.priority: (t.response_minutes, t.resolution_minutes) for t in contract.terms.all()}
    assert terms == {1: (60, 240), 3: (240, None)}


def test_editing_a_contract_replaces_its_terms(client, maria):
    contract = support_contract()
    client.force_login(maria)
    form = client.get(f"/vendors/contracts/{contract.pk}/edit/").context["form"]
    assert form["p2_response"].value() == 120 and "vendor" not in form.fields
    data = contract_data(contract.vendor, title="Renamed", p3_response=None, p1_resolution=None)
    del data["vendor"]
    response = client.post(f"/vendors/contracts/{contract.pk}/edit/", data)
    assert response.status_code == 302
    contract.refresh_from_db()
    assert contract.title == "Renamed"
    assert [(t.priority, t.response_minutes) for t in contract.terms.all()] == [(1, 60)]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end_date": today().isoformat()}, "end_date"),
        ({"cost_amount": "-5"}, "cost_amount"),
        ({"currency": "XYZ"}, "currency"),
    ],
)
def test_bad_contract_input_is_refused_on_its_field_and_nothing_is_written(client, maria, overrides, field):
    vendor = VendorFactory()
    client.force_login(maria)
    response = client.post("/vendors/contracts/new/", contract_data(vendor, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Contract.objects.exists()


def test_an_unknown_currency_is_named_on_the_field(client, maria):
    client.force_login(maria)
    response = client.post("/vendors/contracts/new/", contract_data(VendorFactory(), currency="XYZ"))
    assert response.context["form"].errors["currency"] == [
        "Unknown currency “XYZ”: an ISO 4217 code such as EUR or USD."
    ]


def test_agents_may_not_write_contracts(client, alice):
    contract = support_contract()
    client.force_login(alice)
    assert client.get("/vendors/contracts/new/").status_code == 403
    assert client.post(f"/vendors/contracts/{contract.pk}/edit/", contract_data(contract.vendor)).status_code == 403
    upload = SimpleUploadedFile("terms.pdf", b"%PDF-1.4 terms", content_type="application/pdf")
    assert client.post(f"/vendors/contracts/{contract.pk}/documents/", {"file": upload}).status_code == 403
    assert not ContractDocument.objects.exists()


def test_a_manager_uploads_a_document_that_others_download(client, maria, alice):
    contract = support_contract()
    client.force_login(maria)
    upload = SimpleUploadedFile("terms.pdf", b"%PDF-1.4 terms", content_type="application/pdf")
    response = client.post(f"/vendors/contracts/{contract.pk}/documents/", {"file": upload})
    assert response["Location"] == f"/vendors/contracts/{contract.pk}/#documents"
    document = ContractDocument.objects.get()
    client.force_login(alice)
    download = client.get(f"/vendors/contracts/documents/{document.pk}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.4 terms"
    assert "attachment" in download["Content-Disposition"]


def test_a_refused_document_is_said_on_the_form_and_nothing_is_stored(client, maria):
    contract = support_contract()
    client.force_login(maria)
    upload = SimpleUploadedFile("run.exe", b"MZ\x90\x00", content_type="application/x-msdownload")
    response = client.post(f"/vendors/contracts/{contract.pk}/documents/", {"file": upload})
    assert response.status_code == 400
    assert response.context["document_form"].errors
    assert not ContractDocument.objects.exists()


def test_the_renewals_page_lists_notice_deadlines_within_the_chosen_days(client, alice):
    soon = support_contract(title="Soon", end=today() + dt.timedelta(days=50), notice_days=30)
    later = support_contract(title="Later", end=today() + dt.timedelta(days=200), notice_days=30)
    client.force_login(alice)
    response = client.get("/vendors/contracts/renewals/")
    assert [c.number for c in response.context["contracts"]] == [soon.number]
    assert response.context["contracts"][0].days_left == 20
    wider = client.get("/vendors/contracts/renewals/", {"days": "180"})
    assert [c.number for c in wider.context["contracts"]] == [soon.number, later.number]
    assert client.get("/vendors/contracts/renewals/", {"days": "x"}).context["days"] == 90


def test_the_unsupported_page_lists_production_cis_no_support_contract_covers(client, alice):
    covered = CIFactory(name="covered-db", environment="production")
    bare = CIFactory(name="bare-db", environment="production")
    support_contract([covered])
    client.force_login(alice)
    response = client.get("/vendors/unsupported-cis/")
    names = [ci.name for ci in response.context["cis"]]
    assert "bare-db" in names and "covered-db" not in names
    assert bare.get_absolute_url() in text_of(response)
